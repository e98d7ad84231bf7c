"""HEALTH SWEEP on the account-state leaf: flags after funding, MMR boundary, tampering, check_sweep.

Compile only (no key setup): the circuit's R1CS is evaluated on witnesses
from its own generator. Test profile: 16 accounts in 2 quaternary levels,
chunks of 4, 2 markets. The boundaries issue 11 names are taken AFTER the
pending funding payment: account 2 is exactly at MMR once it has paid its
funding (not flagged), account 3 is one quote unit below (flagged) although
it was healthy before paying, and a witness that skips the payment, hides
the flag or empties an open account violates the R1CS.
"""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain.margin import RiskParams, is_liquidatable
from prover import toolchain
from prover.errors import WitnessError
from prover.statements import health_sweep as stmt
from prover.statements.health_sweep import SweepWitness, build_sweep
from tests.circuits import proving
from tests.circuits.conftest import (
    compiled_statement,
    honest_witness,
    public_signals,
    tamper_check,
    unsatisfied,
    wire_value,
)
from tests.circuits.slot_market import PARAMS, SlotMarket
from verifier.account_state import AccountRecord
from verifier.field import R
from verifier.statements import health_sweep as vhs
from verifier.statements.health_sweep import SweepError, check_sweep

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "health_sweep.circom"
PRICES = (1_000, 20_000)
MMF = (500, 250)
FUNDING = (7, 0)  # the index moved by 7 per lot in market 0 since every checkpoint (0, 0)


def world() -> SlotMarket:
    """Accounts 0..3 (chunk 0) and 5 (chunk 1; slot 4 empty), checkpoints (0, 0).

    Long 10 @ 1000 has MMR 500 and pays 70 of funding at FUNDING.
    Account 2: balance -9430, equity 570 before funding, 500 after: exactly MMR.
    Account 3: balance -9431, equity 569 before (healthy), 499 after: flagged.
    Account 5: long 2 @ 20000 (MMR 1000, no funding in market 1), equity 500: flagged.
    """
    m = SlotMarket()
    m.open(0, 100_000)
    m.open(1, 100_000, positions=(3, 0))
    m.open(2, -9_430, positions=(10, 0))
    m.open(3, -9_431, positions=(10, 0))
    m.open(5, -39_500, positions=(0, 2))
    return m


def sweep(m: SlotMarket, funding: tuple[int, int] = FUNDING) -> list[SweepWitness]:
    return build_sweep(m.book, prices=PRICES, funding=funding, mmf_bps=MMF)


def check(pubs: list[list[int]], m: SlotMarket, **kw: object) -> vhs.SweepResult:
    args: dict[str, object] = {
        "account_levels": PARAMS.account_levels,
        "chunk_levels": PARAMS.chunk_levels,
        "markets": PARAMS.markets,
        "expected_root": m.book.root,
        "prices": PRICES,
        "funding": FUNDING,
        "mmf_bps": MMF,
    }
    args.update(kw)
    return check_sweep(pubs, **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- fast: builder and verifier


def test_public_matches_declaration_order() -> None:
    declared = proving.declared_public_inputs(CIRCUIT, "HealthSweepChunk", "// Private")
    assert declared == stmt.PUBLIC == list(vhs.PUBLIC_NAMES)


def test_flags_are_taken_after_funding_and_check_sweep_finds_them() -> None:
    m = world()
    chunks = sweep(m)
    assert PARAMS.chunk_levels == 1 and len(chunks) == 2
    assert [c.flags for c in chunks] == [0b1000, 0b0010]
    # Without the funding move account 3 is healthy: the payment decides the flag.
    assert [c.flags for c in sweep(m, funding=(0, 0))] == [0, 0b0010]
    result = check([c.public_inputs() for c in chunks], m)
    assert result.ok and result.flagged == (3, 5) and result.root == m.book.root


def test_check_sweep_rejects_what_does_not_match_the_ledger() -> None:
    m = world()
    pubs = [c.public_inputs() for c in sweep(m)]
    assert "funding indices differ" in " ".join(check(pubs, m, funding=(6, 0)).reasons)
    assert "prices differ" in " ".join(check(pubs, m, prices=(1_001, 20_000)).reasons)
    assert "maintenance fractions differ" in " ".join(check(pubs, m, mmf_bps=(400, 250)).reasons)
    assert "rebuilt account root differs" in " ".join(check(pubs[:1], m).reasons)
    assert "chunkIndex 1, expected 0" in " ".join(check(pubs[::-1], m).reasons)
    assert check([], m).reasons == ("no chunks",)
    assert "expected 9 public signals" in " ".join(check([pubs[0][:-1]], m).reasons)
    assert "not a field element" in " ".join(check([[R, *pubs[0][1:]]], m).reasons)
    # A chunk proved at stale funding indices (before the move) is not this sweep.
    stale = [c.public_inputs() for c in sweep(m, funding=(0, 0))]
    assert "funding indices differ" in " ".join(check(stale, m).reasons)


@settings(max_examples=60, deadline=None)
@given(
    balance=st.integers(-(10**9), 10**9),
    positions=st.tuples(st.integers(-1000, 1000), st.integers(-1000, 1000)),
    checkpoints=st.tuples(st.integers(-500, 500), st.integers(-500, 500)),
    funding=st.tuples(st.integers(-500, 500), st.integers(-500, 500)),
)
def test_flag_is_the_domain_engines_liquidatable_after_funding(
    balance: int,
    positions: tuple[int, int],
    checkpoints: tuple[int, int],
    funding: tuple[int, int],
) -> None:
    # The operator decides liquidations with exchange.domain on settled
    # balances; the sweep's flag (the circuit's rule) must agree exactly.
    record = AccountRecord(1, 2, balance, positions, checkpoints, 0)
    settled = balance - sum(
        s * (f - c) for s, f, c in zip(positions, funding, checkpoints, strict=True)
    )
    risk = RiskParams(imf_bps=(1_000, 500), mmf_bps=MMF, liquidation_fee_bps=(0, 0))
    assert vhs.below_maintenance_after_funding(record, PRICES, funding, MMF) == is_liquidatable(
        settled, positions, PRICES, risk
    )


def test_encoder_refuses_bad_shapes() -> None:
    with pytest.raises(SweepError, match="one price"):
        vhs.public_inputs(
            chunk_index=0,
            sub_root=1,
            prices=PRICES,
            funding=(0,),
            mmf_bps=MMF,
            flags=0,
            chunk_levels=1,
        )
    with pytest.raises(SweepError, match="do not fit 4 accounts"):
        vhs.public_inputs(
            chunk_index=0,
            sub_root=1,
            prices=PRICES,
            funding=FUNDING,
            mmf_bps=MMF,
            flags=16,
            chunk_levels=1,
        )
    with pytest.raises(SweepError, match="funding index"):
        vhs.public_inputs(
            chunk_index=0,
            sub_root=1,
            prices=PRICES,
            funding=(1 << 63, 0),
            mmf_bps=MMF,
            flags=0,
            chunk_levels=1,
        )


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compiled_statement("health_sweep")


@pytest.fixture(scope="module")
def chunk0() -> dict[str, object]:
    return sweep(world())[0].to_circuit_inputs()


@pytest.mark.slow
def test_valid_chunks_satisfy_the_r1cs_and_carry_the_encoders_inputs(
    artifacts: toolchain.CompiledArtifacts,
) -> None:
    m = world()
    for c in sweep(m):
        inputs = c.to_circuit_inputs()
        assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []
        # The public signals a proof would carry are exactly the verifier's encoding.
        assert public_signals(artifacts, inputs) == c.public_inputs()


@pytest.mark.slow
def test_equity_exactly_at_mmr_after_funding_is_not_flagged(
    artifacts: toolchain.CompiledArtifacts, chunk0: dict[str, object]
) -> None:
    assert wire_value(artifacts, chunk0, "slack[2].abs") == 0  # BPS_DENOM * equity - MMR = 0
    assert wire_value(artifacts, chunk0, "slack[3].abs") == 10_000  # 10^4 * 499 - 10^4 * 500
    assert wire_value(artifacts, chunk0, "flags") == 0b1000
    # The settled balance (range-checked by Equity) is the stored one minus the payment.
    assert wire_value(artifacts, chunk0, "equity[3].rb.abs") == 9_431 + 70
    assert wire_value(artifacts, chunk0, "equity[3].rb.neg") == 1
    # Flagging the account at MMR, or not flagging the one below, is refused.
    assert tamper_check(artifacts, chunk0, "flags", 0b1100)
    assert tamper_check(artifacts, chunk0, "flags", 0)
    # A slack of the other sign (|slack| kept) cannot be decomposed either.
    assert tamper_check(artifacts, chunk0, "slack[3].abs", 0)


@pytest.mark.slow
def test_witness_generator_refuses_hidden_flags(
    tmp_path: Path, artifacts: toolchain.CompiledArtifacts, chunk0: dict[str, object]
) -> None:
    with pytest.raises(WitnessError):
        toolchain.witness(artifacts, {**chunk0, "flags": 0}, tmp_path / "hidden.wtns")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        # Claiming account 3 had already settled to the current index (it
        # would then pay nothing and look healthy): the leaf no longer opens.
        ("checkpoints[3][0]", 7),
        ("balance[3]", -9_361),
        ("positions[3][0]", 9),
        ("orderRoot[3]", 1),
        ("blinding[2]", 5),
        ("isEmpty[3]", 1),  # an open account passed off as an empty slot
        ("isEmpty[0]", 2),
        ("funding[0]", 6),
        ("prices[0]", 999),
        ("mmfBps[0]", 499),
        ("subRoot", 1),
        ("equity[3].rb.abs", 9_431),  # the balance before paying funding
        ("prices[1]", R - 1),
    ],
)
def test_tampered_chunk_fails(
    artifacts: toolchain.CompiledArtifacts, chunk0: dict[str, object], name: str, value: int
) -> None:
    assert tamper_check(artifacts, chunk0, name, value % R)


@pytest.mark.slow
def test_empty_slot_cannot_hold_a_position(artifacts: toolchain.CompiledArtifacts) -> None:
    chunk1 = sweep(world())[1].to_circuit_inputs()
    assert chunk1["isEmpty"] == [1, 0, 1, 1]
    assert tamper_check(artifacts, chunk1, "positions[0][0]", 1)
    assert tamper_check(artifacts, chunk1, "balance[2]", 1)
    assert tamper_check(artifacts, chunk1, "isEmpty[1]", 1)  # hide the flagged account 5
