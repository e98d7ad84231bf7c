"""CI helper: build the test profile's circuits on the second core while lint and tests run.

``.ci/run`` starts this in the background after ``make setup``. A key setup is
a single-threaded snarkjs run of up to a few minutes on a cold cache. First
the statements are compiled in the REVERSE of the order pytest's circuit tests
(``tests/circuits/``, alphabetical, compile only) first meet them, so the two
processes work from opposite ends of the list; then their keys are set up in
the order the service builds them (``STATEMENTS``): the first tests
that need keys start a ``darkpool serve`` (tests/client) or build the shared
slots ledger (tests/conftest.py), and both need every key. The cache builds
every entry once under a lock, and a test needing an entry in progress waits
for it instead of building it twice. Nothing here is required: a failure
prints one line and the test that needs the circuit builds it (and reports
the error) itself.

    uv run python scripts/ci_prebuild.py [--profile test]
"""

import argparse
import sys
import time
from collections.abc import Callable, Sequence


def plan(statements: Sequence[str]) -> list[tuple[str, bool]]:
    """(statement, with keys) in build order: every compile first, last alphabetically
    first (tests/circuits meets them from the front), then every key in ``statements``'
    order (the order the service sets them up)."""
    compiles = [(s, False) for s in sorted(statements, reverse=True)]
    return compiles + [(s, True) for s in statements]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="test")
    args = parser.parse_args(argv)
    from prover import circuits

    started = time.perf_counter()
    for statement, keyed in plan(circuits.STATEMENTS):
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
