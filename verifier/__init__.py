"""darkpool verifier: the trust root.

Pure Python + py_ecc. Field arithmetic, Poseidon, Baby Jubjub EdDSA-Poseidon,
Merkle trees, public-input encoding, Groth16 verification, ledger replay and
the ``darkpool-verify`` CLI.

This package must never import ``prover`` or ``exchange``, FastAPI, SQLModel,
or run Node: a user installs and runs it alone. ``tests/verifier`` enforces it.
"""
