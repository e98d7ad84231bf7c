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

Proving and declaration helpers are in ``tests/circuits/proving.py``.

Test code only: never imported by library code.
"""

import hashlib
import json
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from prover import circuits, r1cs, toolchain

__all__ = [
    "compiled_statement",
    "honest_witness",
    "load_r1cs",
    "public_signals",
    "symbols",
    "tamper_check",
    "unsatisfied",
    "wire_value",
]


@cache
def load_r1cs(path: Path) -> r1cs.R1CS:
    """Parsed constraint system (cached by path; cache entries are immutable)."""
    return r1cs.read_r1cs(path)


@cache
def symbols(path: Path) -> r1cs.SymbolTable:
    """Parsed ``.sym`` signal map (cached by path)."""
    return r1cs.SymbolTable.load(path)


def compiled_statement(statement: str, profile: str = "test") -> toolchain.CompiledArtifacts:
    """The statement compiled (cached) WITHOUT a trusted setup, for witness and R1CS tests.

    No keys (the setup is the slow step of a cold CI run): ``honest_witness``,
    ``public_signals``, ``unsatisfied`` and ``tamper_check`` work, proving does not.
    """
    return circuits.compile_statement_artifacts(statement, profile)


def _inputs_key(artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object]) -> str:
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
    artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object]
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


def wire_value(
    artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object], name: str
) -> int:
    """Signal ``name``'s value in the honest witness for ``inputs`` (by its ``.sym`` name)."""
    return honest_witness(artifacts, inputs).values[symbols(artifacts.sym).wire(name)]


def unsatisfied(artifacts: toolchain.CompiledArtifacts, witness: r1cs.Witness) -> list[int]:
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


def _require_honest_ok(
    artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object]
) -> None:
    key = _inputs_key(artifacts, inputs)
    if key not in _HONEST_OK:
        bad = unsatisfied(artifacts, honest_witness(artifacts, inputs))
        if bad:
            raise AssertionError(f"the honest witness violates constraints {bad[:10]}")
        _HONEST_OK.add(key)


def public_signals(
    artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object]
) -> list[int]:
    """The public signals of the honest witness (values 1..n_public, snarkjs' public.json order).

    The witness is first checked against every constraint, so these are the
    values a proof of ``inputs`` would carry: with ``tamper_check`` on a public
    input this tests what a verifier binds without a key setup or a proof.
    """
    _require_honest_ok(artifacts, inputs)
    values = honest_witness(artifacts, inputs).values
    return [int(v) for v in values[1 : 1 + artifacts.n_public]]


def tamper_check(
    artifacts: toolchain.CompiledArtifacts,
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
