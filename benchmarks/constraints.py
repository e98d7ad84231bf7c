"""Constraint counts per statement and per fill, test and production profiles.

    uv run python -m benchmarks.constraints [--profiles test production]

Compiles only (cached in the artifact cache; the production settle_batch
compile takes minutes and ~2 GB the first time). Per-fill figures divide the
settle_batch count by its fill slots; the baseline column compares with
Loopring's ~130,000 constraints per trade as published.
"""

import argparse
from collections.abc import Sequence

from benchmarks.common import print_table, write_json
from prover import circuits, toolchain

LOOPRING_PER_TRADE = 130_000


def run(profiles: Sequence[str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for profile in profiles:
        params = circuits.load_params(profile)
        for statement in circuits.STATEMENTS:
            _, count = circuits.compile_statement(statement, profile)
            row: dict[str, object] = {
                "profile": profile,
                "statement": statement,
                "constraints": count,
            }
            if statement == "settle_batch":
                per_fill = count // params.fill_slots
                row["per_fill"] = per_fill
                row["vs_loopring"] = f"{per_fill / LOOPRING_PER_TRADE:.2f}x"
            if statement == "solvency_chunk":
                row["per_account"] = count // params.chunk_size
            rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", nargs="+", default=["test", "production"])
    args = parser.parse_args(argv)
    rows = run(args.profiles)
    print_table(
        rows, ["profile", "statement", "constraints", "per_fill", "vs_loopring", "per_account"]
    )
    path = write_json("constraints", {"rows": rows}, tool_versions=toolchain.tool_versions())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
