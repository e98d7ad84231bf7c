"""Constraint counts per statement and per fill, test and production profiles.

    uv run python -m benchmarks.constraints [--profiles test production] [--json]
        [--statements health_sweep liquidate]

Compiles only (cached in the artifact cache; a production compile takes about
a minute per statement the first time). Per-fill figures divide settle_fills'
count by its group_fills (so the fee-account update and the public-input
checks are shared out); per_op divides order_ops by its op slots (the
once-per-order signature check); per_account divides solvency_walk by its
chunk's accounts. The baseline column compares with
Loopring's ~130,000 constraints per trade as published. ``--json`` prints
``{statement: {profile: {"constraints": N, "per_fill": M}}}`` on stdout
instead of the table.

Production budgets (``PRODUCTION_BUDGETS``, ``PER_FILL_BUDGET``) are checked
here, not in the test suite (a production compile takes about a minute per
statement; tests budget the ``test`` profile): a production count over its
budget, or a statement that no longer fits the shared 2^16
development powers of tau, is printed and the run exits 1.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from benchmarks.common import print_table, write_json
from prover import circuits, toolchain
from prover.r1cs import read_r1cs_header

LOOPRING_PER_TRADE = 130_000

# Production budgets of the recycling-order statements, ~5% above the counts
# measured with circom 2.2.3 --O2 at production depth (2^20 accounts as 10
# quaternary levels, 4 markets, 16 order slots per account): settle_fills with
# 2 fills 52,972 (26,486 per fill including the group's fee-account update;
# one fill alone 30,840); order_ops with 4 ops 58,213 (14,554 per op; with public places);
# account_update 13,524; solvency_walk 26,416 (16 accounts per chunk);
# health_sweep 25,018 (16 accounts per chunk); liquidate 19,491;
# deleverage 26,192 (one ADL trade: fund, bankrupt and counterparty leaves);
# adl_walk 33,666 (ADL ranking completeness, 16 accounts per chunk). All
# must stay within the shared 2^16 development powers of tau.
PRODUCTION_BUDGETS = {
    "settle_fills": 56_000,
    "order_ops": 61_000,
    "account_update": 14_200,
    "solvency_walk": 27_800,
    "health_sweep": 26_300,
    "liquidate": 20_500,
    "deleverage": 27_500,
    "adl_walk": 35_400,
}
PER_FILL_BUDGET = 30_000
SHARED_PTAU_POWER = 16


def run(
    profiles: Sequence[str], statements: Sequence[str] | None = None
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for profile in profiles:
        params = circuits.load_params(profile)
        for statement in statements or circuits.STATEMENTS:
            r1cs_path, count = circuits.compile_statement(statement, profile)
            row: dict[str, object] = {
                "profile": profile,
                "statement": statement,
                "constraints": count,
                "ptau_power": read_r1cs_header(r1cs_path).required_ptau_power,
            }
            if profile == "production" and statement in PRODUCTION_BUDGETS:
                row["budget"] = PRODUCTION_BUDGETS[statement]
            if statement == "settle_fills":
                per_fill = -(-count // params.group_fills)
                row["per_fill"] = per_fill
                row["vs_loopring"] = f"{per_fill / LOOPRING_PER_TRADE:.2f}x"
            if statement == "order_ops":
                row["per_op"] = -(-count // params.op_slots)
            if statement in ("solvency_walk", "adl_walk"):
                row["per_account"] = count // 4**params.chunk_levels
            rows.append(row)
    return rows


def over_budget(rows: Sequence[dict[str, object]]) -> list[str]:
    """One line per production budget broken in ``rows`` (empty: all within budget)."""
    problems: list[str] = []
    for row in rows:
        if row["profile"] != "production" or row["statement"] not in PRODUCTION_BUDGETS:
            continue
        name, count = row["statement"], int(str(row["constraints"]))
        if count > PRODUCTION_BUDGETS[str(name)]:
            problems.append(
                f"{name}: {count:,} constraints, budget {PRODUCTION_BUDGETS[str(name)]:,}"
            )
        power = int(str(row["ptau_power"]))
        if power > SHARED_PTAU_POWER:
            problems.append(
                f"{name}: needs a 2^{power} ptau, beyond the shared 2^{SHARED_PTAU_POWER}"
            )
        if "per_fill" in row and int(str(row["per_fill"])) > PER_FILL_BUDGET:
            problems.append(
                f"{name}: {row['per_fill']:,} constraints per fill, budget {PER_FILL_BUDGET:,}"
            )
    return problems


def as_nested(rows: Sequence[dict[str, object]]) -> dict[str, dict[str, dict[str, object]]]:
    """``{statement: {profile: {"constraints": N, ["per_fill": M], ...}}}``."""
    nested: dict[str, dict[str, dict[str, object]]] = {}
    for row in rows:
        figures = {
            k: v
            for k, v in row.items()
            if k in ("constraints", "per_fill", "per_op", "per_account")
        }
        nested.setdefault(str(row["statement"]), {})[str(row["profile"])] = figures
    return nested


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", nargs="+", default=["test", "production"])
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--statements",
        nargs="+",
        choices=circuits.STATEMENTS,
        help="only these (default: all)",
    )
    args = parser.parse_args(argv)
    rows = run(args.profiles, args.statements)
    problems = over_budget(rows)
    if args.json:
        print(json.dumps(as_nested(rows), indent=2, sort_keys=True))
    else:
        print_table(
            rows,
            [
                "profile",
                "statement",
                "constraints",
                "budget",
                "ptau_power",
                "per_fill",
                "per_op",
                "vs_loopring",
                "per_account",
            ],
        )
        path = write_json("constraints", {"rows": rows}, tool_versions=toolchain.tool_versions())
        print(f"wrote {path}")
    for problem in problems:
        print(f"OVER BUDGET: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
