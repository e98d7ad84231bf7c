"""Constraint counts per statement and per fill, test and production profiles.

    uv run python -m benchmarks.constraints [--profiles test production] [--json]
        [--statements health_sweep liquidate]

Compiles only (cached in the artifact cache; the production settle_batch
compile takes minutes and ~2 GB the first time). Per-fill figures divide a
settle statement's count by its fill slots (settle_batch: fill_slots;
settle_fills: group_fills, so the fee-account update and the public-input
checks are shared out); per_op divides order_ops by its op slots (the
once-per-order signature check). The baseline column compares with
Loopring's ~130,000 constraints per trade as published. ``--json`` prints
``{statement: {profile: {"constraints": N, "per_fill": M}}}`` on stdout
instead of the table.
"""

import argparse
import json
from collections.abc import Sequence

from benchmarks.common import print_table, write_json
from prover import circuits, toolchain

LOOPRING_PER_TRADE = 130_000


def run(
    profiles: Sequence[str], statements: Sequence[str] | None = None
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for profile in profiles:
        params = circuits.load_params(profile)
        for statement in statements or circuits.STATEMENTS + circuits.STAGED_STATEMENTS:
            _, count = circuits.compile_statement(statement, profile)
            row: dict[str, object] = {
                "profile": profile,
                "statement": statement,
                "constraints": count,
            }
            slots = {"settle_batch": params.fill_slots, "settle_fills": params.group_fills}
            if statement in slots:
                per_fill = -(-count // slots[statement])
                row["per_fill"] = per_fill
                row["vs_loopring"] = f"{per_fill / LOOPRING_PER_TRADE:.2f}x"
            if statement == "order_ops":
                row["per_op"] = -(-count // params.op_slots)
            if statement == "solvency_chunk":
                row["per_account"] = count // params.chunk_size
            rows.append(row)
    return rows


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
    everything = circuits.STATEMENTS + circuits.STAGED_STATEMENTS
    parser.add_argument(
        "--statements", nargs="+", choices=everything, help="only these (default: all)"
    )
    args = parser.parse_args(argv)
    rows = run(args.profiles, args.statements)
    if args.json:
        print(json.dumps(as_nested(rows), indent=2, sort_keys=True))
        return
    print_table(
        rows,
        ["profile", "statement", "constraints", "per_fill", "per_op", "vs_loopring", "per_account"],
    )
    path = write_json("constraints", {"rows": rows}, tool_versions=toolchain.tool_versions())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
