"""Tests for prover.r1cs: iden3 r1cs/wtns/ptau/sym parsing and the constraint checker."""

import struct
from collections.abc import Sequence
from pathlib import Path

import pytest

from prover import toolchain
from prover.errors import ArtifactFormatError, SignalError
from prover.r1cs import (
    Constraint,
    SymbolTable,
    Witness,
    check_r1cs,
    read_ptau_header,
    read_r1cs,
    read_r1cs_header,
    read_wtns,
    tamper,
    write_wtns,
)
from verifier.field import R

HONEST = {"product": 15, "a": 3, "b": 5}


def lc_bytes(terms: list[tuple[int, int]]) -> bytes:
    return struct.pack("<I", len(terms)) + b"".join(
        struct.pack("<I", wire) + coeff.to_bytes(32, "little") for wire, coeff in terms
    )


Terms = list[tuple[int, int]]


def r1cs_blob(constraints: Sequence[tuple[Terms, Terms, Terms]], n_wires: int) -> bytes:
    """A hand-made r1cs (sections deliberately in the order constraints, header)."""
    body = b"".join(lc_bytes(a) + lc_bytes(b) + lc_bytes(c) for a, b, c in constraints)
    header = (
        struct.pack("<I", 32)
        + R.to_bytes(32, "little")
        + struct.pack("<IIIIQI", n_wires, 1, 1, 0, n_wires, len(constraints))
    )
    return (
        b"r1cs"
        + struct.pack("<II", 1, 2)
        + struct.pack("<IQ", 2, len(body))
        + body
        + struct.pack("<IQ", 1, len(header))
        + header
    )


@pytest.fixture
def honest_wtns(multiplier: toolchain.CircuitArtifacts, tmp_path: Path) -> Path:
    return toolchain.witness(multiplier, HONEST, tmp_path / "honest.wtns")


# ---------------------------------------------------------------- hand-made files


def test_hand_made_r1cs_parses_and_checks(tmp_path: Path) -> None:
    # Wires: 0 = one, 1 = out, 2 = x. Constraints: x * (-x) = -out ; (2x + 1) * x = 2 out + x.
    minus_one = R - 1
    constraints = [
        ([(2, 1)], [(2, minus_one)], [(1, minus_one)]),
        ([(2, 2), (0, 1)], [(2, 1)], [(1, 2), (2, 1)]),
    ]
    path = tmp_path / "hand.r1cs"
    path.write_bytes(r1cs_blob(constraints, n_wires=3))
    r1cs = read_r1cs(path)
    assert r1cs.header.n_constraints == 2 and r1cs.header.n_wires == 3
    assert r1cs.header == read_r1cs_header(path)
    assert r1cs.constraints[0] == Constraint(a=((2, 1),), b=((2, minus_one),), c=((1, minus_one),))
    assert r1cs.constraints[1] == Constraint(a=((2, 2), (0, 1)), b=((2, 1),), c=((1, 2), (2, 1)))
    assert r1cs.wire_to_label == ()
    # Both hold iff out = x^2.
    assert check_r1cs(r1cs, [1, 25, 5]) == []
    assert check_r1cs(r1cs, [1, 24, 5]) == [0, 1]
    assert check_r1cs(r1cs, Witness(R, (1, (R - 5) ** 2 % R, R - 5))) == []


def test_required_ptau_power_matches_snarkjs_rule(tmp_path: Path) -> None:
    # snarkjs: smallest k with 2^k > constraints + public signals.
    path = tmp_path / "hand.r1cs"
    path.write_bytes(r1cs_blob([([(1, 1)], [(1, 1)], [(1, 1)])] * 6, n_wires=3))
    header = read_r1cs_header(path)
    assert header.n_public == 2 and header.n_constraints == 6
    assert header.required_ptau_power == 4  # 8 == 2^3 is not > 8


def test_truncated_and_foreign_files_are_format_errors(tmp_path: Path) -> None:
    good = r1cs_blob([([(2, 1)], [(2, 1)], [(1, 1)])], n_wires=3)
    path = tmp_path / "cut.r1cs"
    path.write_bytes(good[:-10])
    with pytest.raises(ArtifactFormatError, match="past the end"):
        read_r1cs(path)
    path.write_bytes(b"wtns" + good[4:])
    with pytest.raises(ArtifactFormatError, match="bad magic"):
        read_r1cs(path)
    with pytest.raises(ArtifactFormatError, match="cannot read"):
        read_wtns(tmp_path / "missing.wtns")
    with pytest.raises(ArtifactFormatError, match="bad magic"):
        read_ptau_header(path)


def test_check_rejects_witness_of_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "hand.r1cs"
    path.write_bytes(r1cs_blob([([(2, 1)], [(2, 1)], [(1, 1)])], n_wires=3))
    r1cs = read_r1cs(path)
    with pytest.raises(ArtifactFormatError, match="2 values"):
        check_r1cs(r1cs, [1, 4])
    with pytest.raises(ArtifactFormatError, match="constant 1"):
        check_r1cs(r1cs, [2, 4, 2])
    with pytest.raises(ArtifactFormatError, match="not reduced"):
        check_r1cs(r1cs, [1, 4, 2 + R])
    with pytest.raises(ArtifactFormatError, match="different fields"):
        check_r1cs(r1cs, Witness(R + 2, (1, 4, 2)))


def test_wtns_write_read_roundtrip(tmp_path: Path) -> None:
    witness = Witness(R, (1, R - 1, 0, 2**200))
    path = tmp_path / "w.wtns"
    write_wtns(path, witness)
    assert read_wtns(path) == witness
    with pytest.raises(ArtifactFormatError, match="canonical"):
        write_wtns(path, Witness(R, (1, R)))


def test_symbol_table_lookup(tmp_path: Path) -> None:
    sym = tmp_path / "c.sym"
    sym.write_text("1,1,0,main.out\n2,2,0,main.x\n3,-1,0,main.tmp\n")
    table = SymbolTable.load(sym)
    assert table.wire("main.x") == 2
    assert table.wire("x") == 2  # `main.` is implied
    with pytest.raises(SignalError, match="optimised away"):
        table.wire("main.tmp")
    with pytest.raises(SignalError, match="unknown signal"):
        table.wire("main.y")
    sym.write_text("1,1,main.out\n")
    with pytest.raises(ArtifactFormatError, match="4 comma-separated"):
        SymbolTable.load(sym)


# ---------------------------------------------------------------- against circom and snarkjs


@pytest.mark.slow
def test_header_matches_snarkjs_r1cs_info(multiplier: toolchain.CircuitArtifacts) -> None:
    header = read_r1cs_header(multiplier.r1cs)
    info = toolchain.r1cs_info(multiplier.r1cs)
    assert info["constraints"] == header.n_constraints
    assert info["wires"] == header.n_wires
    assert info["labels"] == header.n_labels
    assert info["outputs"] == header.n_pub_out
    assert info["public_inputs"] == header.n_pub_in
    assert info["private_inputs"] == header.n_prv_in
    r1cs = read_r1cs(multiplier.r1cs)
    assert r1cs.header == header
    assert len(r1cs.constraints) == header.n_constraints
    assert len(r1cs.wire_to_label) == header.n_wires


@pytest.mark.slow
def test_honest_witness_satisfies_constraints(
    multiplier: toolchain.CircuitArtifacts, honest_wtns: Path
) -> None:
    witness = read_wtns(honest_wtns)
    assert len(witness) == read_r1cs_header(multiplier.r1cs).n_wires
    assert check_r1cs(read_r1cs(multiplier.r1cs), witness) == []
    assert toolchain.wtns_check(multiplier.r1cs, honest_wtns)


@pytest.mark.slow
def test_written_witness_is_byte_identical(honest_wtns: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.wtns"
    write_wtns(copy, read_wtns(honest_wtns))
    assert copy.read_bytes() == honest_wtns.read_bytes()


@pytest.mark.slow
def test_tampered_private_input_fails_both_checks(
    multiplier: toolchain.CircuitArtifacts, honest_wtns: Path, tmp_path: Path
) -> None:
    symbols = SymbolTable.load(multiplier.sym)
    honest = read_wtns(honest_wtns)
    assert honest.values[symbols.wire("main.b")] == 5
    bad = tamper(honest, symbols, "main.b", 6)
    failed = check_r1cs(read_r1cs(multiplier.r1cs), bad)
    assert failed  # a * b = product breaks, and so does the hash of b
    path = tmp_path / "tampered.wtns"
    write_wtns(path, bad)
    assert not toolchain.wtns_check(multiplier.r1cs, path)


@pytest.mark.slow
def test_tampered_internal_signal_fails_both_checks(
    multiplier: toolchain.CircuitArtifacts, honest_wtns: Path, tmp_path: Path
) -> None:
    symbols = SymbolTable.load(multiplier.sym)
    # Any Poseidon-internal signal that survived --O2 is pinned by some constraint.
    internal = next(
        name
        for name in symbols.names()
        if name.startswith("main.hash.") and name in symbols and _has_wire(symbols, name)
    )
    honest = read_wtns(honest_wtns)
    bad = tamper(honest, symbols, internal, honest.values[symbols.wire(internal)] + 1)
    assert check_r1cs(read_r1cs(multiplier.r1cs), bad)
    path = tmp_path / "tampered.wtns"
    write_wtns(path, bad)
    assert not toolchain.wtns_check(multiplier.r1cs, path)


@pytest.mark.slow
def test_eliminated_signal_cannot_be_tampered(multiplier: toolchain.CircuitArtifacts) -> None:
    symbols = SymbolTable.load(multiplier.sym)
    with pytest.raises(SignalError, match=r"'main\.sum' was optimised away") as err:
        symbols.wire("main.sum")
    assert "\n" not in str(err.value)


def _has_wire(symbols: SymbolTable, name: str) -> bool:
    try:
        symbols.wire(name)
    except SignalError:
        return False
    return True
