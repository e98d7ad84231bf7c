"""Helpers the statement-circuit tests share: real proofs, fake accounts, declared inputs.

``prove(artifacts, inputs)`` proves with the toolchain and parses the public
signals; ``verification_key`` prepares the circuit's key; ``fake_account``
is the account factory of the chunk and liquidation tests;
``declared_public_inputs`` reads a template's public inputs from its source;
``tree_root`` is the account tree root of a list of (optional) accounts;
``prove_each`` proves witnesses and checks each proof against its own public inputs.
(Witness and tampering helpers: ``tests/circuits/conftest.py``.)

Test code only: never imported by library code.
"""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from prover import toolchain
from verifier import groth16
from verifier.encoding import AccountState
from verifier.merkle import MerkleTree

__all__ = [
    "declared_public_inputs",
    "fake_account",
    "prove",
    "prove_each",
    "tree_root",
    "verification_key",
]


def fake_account(
    i: int,
    balance: int,
    positions: tuple[int, ...],
    *,
    nonce: int | None = None,
    blinding: int = 0,
) -> AccountState:
    """Account ``i`` with distinct fake keys (1000 + i, 2000 + i) and blinding per index.

    ``nonce`` defaults to ``i``; ``blinding`` 0 means ``(i + 1) * 0x1234567890ABCDEF``.
    """
    return AccountState(
        pub_x=1000 + i,
        pub_y=2000 + i,
        balance=balance,
        positions=positions,
        nonce=i if nonce is None else nonce,
        blinding=blinding or (i + 1) * 0x1234567890ABCDEF,
    )


def declared_public_inputs(circuit: Path, template: str, private_marker: str) -> list[str]:
    """Names of the ``signal input``s of ``template`` in ``circuit`` declared before the
    comment ``private_marker`` (the public inputs, in declaration order)."""
    body = circuit.read_text().split(f"template {template}(", 1)[1]
    return re.findall(r"signal input (\w+)", body.split(private_marker, 1)[0])


def verification_key(artifacts: toolchain.CircuitArtifacts) -> groth16.PreparedVerificationKey:
    """The circuit's verification key, prepared for the current backend."""
    return groth16.prepare(groth16.VerificationKey.from_snarkjs(artifacts.verification_key()))


def prove(
    artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]
) -> tuple[groth16.Proof, list[int]]:
    """A real proof of ``inputs`` and its parsed public signals (``artifacts.n_public`` of them)."""
    proof_json, public = toolchain.prove_inputs(artifacts, dict(inputs))
    values = groth16.parse_public_signals(public, artifacts.n_public)
    return groth16.Proof.from_snarkjs(proof_json), values


class Witness(Protocol):
    def to_circuit_inputs(self) -> dict[str, object]: ...

    def public_inputs(self) -> list[int]: ...


def prove_each(
    artifacts: toolchain.CircuitArtifacts,
    vk: groth16.PreparedVerificationKey,
    witnesses: Sequence[Witness],
) -> list[tuple[groth16.Proof, list[int]]]:
    """A real proof per witness; asserts its public signals are the witness's
    ``public_inputs()`` and that it verifies under ``vk``."""
    proofs = []
    for w in witnesses:
        proof, values = prove(artifacts, w.to_circuit_inputs())
        assert values == w.public_inputs()
        assert groth16.verify(vk, proof, values)
        proofs.append((proof, values))
    return proofs


def tree_root(accounts: Sequence[AccountState | None], depth: int) -> int:
    """Root of the depth-``depth`` account tree holding ``accounts[i]`` at index i (None = empty)."""
    tree = MerkleTree(depth)
    for i, a in enumerate(accounts):
        if a is not None:
            tree.update(i, a.leaf())
    return tree.root
