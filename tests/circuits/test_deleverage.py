"""AUTO-DELEVERAGING on the account-state leaf: the plan, boundaries, tampering, the verifier's rules.

Compile only (no key setup): the circuit's R1CS is evaluated on witnesses
from its own generator (test profile: 16 accounts in 2 quaternary levels, 2
markets). Funding is pending as in the liquidate test: every
checkpoint is (0, 0) and the indices are now (2, -1), so the balances the
rules see are the stored ones minus the payment.

The world: account 1 is long 10 in market 0 and short 100 in market 1 with
equity -50 after funding; the fund (index 0) holds 20, so 30 is left for
ADL. Split by notional (1000 vs 700): 18 and 12, bankruptcy prices 102
(long sells above the mark 100) and 6 (short buys below the mark 7). The
trades come from the pure domain engine (``exchange.domain.liquidation``)
run on the settled balances: the circuit must accept exactly what it does.
Market 0's shorts rank 2 (key 13,334) before 3 (1,905; partly closed);
market 1's longs 5 (7,369) before 4 (3,828). Boundary named by issue 11:
the fund covering exactly the loss admits no ADL, one unit short does.
"""

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from exchange.domain.liquidation import liquidate
from exchange.domain.margin import RiskParams
from exchange.domain.matching import AccountEntry
from prover import toolchain
from prover.errors import WitnessError
from prover.statements import deleverage as stmt
from prover.statements.deleverage import DeleverageOutcome, build_deleveraging
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
from verifier.statements import deleverage as vd
from verifier.statements.deleverage import (
    DeleverageError,
    DeleverageTradePublic,
    check_trades,
    rank_key,
)

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "deleverage.circom"
PRICES = (100, 7)
RISK = RiskParams((1000, 2000), (500, 1000), (100, 0))
FUNDING = (2, -1)
Settled = dict[int, tuple[int, tuple[int, int]]]

SETTLED: Settled = {
    0: (20, (0, 0)),
    1: (-350, (10, -100)),  # equity -350 + 1000 - 700 = -50
    2: (700, (-4, 0)),  # equity 300, notional 400: key 1 + 4_000_000 // 300
    3: (5_000, (-8, 0)),  # equity 4_200, notional 800
    4: (1_000, (2, 60)),  # equity 1_620, notional 620
    5: (100, (0, 40)),  # equity 380, notional 280
}
# (counterparty, market, lots, price) of the domain's plan.
PLAN = [(2, 0, 4, 102), (3, 0, 6, 102), (5, 1, 40, 6), (4, 1, 60, 6)]


def payment(positions: tuple[int, ...]) -> int:
    return sum(s * f for s, f in zip(positions, FUNDING, strict=True))


def world(settled: Settled = SETTLED) -> SlotMarket:
    m = SlotMarket()
    for i, (balance, positions) in settled.items():
        m.open(i, balance + payment(positions), positions=positions)
    return m


def domain_plan(settled: Settled = SETTLED) -> list[tuple[int, int, int, int]]:
    book = {i: AccountEntry(b, p) for i, (b, p) in settled.items()}
    _, record = liquidate(book, 1, PRICES, RISK)
    return [(d.counterparty, d.market, d.lots, d.price) for d in record.deleveraging]


def trades(settled: Settled = SETTLED) -> list[DeleverageOutcome]:
    return build_deleveraging(
        world(settled).book,
        bankrupt=1,
        trades=domain_plan(settled),
        prices=PRICES,
        funding=FUNDING,
        new_blinding=iter(range(5_000, 6_000)).__next__,
    )


def check(pubs: list[DeleverageTradePublic], shortfall: int = 30) -> tuple[int, list[str]]:
    return check_trades(
        pubs,
        bankrupt=1,
        shortfall=shortfall,
        start_root=world().book.root,
        prices=PRICES,
        funding=FUNDING,
    )


# ---------------------------------------------------------------- fast: builder and rules


def test_public_matches_declaration_order() -> None:
    declared = proving.declared_public_inputs(CIRCUIT, "DeleverageStep", "// Private")
    assert declared == stmt.PUBLIC == list(vd.PUBLIC_NAMES)


def test_domain_plan_matches_the_statement() -> None:
    assert domain_plan() == PLAN
    out = trades()
    assert [o.public.rank_key for o in out] == [13_334, 1_905, 7_369, 3_828]
    assert [o.public.counterparty_closed for o in out] == [True, False, True, True]
    assert out[0].cover == 20 and out[0].shortfall == 30 and out[0].public.first
    book = out[-1].book
    # The bankrupt ends flat with a dust balance: -350 + 20 + 10 * 102 - 100 * 6.
    assert book.record(1).positions == (0, 0) and book.record(1).balance == 90
    assert book.record(0).balance == 0 and book.record(3).positions == (-2, 0)
    # Account 5 (settled 100) sells its 40 longs at 6, one below the mark: it absorbs 40.
    assert book.record(5).balance == 100 + 40 * 6
    # Funding settled on every touched leaf; conservation of positions and balances.
    assert all(book.record(i).checkpoints == FUNDING for i in range(6))
    for m in range(2):
        assert sum(book.record(i).positions[m] for i in range(6)) == 0
    settled_total = sum(b for b, _ in SETTLED.values())
    assert sum(book.record(i).balance for i in range(6)) == settled_total
    decoded = [DeleverageTradePublic.from_signals(o.public_inputs, 2) for o in out]
    assert decoded == [o.public for o in out]
    assert check(decoded) == (book.root, [])


def test_rank_key_is_leverage_in_bps_plus_one() -> None:
    assert rank_key(700, (-4, 0), PRICES) == 1 + 4_000_000 // 300
    assert rank_key(-400, (4, 0), PRICES) == 0  # equity 0
    assert rank_key(-500, (4, 0), PRICES) == 0  # equity < 0
    assert rank_key(10**9, (1, 0), PRICES) == 1  # tiny leverage still above equity <= 0


def test_check_trades_rejects_ranking_price_and_sequence_violations() -> None:
    pubs = [o.public for o in trades()]

    def reasons(seq: list[DeleverageTradePublic], shortfall: int = 30) -> str:
        return " | ".join(check(seq, shortfall)[1])

    swapped = [replace(pubs[0], rank_key=1_000), *pubs[1:]]
    assert "rank key 1905 is out of the ADL ranking (after key 1000, account 2)" in reasons(swapped)
    assert "price 103 is not the bankruptcy price 102" in reasons(
        [replace(pubs[0], price=103), *pubs[1:]]
    )
    assert "shortfall 30, the entry says 31" in reasons(pubs, shortfall=31)
    assert "only trade 0 pays" in reasons([pubs[0], replace(pubs[1], first=True), *pubs[2:]])
    assert "oldAccRoot does not follow" in reasons([pubs[0], *pubs[2:]])
    assert "still holds positions after ADL" in reasons(pubs[:3])
    assert "closes market 1 before market 0" in reasons([replace(pubs[0], market=1)])
    assert "funding indices differ" in reasons([replace(pubs[0], funding=(2, 0)), *pubs[1:]])
    assert "prices differ" in reasons([replace(pubs[0], prices=(101, 7)), *pubs[1:]])
    assert "deleverages account 2" in reasons([replace(pubs[0], bankrupt=2), *pubs[1:]])
    assert check([])[1] == ["a deleveraging has at least one trade"]
    # The fund ranks last whatever its key.
    fund_last = [replace(pubs[0], counterparty=0, rank_key=99_999), *pubs[1:]]
    assert "out of the ADL ranking (after the fund" in reasons(fund_last)
    with pytest.raises(DeleverageError, match="expected 17 public signals"):
        DeleverageTradePublic.from_signals([0] * 15, 2)
    with pytest.raises(DeleverageError, match="0 or 1"):
        DeleverageTradePublic.from_signals([0, 0, 1, 2, 0, 2, *([0] * 11)], 2)
    with pytest.raises(DeleverageError, match="never deleveraged"):
        replace(pubs[0], bankrupt=0).signals()
    with pytest.raises(DeleverageError, match="against itself"):
        replace(pubs[0], counterparty=1).signals()


def test_builder_refuses_what_the_circuit_refuses() -> None:
    book = world().book
    fund_covers = world({**SETTLED, 0: (50, (0, 0))}).book

    def one(b: object, **kw: object) -> DeleverageOutcome:
        args: dict[str, object] = {
            "bankrupt": 1,
            "counterparty": 2,
            "market": 0,
            "lots": 4,
            "price": 102,
            "first": True,
            "prices": PRICES,
            "funding": FUNDING,
            **kw,
        }
        return stmt.build_deleverage_trade(b, **args)  # type: ignore[arg-type]

    with pytest.raises(DeleverageError, match="the fund can cover this account"):
        one(fund_covers)
    with pytest.raises(DeleverageError, match="does not hold the opposite side"):
        one(book, counterparty=4)
    with pytest.raises(DeleverageError, match="smaller of the two sides"):
        one(book, lots=3)
    with pytest.raises(DeleverageError, match="never deleveraged"):
        one(book, bankrupt=0)
    with pytest.raises(DeleverageError, match="not open"):
        one(book, counterparty=9)
    # A refused trade leaves the caller's book as it was.
    assert book.root == world().book.root and book.record(0).checkpoints == (0, 0)


@st.composite
def bankrupt_worlds(draw: st.DrawFn) -> tuple[Settled, tuple[int, int]]:
    """A fund, a bankrupt account 1 beyond the fund's cover, and 2-4 other traders;
    positions sum to zero per market (account 1 holds the opposite of the rest)."""
    marks = (draw(st.integers(1, 300)), draw(st.integers(1, 300)))
    fund_balance = draw(st.integers(0, 500))
    settled: Settled = {0: (fund_balance, (0, 0))}
    sides = st.tuples(st.integers(-30, 30), st.integers(-30, 30))
    for i in range(2, 2 + draw(st.integers(2, 4))):
        settled[i] = (draw(st.integers(-2_000, 50_000)), draw(sides))
    positions = tuple(-sum(p[m] for _, p in settled.values()) for m in range(2))
    loss = draw(st.integers(fund_balance + 1, fund_balance + 5_000))
    value = sum(s * p for s, p in zip(positions, marks, strict=True))
    settled[1] = (-value - loss, (positions[0], positions[1]))
    return settled, marks


@settings(max_examples=25, deadline=None)
@given(bankrupt_worlds())
def test_every_domain_adl_plan_is_a_valid_statement_sequence(
    case: tuple[Settled, tuple[int, int]],
) -> None:
    """Property: whatever the book, the domain's ADL plan builds (every rule the circuit
    enforces), passes ``check_trades`` and ends where the domain ends: same balances
    and positions for every account, sums conserved, the bankrupt flat."""
    settled, marks = case
    assume(any(settled[1][1]))
    book = {i: AccountEntry(b, p) for i, (b, p) in settled.items()}
    new_book, record = liquidate(book, 1, marks, RISK)
    assert record.shortfall > 0 and record.deleveraging
    plan = [(d.counterparty, d.market, d.lots, d.price) for d in record.deleveraging]
    start = world(settled).book
    out = build_deleveraging(start, bankrupt=1, trades=plan, prices=marks, funding=FUNDING)
    root, reasons = check_trades(
        [o.public for o in out],
        bankrupt=1,
        shortfall=record.shortfall,
        start_root=start.root,
        prices=marks,
        funding=FUNDING,
    )
    end = out[-1].book
    assert reasons == [] and root == end.root
    touched = {0, 1, *(d.counterparty for d in record.deleveraging)}
    for i in touched:
        assert (end.record(i).balance, end.record(i).positions) == tuple(new_book[i])
    assert end.record(1).positions == (0, 0)
    for m in range(2):
        assert sum(end.record(i).positions[m] for i in settled) == 0
    assert sum(end.record(i).balance for i in touched) == sum(settled[i][0] for i in touched)
    # Every market's counterparties come in the published order (fund last).
    for m in range(2):
        keys = [vd.rank_order(o.public.counterparty, o.public.rank_key) for o in out]
        in_market = [k for k, o in zip(keys, out, strict=True) if o.public.market == m]
        assert in_market == sorted(in_market)


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compiled_statement("deleverage")


@pytest.fixture(scope="module")
def plan() -> list[DeleverageOutcome]:
    return trades()


@pytest.mark.slow
def test_every_trade_satisfies_the_r1cs_with_the_encoders_inputs(
    artifacts: toolchain.CompiledArtifacts, plan: list[DeleverageOutcome]
) -> None:
    for o in plan:
        assert unsatisfied(artifacts, honest_witness(artifacts, o.inputs)) == []
        assert public_signals(artifacts, o.inputs) == o.public.signals() == o.public_inputs


@pytest.mark.slow
def test_fund_exactly_covering_admits_no_adl_one_unit_short_does(
    tmp_path: Path, artifacts: toolchain.CompiledArtifacts
) -> None:
    """Fund 49 vs a loss of 50: ADL of shortfall 1. Fund 50: no witness exists.

    Both funds pay everything (their new leaf is the same), so the fund-50
    witness is the fund-49 one with the fund's stored balance and the old root
    changed; the shortfall range check refuses it for every claimed shortfall.
    """
    short = {**SETTLED, 0: (49, (0, 0))}
    first = trades(short)[0]
    assert first.shortfall == 1 and wire_value(artifacts, first.inputs, "cover") == 49
    assert unsatisfied(artifacts, honest_witness(artifacts, first.inputs)) == []
    covers = world({**SETTLED, 0: (50, (0, 0))}).book
    forged = {**first.inputs, "fundBalance": 50, "oldAccRoot": covers.root}
    for claimed in (0, 1):
        with pytest.raises(WitnessError):
            toolchain.witness(
                artifacts, {**forged, "shortfall": claimed}, tmp_path / f"c{claimed}.wtns"
            )
    # In the R1CS: the honest shortfall-1 witness with a claimed 0 fails.
    assert tamper_check(artifacts, first.inputs, "shortfall", 0)
    assert tamper_check(artifacts, first.inputs, "cover", 48)


@pytest.mark.slow
def test_the_fund_is_deleveraged_last(artifacts: toolchain.CompiledArtifacts) -> None:
    """The fund (index 0) holding the opposite side closes after every trader, whatever
    its key, at its leaf as rewritten by trade 0's cover (it settles nothing twice)."""
    settled: Settled = {
        **SETTLED,
        0: (220, (-2, 0)),  # equity 20 at the marks: it pays 20, as before
        3: (5_000, (-4, 0)),
        4: (1_000, (0, 60)),
    }
    plan = domain_plan(settled)
    assert plan[:3] == [(2, 0, 4, 102), (3, 0, 4, 102), (0, 0, 2, 102)]
    out = trades(settled)
    assert out[0].cover == 20 and out[2].public.counterparty == 0
    for o in out:
        assert unsatisfied(artifacts, honest_witness(artifacts, o.inputs)) == []
    root, reasons = check_trades(
        [o.public for o in out],
        bankrupt=1,
        shortfall=30,
        start_root=world(settled).book.root,
        prices=PRICES,
        funding=FUNDING,
    )
    assert reasons == [] and root == out[-1].book.root
    assert out[-1].book.record(0).positions == (0, 0)


@pytest.mark.slow
def test_rank_key_and_funding_are_bound(
    artifacts: toolchain.CompiledArtifacts, plan: list[DeleverageOutcome]
) -> None:
    inputs = plan[0].inputs
    assert wire_value(artifacts, inputs, "keyQuotient") == 13_333
    assert tamper_check(artifacts, inputs, "rankKey", 13_335)
    assert tamper_check(artifacts, inputs, "rankKey", 0)
    assert tamper_check(artifacts, inputs, "keyQuotient", 13_332)
    assert tamper_check(artifacts, inputs, "keyRemainder", 100 + 300)
    assert tamper_check(artifacts, inputs, "cpCheckpoints[0]", 2)
    assert tamper_check(artifacts, inputs, "checkpoints[1]", -1 % R)
    assert tamper_check(artifacts, inputs, "funding[0]", 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trade", "name", "value"),
    [
        (0, "first", 0),
        (0, "bankrupt", 0),
        (0, "counterparty", 3),
        (0, "counterparty", 1),
        (0, "market", 1),
        (0, "lots", 3),
        (0, "price", 103),
        (0, "counterpartyClosed", 0),
        (1, "counterpartyClosed", 1),
        (1, "lots", 8),
        (0, "bankruptPositions[0]", 9),
        (0, "balance", 1),
        (0, "cpBalance", 1),
        (0, "cpPositions[0]", 4),
        (0, "fundBalance", 21),
        (0, "fundBlindingNew", 1),
        (0, "blindingNew", 1),
        (0, "cpBlindingNew", 1),
        (0, "accSiblings[0][0]", 1),
        (0, "cpSiblings[1][2]", 1),
        (0, "fundSiblings[0][1]", 1),
        (0, "oldAccRoot", 1),
        (0, "newAccRoot", 1),
        (0, "prices[0]", 101),
        (2, "prices[1]", 8),
        (2, "oldAccRoot", 1),
        (3, "rankKey", 7_370),
        (2, "first", 1),
    ],
)
def test_tampered_trade_fails(
    artifacts: toolchain.CompiledArtifacts,
    plan: list[DeleverageOutcome],
    trade: int,
    name: str,
    value: int,
) -> None:
    assert tamper_check(artifacts, plan[trade].inputs, name, value % R)


@pytest.mark.slow
def test_later_trades_leave_the_shortfall_to_the_verifier(
    artifacts: toolchain.CompiledArtifacts, plan: list[DeleverageOutcome]
) -> None:
    """Only trade 0 proves the shortfall; on later trades the circuit leaves it free and
    ``check_trades`` binds it to the entry's (so every trade's public price rests on it)."""
    assert tamper_check(artifacts, plan[1].inputs, "shortfall", 31) == []
    pubs = [o.public for o in plan]
    _, reasons = check([pubs[0], replace(pubs[1], shortfall=31), *pubs[2:]])
    assert reasons == ["ADL trade 1 (counterparty 3): shortfall 31, the entry says 30"]
