"""LIQUIDATE on the account-state leaf: funding first, boundaries, tampering, the verifier's rules.

Compile only (no key setup): the circuit's R1CS is evaluated on witnesses
from its own generator (test profile: 16 accounts in 2 quaternary levels, 2
markets). The world is the live LIQUIDATE test's, with funding pending: every
account's checkpoints are (0, 0) and the funding indices are now (2, -1), so
the balances the rules see are the stored ones minus the payment. The steps
come from the pure domain engine (``exchange.domain.liquidation``) run on the
SETTLED balances: the circuit must accept exactly what the domain does.
Boundaries named by issue 11: equity exactly at MMR after funding cannot be
liquidated, one unit below can (account 1 is healthy before paying funding);
a partial step lands exactly on IMR and one lot fewer would not; the fee cap
and the fund's cover; a step that cannot restore IMR moves the whole position.
"""

from dataclasses import replace
from pathlib import Path

import pytest

from exchange.domain.liquidation import liquidate
from exchange.domain.margin import RiskParams
from exchange.domain.matching import AccountEntry
from prover import toolchain
from prover.account_book import AccountBook
from prover.errors import WitnessError
from prover.statements import liquidate as stmt
from prover.statements.liquidate import (
    LiquidationOutcome,
    build_liquidation_step,
)
from tests.circuits import proving
from tests.circuits.conftest import (
    compiled_statement,
    honest_witness,
    public_signals,
    tamper_check,
    unsatisfied,
    wire_value,
)
from tests.circuits.slot_market import SlotMarket
from verifier.field import R
from verifier.statements import liquidate as vl
from verifier.statements.liquidate import (
    LiquidateStepPublic,
    LiquidationStatementError,
    check_liquidate_steps,
)

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "liquidate.circom"
PRICES = (100, 7)
IMF = (1000, 2000)
MMF = (500, 1000)
LIQ_FEE = (100, 0)
RISK = RiskParams(IMF, MMF, LIQ_FEE)
FUNDING = (2, -1)  # since every checkpoint (0, 0): a long in market 0 pays 2 per lot

# Settled (after-funding) balances and positions; stored balance = settled + payment.
SETTLED: dict[int, tuple[int, tuple[int, int]]] = {
    0: (100_000, (0, 0)),
    # equity 460 < MMR 500 after paying 200; 660 (healthy) before.
    1: (460 - 10_000, (100, 0)),
    2: (1_000_000, (-120, 100)),
    3: (-1_050, (10, 0)),  # equity -50: the fund covers it
    4: (-210, (10, -100)),  # full close of market 1, then a continuation in market 0
}


def payment(positions: tuple[int, ...], funding: tuple[int, ...] = FUNDING) -> int:
    return sum(s * f for s, f in zip(positions, funding, strict=True))


def world(settled: dict[int, tuple[int, tuple[int, int]]] = SETTLED) -> SlotMarket:
    m = SlotMarket()
    for i, (balance, positions) in settled.items():
        m.open(i, balance + payment(positions), positions=positions)
    return m


def step(
    book: AccountBook, account: int, market: int, lots: int, continuation: bool = False
) -> LiquidationOutcome:
    return build_liquidation_step(
        book,
        account=account,
        market=market,
        lots=lots,
        continuation=continuation,
        prices=PRICES,
        funding=FUNDING,
        imf_bps=IMF,
        mmf_bps=MMF,
        liquidation_fee_bps=LIQ_FEE,
        new_blinding=iter(range(5_000, 6_000)).__next__,
    )


def run_domain_plan() -> tuple[list[LiquidationOutcome], AccountBook]:
    """Liquidate 1, 3 and 4 with the domain's lot counts (on settled balances)."""
    book = world().book
    domain = {i: AccountEntry(b, p) for i, (b, p) in SETTLED.items()}
    out: list[LiquidationOutcome] = []
    for index in (1, 3, 4):
        domain, record = liquidate(domain, index, PRICES, RISK)
        assert not record.deleveraging
        for k, s in enumerate(record.steps):
            o = step(book, index, s.market, s.lots, continuation=k > 0)
            assert o.fee == s.fee
            book = o.book
            out.append(o)
        for i in (index, 0):
            rec = book.record(i)
            assert (rec.balance, rec.positions) == tuple(domain[i])
            assert rec.checkpoints == FUNDING
    return out, book


# ---------------------------------------------------------------- fast: builder and rules


def test_public_matches_declaration_order() -> None:
    declared = proving.declared_public_inputs(CIRCUIT, "LiquidateStep", "// Private")
    assert declared == stmt.PUBLIC == list(vl.PUBLIC_NAMES)


def test_domain_plan_matches_the_statement() -> None:
    steps, book = run_domain_plan()
    summary = [
        (o.public.account, o.public.market, o.lots, o.fee, o.cover, o.public.closed_all)
        for o in steps
    ]
    assert summary == [
        (1, 0, 60, 60, 0, False),  # partial, exactly to IMR
        (3, 0, 10, 0, 50, False),  # fund covers -50, fee capped at 0
        (4, 1, 100, 0, 0, True),  # market 1 closed whole, still below IMR
        (4, 0, 2, 2, 0, False),  # continuation: 2 lots restore IMR, 1 would not
    ]
    assert [o.funding_paid for o in steps] == [200, 20, 120, 0]
    assert steps[0].fund_funding_paid == 0 and book.record(1).positions == (40, 0)
    assert steps[1].public.flat_after and not steps[0].public.flat_after
    # The untouched account 2 still holds its unsettled leaf.
    assert book.record(2).checkpoints == (0, 0)
    decoded = [LiquidateStepPublic.from_signals(o.public_inputs, 2) for o in steps]
    assert decoded == [o.public for o in steps]
    liquidated, root, reasons = check_liquidate_steps(
        decoded,
        start_root=world().book.root,
        prices=PRICES,
        funding=FUNDING,
        imf_bps=IMF,
        mmf_bps=MMF,
        liquidation_fee_bps=LIQ_FEE,
    )
    assert reasons == [] and liquidated == (1, 3, 4) and root == book.root


def test_check_liquidate_steps_rejects_sequence_and_funding_violations() -> None:
    steps, _ = run_domain_plan()
    pubs = [o.public for o in steps]
    start = world().book.root

    def reasons(seq: list[LiquidateStepPublic], funding: tuple[int, int] = FUNDING) -> str:
        return " | ".join(
            check_liquidate_steps(
                seq,
                start_root=start,
                prices=PRICES,
                funding=funding,
                imf_bps=IMF,
                mmf_bps=MMF,
                liquidation_fee_bps=LIQ_FEE,
            )[2]
        )

    assert "step 0 (account 1): funding indices differ" in reasons(pubs, funding=(2, 0))
    assert "account 4 stopped below initial margin" in reasons(pubs[:3])
    assert "continuation without a preceding unfinished step" in reasons([pubs[0], pubs[3]])
    assert "oldAccountRoot does not follow" in reasons([pubs[0], pubs[2], pubs[3]])
    assert "prices differ" in reasons([replace(pubs[0], prices=(101, 7))])
    with pytest.raises(LiquidationStatementError, match="expected 17 public signals"):
        LiquidateStepPublic.from_signals([0] * 15, 2)
    with pytest.raises(LiquidationStatementError, match="0 or 1"):
        LiquidateStepPublic.from_signals([0, 0, 1, 0, 2, *([0] * 12)], 2)
    with pytest.raises(LiquidationStatementError, match="funding index"):
        LiquidateStepPublic.from_signals([0, 0, 1, 0, 0, 0, 0, 1, 1, 1 << 70, 0, *([0] * 6)], 2)
    with pytest.raises(LiquidationStatementError, match="never liquidated"):
        replace(pubs[0], account=0).signals()
    with pytest.raises(LiquidationStatementError, match="funding index"):
        replace(pubs[0], funding=(1 << 63, 0)).signals()


def test_builder_refuses_what_the_circuit_refuses() -> None:
    book = world().book
    # Before its funding payment account 1 is healthy: with the indices unmoved
    # (funding = checkpoints) it cannot be liquidated.
    with pytest.raises(LiquidationStatementError, match="not below maintenance margin after"):
        build_liquidation_step(
            book, account=1, market=0, lots=60, continuation=False, prices=PRICES,
            funding=(0, 0), imf_bps=IMF, mmf_bps=MMF, liquidation_fee_bps=LIQ_FEE,
        )  # fmt: skip
    # Equity exactly at MMR after funding (500 on 100 lots at 100) is not eligible.
    at_mmr = world({**SETTLED, 1: (500 - 10_000, (100, 0))}).book
    with pytest.raises(LiquidationStatementError, match="not below maintenance"):
        step(at_mmr, 1, 0, 56)
    below = world({**SETTLED, 1: (499 - 10_000, (100, 0))}).book
    # 499 - q >= 1000 - 10 q  <=>  q >= 55.7: 56 lots, and 57 is not minimal.
    assert step(below, 1, 0, 56).lots == 56
    with pytest.raises(LiquidationStatementError, match="56 lots would already restore"):
        step(below, 1, 0, 57)
    with pytest.raises(LiquidationStatementError, match="must move the whole position"):
        step(book, 1, 0, 59)
    with pytest.raises(LiquidationStatementError, match="cannot move"):
        step(book, 1, 0, 101)
    with pytest.raises(LiquidationStatementError, match="never liquidated"):
        step(book, 0, 0, 1)
    with pytest.raises(LiquidationStatementError, match="not open"):
        step(book, 7, 0, 1)
    poor = world({**SETTLED, 0: (49, (0, 0))}).book
    with pytest.raises(LiquidationStatementError, match="needs ADL"):
        step(poor, 3, 0, 10)
    # A refused step leaves the caller's book as it was.
    assert book.record(1).checkpoints == (0, 0) and book.root == world().book.root


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compiled_statement("liquidate")


@pytest.fixture(scope="module")
def plan() -> list[LiquidationOutcome]:
    return run_domain_plan()[0]


@pytest.mark.slow
def test_every_step_satisfies_the_r1cs_with_the_encoders_inputs(
    artifacts: toolchain.CompiledArtifacts, plan: list[LiquidationOutcome]
) -> None:
    for o in plan:
        assert unsatisfied(artifacts, honest_witness(artifacts, o.inputs)) == []
        assert public_signals(artifacts, o.inputs) == o.public.signals() == o.public_inputs


@pytest.mark.slow
def test_funding_is_settled_before_the_rules(
    artifacts: toolchain.CompiledArtifacts, plan: list[LiquidationOutcome]
) -> None:
    inputs = plan[0].inputs
    # The settled balance (range-checked by Equity) is the stored one minus 200.
    assert wire_value(artifacts, inputs, "eqM.rb.abs") == 9_540
    assert wire_value(artifacts, inputs, "belowM.neg") == 1
    # Claiming account 1 had already settled (checkpoint = current index, so it
    # pays nothing and is healthy): the leaf does not open; nor can the
    # payment be skipped, the fund's checkpoints forged or the index changed.
    assert tamper_check(artifacts, inputs, "checkpoints[0]", 2)
    assert tamper_check(artifacts, inputs, "eqM.rb.abs", 9_340)
    assert tamper_check(artifacts, inputs, "fundCheckpoints[1]", 5)
    assert tamper_check(artifacts, inputs, "funding[0]", 0)


@pytest.mark.slow
def test_partial_step_lands_exactly_on_initial_margin(
    artifacts: toolchain.CompiledArtifacts, plan: list[LiquidationOutcome]
) -> None:
    inputs = plan[0].inputs
    assert wire_value(artifacts, inputs, "after.abs") == 0  # BPS_DENOM * equity - IMR = 0
    assert wire_value(artifacts, inputs, "fewer.neg") == 1  # 59 lots would not restore
    assert tamper_check(artifacts, inputs, "closedAll", 1)
    assert tamper_check(artifacts, inputs, "fewer.neg", 0)
    assert tamper_check(artifacts, inputs, "lots", 61)
    assert tamper_check(artifacts, inputs, "lots", 59)


@pytest.mark.slow
def test_all_positions_move_when_initial_margin_cannot_be_restored(
    artifacts: toolchain.CompiledArtifacts, plan: list[LiquidationOutcome]
) -> None:
    inputs = plan[2].inputs  # account 4, market 1: 100 lots, closedAll = 1
    assert plan[2].public.closed_all and plan[2].lots == 100
    # After the whole market the account is still below IMR (closedAll = 1 = after.neg).
    assert (
        wire_value(artifacts, inputs, "closedAll") == 1
        and wire_value(artifacts, inputs, "after.abs") > 0
    )
    assert tamper_check(artifacts, inputs, "lots", 99)
    assert tamper_check(artifacts, inputs, "closedAll", 0)
    assert tamper_check(artifacts, inputs, "flatAfter", 1)


@pytest.mark.slow
def test_equity_at_mmr_after_funding_cannot_be_liquidated(
    tmp_path: Path, artifacts: toolchain.CompiledArtifacts
) -> None:
    """At MMR (after funding) only a continuation witness exists; with
    continuation = 0 the constraints refuse it. One unit below is accepted."""
    at_mmr = world({**SETTLED, 1: (500 - 10_000, (100, 0))}).book
    inputs = step(at_mmr, 1, 0, 56, continuation=True).inputs
    assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []
    assert wire_value(artifacts, inputs, "belowM.neg") == 0
    assert wire_value(artifacts, inputs, "belowM.abs") == 0
    with pytest.raises(WitnessError):
        toolchain.witness(artifacts, {**inputs, "continuation": 0}, tmp_path / "at.wtns")
    assert tamper_check(artifacts, inputs, "continuation", 0)
    below = world({**SETTLED, 1: (499 - 10_000, (100, 0))}).book
    ok = step(below, 1, 0, 56).inputs
    assert unsatisfied(artifacts, honest_witness(artifacts, ok)) == []
    assert wire_value(artifacts, ok, "belowM.neg") == 1


@pytest.mark.slow
def test_fee_cap_and_cover(
    artifacts: toolchain.CompiledArtifacts, plan: list[LiquidationOutcome]
) -> None:
    cover = plan[1].inputs  # account 3: equity -50 after funding, fee capped at 0
    assert wire_value(artifacts, cover, "cover") == 50
    assert wire_value(artifacts, cover, "feeRaw") == 10 and wire_value(artifacts, cover, "fee") == 0
    assert tamper_check(artifacts, cover, "fee", 10)  # the uncapped fee is refused
    assert tamper_check(artifacts, cover, "cover", 0)
    assert tamper_check(artifacts, cover, "flatAfter", 0)
    partial = plan[0].inputs
    assert tamper_check(artifacts, partial, "fee", 59)
    assert tamper_check(artifacts, partial, "feeRaw", 61)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("account", 0),
        ("account", 2),
        ("market", 1),
        ("balance", -9_340 + 1),
        ("positions[1]", 1),
        ("orderRoot", 1),
        ("nonce", 1),
        ("blindingNew", 5),
        ("fundBalance", 99_999),
        ("fundPositions[0]", 1),
        ("fundOrderRoot", 1),
        ("fundBlindingNew", 5),
        ("accSiblings[0][0]", 1),
        ("fundSiblings[1][2]", 1),
        ("continuation", 2),
        ("flatAfter", 1),
        ("newAccRoot", 1),
        ("oldAccRoot", 1),
        ("mmfBps[0]", 499),
        ("imfBps[0]", 999),
        ("liqFeeBps[0]", 99),
        ("funding[1]", 0),
        ("prices[0]", R - 1),
    ],
)
def test_tampered_step_fails(
    artifacts: toolchain.CompiledArtifacts,
    plan: list[LiquidationOutcome],
    name: str,
    value: int,
) -> None:
    assert tamper_check(artifacts, plan[0].inputs, name, value % R)
