"""Shared helpers for statement-circuit tests: honest witnesses and tampering.

``tamper_check(artifacts, inputs, signal_name, new_value)`` computes the honest
witness for ``inputs`` with the circuit's own witness generator, changes ONE
signal's value (by its ``.sym`` name, ``main.`` prefix optional), and returns
the indices of the R1CS constraints the tampered witness violates. An empty
list means the circuit does not constrain that signal — an under-constrained
circuit. Parsed r1cs files and honest witnesses are cached per process, and
the honest witness is fully checked once; each tamper then evaluates only the
constraints that mention the changed wire (the others cannot change), so many
tamper tests on one circuit are cheap.

``prove(artifacts, inputs)`` proves with the toolchain and parses the public
signals; ``fake_account`` and ``declared_public_inputs`` are the account
factory and the circuit-declaration reader the statement tests share.

Test code only: never imported by library code.
"""

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from prover import r1cs, toolchain
from verifier import groth16
from verifier.encoding import AccountState

__all__ = [
    "declared_public_inputs",
    "fake_account",
    "honest_witness",
    "load_r1cs",
    "prove",
    "symbols",
    "tamper_check",
    "unsatisfied",
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


@cache
def load_r1cs(path: Path) -> r1cs.R1CS:
    """Parsed constraint system (cached by path; cache entries are immutable)."""
    return r1cs.read_r1cs(path)


@cache
def symbols(path: Path) -> r1cs.SymbolTable:
    """Parsed ``.sym`` signal map (cached by path)."""
    return r1cs.SymbolTable.load(path)


def _inputs_key(artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]) -> str:
    encoded = json.dumps(
        {str(k): _jsonable(v) for k, v in inputs.items()}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(f"{artifacts.key}\n{encoded}".encode()).hexdigest()


def _jsonable(value: object) -> object:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


_WITNESSES: dict[str, r1cs.Witness] = {}


def honest_witness(
    artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]
) -> r1cs.Witness:
    """The witness the circuit's generator computes for ``inputs`` (cached per inputs).

    Raises prover.errors.WitnessError if the generator rejects the inputs.
    """
    key = _inputs_key(artifacts, inputs)
    if key not in _WITNESSES:
        with tempfile.TemporaryDirectory(prefix="darkpool-tamper-") as tmp:
            wtns = toolchain.witness(artifacts, inputs, Path(tmp) / "honest.wtns")
            _WITNESSES[key] = r1cs.read_wtns(wtns)
    return _WITNESSES[key]


def unsatisfied(artifacts: toolchain.CircuitArtifacts, witness: r1cs.Witness) -> list[int]:
    """Indices of the constraints of ``artifacts`` that ``witness`` violates."""
    return r1cs.check_r1cs(load_r1cs(artifacts.r1cs), witness)


@cache
def _constraints_by_wire(path: Path) -> dict[int, tuple[int, ...]]:
    """wire -> indices of the constraints whose A, B or C mentions it."""
    uses: dict[int, list[int]] = {}
    for index, c in enumerate(load_r1cs(path).constraints):
        for wire in {w for lc in (c.a, c.b, c.c) for w, _ in lc}:
            uses.setdefault(wire, []).append(index)
    return {wire: tuple(indices) for wire, indices in uses.items()}


_HONEST_OK: set[str] = set()


def _require_honest_ok(artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]) -> None:
    key = _inputs_key(artifacts, inputs)
    if key not in _HONEST_OK:
        bad = unsatisfied(artifacts, honest_witness(artifacts, inputs))
        if bad:
            raise AssertionError(f"the honest witness violates constraints {bad[:10]}")
        _HONEST_OK.add(key)


def tamper_check(
    artifacts: toolchain.CircuitArtifacts,
    inputs: Mapping[str, object],
    signal_name: str,
    new_value: int,
) -> list[int]:
    """Unsatisfied constraints after setting ``signal_name`` to ``new_value`` in the honest witness.

    ``signal_name`` is a ``.sym`` name such as ``"balance[0][1]"`` or
    ``"main.side[0][1].sig.S"``. Raises AssertionError if ``new_value`` equals
    the honest value (that would test nothing), and prover.errors.SignalError
    if the signal is unknown or was optimised away.
    """
    honest = honest_witness(artifacts, inputs)
    _require_honest_ok(artifacts, inputs)
    table = symbols(artifacts.sym)
    wire = table.wire(signal_name)
    if honest.values[wire] == new_value % honest.prime:
        raise AssertionError(f"tampered value of {signal_name} equals the honest value")
    tampered = r1cs.tamper(honest, table, signal_name, new_value)
    # The honest witness satisfies every constraint, so only those mentioning
    # the changed wire can fail: checking just them gives the same answer as a
    # full check_r1cs, many times faster.
    system = load_r1cs(artifacts.r1cs)
    subset = _constraints_by_wire(artifacts.r1cs).get(wire, ())
    failed = r1cs.check_r1cs(
        r1cs.R1CS(
            header=system.header,
            constraints=tuple(system.constraints[i] for i in subset),
            wire_to_label=(),
        ),
        tampered,
    )
    return [subset[i] for i in failed]
