"""CI helper: build the test profile's circuits on the second core while lint and tests run.

``.ci/run`` starts this in the background after ``make setup``. A key setup is
a single-threaded snarkjs run of up to ~3 minutes on a cold cache, and
pytest meets them one after another in ``tests/circuits/``. Here they are
built in the REVERSE of the order pytest first needs them (its circuit test
files run alphabetically, ``test_<statement>.py``), so the two processes
work from opposite ends of the list: the cache builds every entry once under
a lock, and a test needing an entry in progress waits for it instead of
building it twice. Nothing here is required: a failure prints one line and
the test that needs the circuit builds it (and reports the error) itself.

    uv run python scripts/ci_prebuild.py [--profile test]
"""

import argparse
import sys
import time
from collections.abc import Callable, Sequence


def plan(statements: Sequence[str], staged: Sequence[str]) -> list[tuple[str, bool]]:
    """(statement, with keys) in build order: staged compiles first (their circuit tests
    need only the r1cs; test_constraint_budget compiles them early), then the live
    statements' keys, last alphabetically first (tests/circuits meets them from the
    front), then the staged statements' keys, which the slots ledgers of tests/exchange
    and tests/verifier need later (a slots genesis pins every staged key)."""
    compiles = [(s, False) for s in sorted(staged, reverse=True)]
    keys = [(s, True) for s in sorted(statements, reverse=True)]
    staged_keys = [(s, True) for s in sorted(staged)]
    return compiles + keys + staged_keys


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="test")
    args = parser.parse_args(argv)
    from prover import circuits

    started = time.perf_counter()
    for statement, keyed in plan(circuits.STATEMENTS, circuits.STAGED_STATEMENTS):
        step: Callable[[str, str], object] = (
            circuits.build_statement if keyed else circuits.compile_statement
        )
        t0 = time.perf_counter()
        try:
            step(statement, args.profile)
        except Exception as exc:  # the test that needs it rebuilds and reports it
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"ci_prebuild: {statement} failed: {first}", file=sys.stderr, flush=True)
            continue
        what = "compile + keys" if keyed else "compile"
        print(
            f"ci_prebuild: {statement} {what} ready after {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
    print(f"ci_prebuild: done in {time.perf_counter() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
