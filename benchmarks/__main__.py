"""Run every benchmark and write benchmarks/results/summary.md.

    uv run python -m benchmarks [--quick]

Runs, in order: constraints (test + production profiles), prove, verify and
matching, each writing its own results/<name>.json, then renders those JSON
files as markdown tables with each figure's baseline ratio. ``--quick``
skips production-profile work (the production compiles and setups) and
uses fewer proofs for the verify benchmark. Reports numbers only; never
asserts on timings.
"""

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks import constraints, matching, prove, verify
from benchmarks.common import RESULTS_DIR, format_seconds

QUICK_VERIFY_PROOFS = 8
FULL_VERIFY_PROOFS = 32


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format_seconds(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
        *("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows),
    ]
    return "\n".join(lines)


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def _constraints_section(data: Mapping[str, Any]) -> str:
    table = markdown_table(
        data.get("rows", []),
        ["profile", "statement", "constraints", "per_fill", "vs_loopring", "per_account"],
    )
    return (
        "## Constraints\n\n"
        f"{table}\n\n"
        f"Baseline: Loopring's published ~{constraints.LOOPRING_PER_TRADE:,} constraints per "
        "trade; `vs_loopring` = our settle constraints per fill slot / that figure "
        "(lower is better; per fill slot includes a share of the per-batch fee update).\n"
    )


def _prove_section(data: Mapping[str, Any]) -> str:
    table = markdown_table(prove.rows(data), prove.COLUMNS)
    return (
        "## Proving (median seconds)\n\n"
        f"{table}\n\n"
        "Baseline: `snarkjs groth16 fullprove` on the same input JSON; `vs fullprove` = "
        "our path (Python witness builder + wasm witness + `snarkjs groth16 prove`) / "
        "fullprove (lower is better). `verify (py_ecc)` is our pure-Python verifier "
        "(proof parsing included, key prepared once); its baseline is `snarkjs verify` "
        "(CLI, includes Node start-up).\n"
    )


def _verify_section(data: Mapping[str, Any]) -> str:
    per = data.get("per_proof_seconds", {})
    snarkjs = per.get("snarkjs_cli", {}).get("median")
    rows = []
    for key, timing in per.items():
        median = timing.get("median")
        ratio = (
            f"{median / snarkjs:.2f}x"
            if isinstance(median, float) and isinstance(snarkjs, float)
            else None
        )
        rows.append(
            {
                "operation": key,
                "median/proof": median,
                "best/proof": timing.get("best"),
                "vs snarkjs CLI": ratio,
            }
        )
    circuit = data.get("circuit", {})
    return (
        "## Verification (per proof)\n\n"
        f"Circuit {circuit.get('name')} ({circuit.get('constraints')} constraints, "
        f"{circuit.get('n_public')} public signals), {data.get('n_proofs')} proofs.\n\n"
        f"{markdown_table(rows, ['operation', 'median/proof', 'best/proof', 'vs snarkjs CLI'])}"
        "\n\nBaseline: `snarkjs groth16 verify` CLI per proof (includes Node start-up); "
        "ratio = ours / snarkjs (lower is better).\n"
    )


def _matching_section(data: Mapping[str, Any]) -> str:
    rows = [{**r, "best": r.get("best_s"), "median": r.get("median_s")} for r in data["results"]]
    table = markdown_table(
        rows,
        ["scenario", "orders", "fills", "margin_limited", "median", "orders_per_s", "fills_per_s"],
    )
    return (
        "## Matching engine\n\n"
        f"{table}\n\n"
        "Baseline: none external (pure in-process matching; no comparable public "
        "engine runs here), so no ratio is given.\n"
    )


def render_summary(quick: bool) -> str:
    parts = [
        "# darkpool benchmarks\n",
        f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} by "
        f"`uv run python -m benchmarks{' --quick' if quick else ''}`. "
        "Per-benchmark JSON (with machine info) is next to this file.\n",
    ]
    sections = (
        ("constraints", _constraints_section),
        ("prove", _prove_section),
        ("verify", _verify_section),
        ("matching", _matching_section),
    )
    for name, render in sections:
        data = _load(name)
        parts.append(render(data) if data else f"## {name}\n\nno results ({name}.json missing)\n")
    machine = (_load("prove") or {}).get("machine")
    if machine:
        parts.append(f"## Machine\n\n```\n{json.dumps(machine, indent=1)}\n```\n")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="skip production-profile work")
    args = parser.parse_args(argv)
    quick: bool = args.quick

    print("== constraints")
    constraints.main(["--profiles", "test"] if quick else ["--profiles", "test", "production"])
    print("\n== prove")
    prove.main(["--quick"] if quick else [])
    print("\n== verify")
    proofs = QUICK_VERIFY_PROOFS if quick else FULL_VERIFY_PROOFS
    verify.main(["--proofs", str(proofs)])
    print("\n== matching")
    matching.main()

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "summary.md"
    path.write_text(render_summary(quick))
    print(f"\nsummary written to {path}")


if __name__ == "__main__":
    main()
