"""Child process for ``prover.backends.Groth16pyProver``: ``python -m prover.groth16py_child ZKEY WTNS OUT``.

The only darkpool module that imports ``groth16py`` (GPL-3.0), and it is run
only as a separate process by ``prover.backends``, never imported by it, so
no GPL code is loaded into darkpool's own processes. Reads the snarkjs
``.zkey`` and the circom ``.wtns``, proves with arkworks and writes the
256-byte Ethereum-layout proof to OUT. Exit 0 on success; otherwise one line
on stderr and exit 1.
"""

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m prover.groth16py_child ZKEY WTNS OUT", file=sys.stderr)
        return 2
    zkey, wtns, out = argv
    try:
        import groth16py  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(
            "groth16py is not installed: `uv sync --extra groth16py` (or DARKPOOL_PROVER=snarkjs)",
            file=sys.stderr,
        )
        return 1
    try:
        pk, _vk = groth16py.import_zkey(zkey)
        blob = groth16py.prove_wtns(pk, wtns)
    except Exception as exc:  # one line for the parent, whatever the binding raises
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    Path(out).write_bytes(bytes(blob))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
