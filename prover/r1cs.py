"""Pure-Python readers for the iden3 binary formats circom and snarkjs exchange.

Covers ``.r1cs`` (constraint system), ``.wtns`` (witness; also written, so tests
can tamper with a witness and hand it back to snarkjs), the header of
``.ptau`` files, and circom's ``.sym`` signal map. ``check_r1cs`` evaluates
every constraint ``<A,w> * <B,w> = <C,w> (mod p)`` so tests can show that a
tampered witness is rejected by the constraints themselves, not only by the
honest witness generator.

All iden3 files share one container: a 4-byte magic, a u32 version, a u32
section count, then sections of ``(u32 type, u64 size, bytes)`` in any order.
Integers are little-endian; field elements are ``n8``-byte little-endian
integers in normal (not Montgomery) form.

This module never runs a subprocess and never imports exchange/ or verifier/:
it is plain parsing, usable from any test.
"""

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from prover.errors import ArtifactFormatError, SignalError

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SECTION = struct.Struct("<IQ")

# r1cs section ids (iden3 r1cs spec); sections 4/5 are PLONK custom gates, unused here.
_R1CS_HEADER = 1
_R1CS_CONSTRAINTS = 2
_R1CS_WIRE2LABEL = 3
_WTNS_HEADER = 1
_WTNS_DATA = 2
_PTAU_HEADER = 1
# snarkjs `powersoftau prepare phase2` adds the Lagrange-basis sections 12..15;
# `groth16 setup` needs them.
_PTAU_PHASE2_SECTIONS = frozenset({12, 13, 14, 15})

WTNS_VERSION = 2

# (wire index, coefficient) pairs of one linear combination.
LinearCombination = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Constraint:
    """One rank-1 constraint ``<a,w> * <b,w> = <c,w>``."""

    a: LinearCombination
    b: LinearCombination
    c: LinearCombination


@dataclass(frozen=True)
class R1CSHeader:
    n8: int
    prime: int
    n_wires: int
    n_pub_out: int
    n_pub_in: int
    n_prv_in: int
    n_labels: int
    n_constraints: int

    @property
    def n_public(self) -> int:
        """Public signals as snarkjs orders them: outputs, then public inputs."""
        return self.n_pub_out + self.n_pub_in

    @property
    def required_ptau_power(self) -> int:
        """Smallest ptau power ``groth16 setup`` accepts for this circuit.

        snarkjs needs a domain of ``2**k > constraints + public signals`` (one
        extra row per public signal binds it), i.e. ``k = bit_length(sum)``.
        """
        return (self.n_constraints + self.n_public).bit_length()


@dataclass(frozen=True)
class R1CS:
    header: R1CSHeader
    constraints: tuple[Constraint, ...]
    # wire -> label (signal index in the .sym file); empty if the section is absent.
    wire_to_label: tuple[int, ...]

    @property
    def prime(self) -> int:
        return self.header.prime


@dataclass(frozen=True)
class Witness:
    """A full assignment: ``values[0]`` is the constant 1, then outputs, inputs, internals."""

    prime: int
    values: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class PtauHeader:
    n8: int
    prime: int
    power: int
    ceremony_power: int
    sections: frozenset[int]

    @property
    def phase2_ready(self) -> bool:
        return self.sections >= _PTAU_PHASE2_SECTIONS


# ---------------------------------------------------------------- container


def _scan_sections(
    fh: BinaryIO, magic: bytes, path: Path, file_size: int
) -> tuple[int, dict[int, tuple[int, int]]]:
    """Read the container header and return (version, {type: (offset, size)})."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != magic:
        raise ArtifactFormatError(f"{path}: not a {magic.decode()} file (bad magic)")
    version, n_sections = struct.unpack_from("<II", head, 4)
    sections: dict[int, tuple[int, int]] = {}
    offset = 12
    for _ in range(n_sections):
        fh.seek(offset)
        raw = fh.read(_SECTION.size)
        if len(raw) < _SECTION.size:
            raise ArtifactFormatError(f"{path}: truncated section table")
        kind, size = _SECTION.unpack(raw)
        start = offset + _SECTION.size
        if start + size > file_size:
            raise ArtifactFormatError(f"{path}: section {kind} runs past the end of the file")
        if kind in sections:
            raise ArtifactFormatError(f"{path}: duplicate section {kind}")
        sections[kind] = (start, size)
        offset = start + size
    return version, sections


def _open_sections(
    path: Path, magic: bytes, needed: Sequence[int]
) -> tuple[int, dict[int, bytes], frozenset[int]]:
    """Load only the ``needed`` sections (a ptau or r1cs can be hundreds of MB)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            file_size = fh.seek(0, 2)
            fh.seek(0)
            version, table = _scan_sections(fh, magic, path, file_size)
            loaded: dict[int, bytes] = {}
            for kind in needed:
                if kind not in table:
                    raise ArtifactFormatError(f"{path}: missing section {kind}")
                start, size = table[kind]
                fh.seek(start)
                loaded[kind] = fh.read(size)
    except OSError as exc:
        raise ArtifactFormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return version, loaded, frozenset(table)


def _read_field_header(data: bytes, path: Path, what: str) -> tuple[int, int, int]:
    """Parse the common ``n8, prime`` prefix; return (n8, prime, offset after it)."""
    if len(data) < 4:
        raise ArtifactFormatError(f"{path}: {what} header too short")
    (n8,) = _U32.unpack_from(data, 0)
    if n8 == 0 or n8 % 8 or len(data) < 4 + n8:
        raise ArtifactFormatError(f"{path}: {what} header has bad field size {n8}")
    prime = int.from_bytes(data[4 : 4 + n8], "little")
    return n8, prime, 4 + n8


# ---------------------------------------------------------------- r1cs


def _parse_r1cs_header(data: bytes, path: Path) -> R1CSHeader:
    n8, prime, off = _read_field_header(data, path, "r1cs")
    if len(data) < off + 28:
        raise ArtifactFormatError(f"{path}: r1cs header too short")
    n_wires, n_pub_out, n_pub_in, n_prv_in = struct.unpack_from("<IIII", data, off)
    (n_labels,) = _U64.unpack_from(data, off + 16)
    (n_constraints,) = _U32.unpack_from(data, off + 24)
    if 1 + n_pub_out + n_pub_in + n_prv_in > n_wires:
        raise ArtifactFormatError(f"{path}: r1cs header counts more signals than wires")
    return R1CSHeader(
        n8=n8,
        prime=prime,
        n_wires=n_wires,
        n_pub_out=n_pub_out,
        n_pub_in=n_pub_in,
        n_prv_in=n_prv_in,
        n_labels=n_labels,
        n_constraints=n_constraints,
    )


def read_r1cs_header(path: Path) -> R1CSHeader:
    """Read only the header section: cheap even for a circuit of millions of constraints."""
    _, sections, _ = _open_sections(Path(path), b"r1cs", [_R1CS_HEADER])
    return _parse_r1cs_header(sections[_R1CS_HEADER], Path(path))


def _parse_constraints(data: bytes, header: R1CSHeader, path: Path) -> tuple[Constraint, ...]:
    n8 = header.n8
    term = 4 + n8
    n_wires = header.n_wires
    unpack_u32 = _U32.unpack_from
    from_bytes = int.from_bytes
    end = len(data)
    off = 0
    out: list[Constraint] = []
    try:
        for _ in range(header.n_constraints):
            lcs: list[LinearCombination] = []
            for _part in range(3):
                (n_terms,) = unpack_u32(data, off)
                off += 4
                stop = off + n_terms * term
                if stop > end:
                    raise ArtifactFormatError(f"{path}: constraints section truncated")
                lc = tuple(
                    (unpack_u32(data, p)[0], from_bytes(data[p + 4 : p + term], "little"))
                    for p in range(off, stop, term)
                )
                off = stop
                lcs.append(lc)
            out.append(Constraint(lcs[0], lcs[1], lcs[2]))
    except struct.error as exc:
        raise ArtifactFormatError(f"{path}: constraints section truncated") from exc
    if off != end:
        raise ArtifactFormatError(f"{path}: constraints section has {end - off} trailing bytes")
    # Checked once afterwards rather than per term: keeps the hot loop short.
    for index, constraint in enumerate(out):
        for lc in (constraint.a, constraint.b, constraint.c):
            for wire, coeff in lc:
                if wire >= n_wires or coeff >= header.prime:
                    raise ArtifactFormatError(
                        f"{path}: constraint {index} has wire {wire} or a coefficient out of range"
                    )
    return tuple(out)


def read_r1cs(path: Path) -> R1CS:
    """Parse a circom ``.r1cs`` file: header, constraints and wire-to-label map."""
    path = Path(path)
    version, sections, present = _open_sections(path, b"r1cs", [_R1CS_HEADER, _R1CS_CONSTRAINTS])
    if version != 1:
        raise ArtifactFormatError(f"{path}: unsupported r1cs version {version}")
    header = _parse_r1cs_header(sections[_R1CS_HEADER], path)
    constraints = _parse_constraints(sections[_R1CS_CONSTRAINTS], header, path)
    wire_to_label: tuple[int, ...] = ()
    if _R1CS_WIRE2LABEL in present:
        _, extra, _ = _open_sections(path, b"r1cs", [_R1CS_WIRE2LABEL])
        raw = extra[_R1CS_WIRE2LABEL]
        if len(raw) != 8 * header.n_wires:
            raise ArtifactFormatError(f"{path}: wire-to-label section has the wrong size")
        wire_to_label = struct.unpack(f"<{header.n_wires}Q", raw)
    return R1CS(header=header, constraints=constraints, wire_to_label=wire_to_label)


# ---------------------------------------------------------------- wtns


def read_wtns(path: Path) -> Witness:
    """Parse a ``.wtns`` file as written by circom's witness generator or snarkjs."""
    path = Path(path)
    version, sections, _ = _open_sections(path, b"wtns", [_WTNS_HEADER, _WTNS_DATA])
    if version not in (1, 2):
        raise ArtifactFormatError(f"{path}: unsupported wtns version {version}")
    header = sections[_WTNS_HEADER]
    n8, prime, off = _read_field_header(header, path, "wtns")
    if len(header) < off + 4:
        raise ArtifactFormatError(f"{path}: wtns header too short")
    (n_values,) = _U32.unpack_from(header, off)
    data = sections[_WTNS_DATA]
    if len(data) != n_values * n8:
        raise ArtifactFormatError(
            f"{path}: witness data is {len(data)} bytes, expected {n_values} x {n8}"
        )
    values = tuple(int.from_bytes(data[i : i + n8], "little") for i in range(0, len(data), n8))
    return Witness(prime=prime, values=values)


def write_wtns(path: Path, witness: Witness) -> None:
    """Write ``witness`` in the wtns v2 layout snarkjs reads (header section, then values)."""
    prime = witness.prime
    n8 = ((prime.bit_length() - 1) // 64 + 1) * 8
    for index, value in enumerate(witness.values):
        if not 0 <= value < prime:
            raise ArtifactFormatError(f"witness value {index} is not a canonical field element")
    header = _U32.pack(n8) + prime.to_bytes(n8, "little") + _U32.pack(len(witness.values))
    data = b"".join(v.to_bytes(n8, "little") for v in witness.values)
    blob = b"".join(
        [
            b"wtns",
            struct.pack("<II", WTNS_VERSION, 2),
            _SECTION.pack(_WTNS_HEADER, len(header)),
            header,
            _SECTION.pack(_WTNS_DATA, len(data)),
            data,
        ]
    )
    Path(path).write_bytes(blob)


# ---------------------------------------------------------------- checking


def check_r1cs(r1cs: R1CS, witness: Witness | Sequence[int]) -> list[int]:
    """Indices of the constraints ``witness`` does not satisfy (empty list: all hold).

    Raises ArtifactFormatError if the witness cannot be an assignment of this
    system at all: wrong length, other field, a value not reduced mod p, or
    ``w[0] != 1`` (wire 0 is the constant one in every Groth16 verifier).
    """
    prime = r1cs.header.prime
    if isinstance(witness, Witness):
        if witness.prime != prime:
            raise ArtifactFormatError("witness and r1cs use different fields")
        values: Sequence[int] = witness.values
    else:
        values = witness
    if len(values) != r1cs.header.n_wires:
        raise ArtifactFormatError(
            f"witness has {len(values)} values, the r1cs has {r1cs.header.n_wires} wires"
        )
    if values[0] != 1:
        raise ArtifactFormatError("witness[0] must be the constant 1")
    if not all(0 <= v < prime for v in values):
        raise ArtifactFormatError("witness contains a value that is not reduced mod p")
    failed: list[int] = []
    for index, constraint in enumerate(r1cs.constraints):
        a = sum(coeff * values[wire] for wire, coeff in constraint.a)
        b = sum(coeff * values[wire] for wire, coeff in constraint.b)
        c = sum(coeff * values[wire] for wire, coeff in constraint.c)
        if (a * b - c) % prime:
            failed.append(index)
    return failed


# ---------------------------------------------------------------- ptau


def read_ptau_header(path: Path) -> PtauHeader:
    """Read the header section of a powers-of-tau file (curve prime, power, ceremony power)."""
    path = Path(path)
    _, sections, present = _open_sections(path, b"ptau", [_PTAU_HEADER])
    data = sections[_PTAU_HEADER]
    n8, prime, off = _read_field_header(data, path, "ptau")
    if len(data) < off + 8:
        raise ArtifactFormatError(f"{path}: ptau header too short")
    power, ceremony_power = struct.unpack_from("<II", data, off)
    return PtauHeader(
        n8=n8, prime=prime, power=power, ceremony_power=ceremony_power, sections=present
    )


# ---------------------------------------------------------------- sym


class SymbolTable:
    """circom ``.sym`` map from signal name to witness (wire) index.

    Each line is ``labelIdx,varIdx,componentIdx,name``; ``varIdx == -1`` marks a
    signal the optimiser eliminated (it has no wire, so it cannot be tampered).
    """

    def __init__(self, wires: Mapping[str, int]) -> None:
        self._wires = dict(wires)

    @classmethod
    def load(cls, path: Path) -> "SymbolTable":
        path = Path(path)
        wires: dict[str, int] = {}
        try:
            text = path.read_text()
        except OSError as exc:
            raise ArtifactFormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line:
                continue
            parts = line.split(",", 3)
            if len(parts) != 4:
                raise ArtifactFormatError(f"{path}:{line_no}: expected 4 comma-separated fields")
            try:
                var_idx = int(parts[1])
            except ValueError as exc:
                raise ArtifactFormatError(f"{path}:{line_no}: bad variable index") from exc
            wires[parts[3]] = var_idx
        return cls(wires)

    def __contains__(self, name: object) -> bool:
        return name in self._wires

    def names(self) -> list[str]:
        return list(self._wires)

    def wire(self, name: str) -> int:
        """Witness index of signal ``name`` (``main.`` prefix optional)."""
        key = name if name in self._wires else f"main.{name}"
        if key not in self._wires:
            raise SignalError(f"unknown signal {name!r}")
        index = self._wires[key]
        if index < 0:
            raise SignalError(
                f"signal {key!r} was optimised away by the compiler (no witness entry); "
                "tamper a signal it was substituted by instead"
            )
        return index


def tamper(witness: Witness, symbols: SymbolTable, name: str, value: int) -> Witness:
    """A copy of ``witness`` with signal ``name`` set to ``value`` (reduced mod p)."""
    index = symbols.wire(name)
    if index >= len(witness.values):
        raise SignalError(f"signal {name!r} has wire {index}, beyond the witness length")
    if index == 0:
        raise SignalError("wire 0 is the constant one, not a signal")
    values = list(witness.values)
    values[index] = value % witness.prime
    return Witness(prime=witness.prime, values=tuple(values))
