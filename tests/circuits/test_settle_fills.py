"""SETTLE FILLS: valid groups bind their public inputs, boundaries hold exactly, tampered witnesses
fail (r1cs evaluation: the statements are compiled, never set up, in tests).

Orders are placed by ORDER OPS first (the builders chain through one
``AccountBook``); failing boundaries use ``check_rules=False`` so that the
circuit, not the Python builder, has to reject them.
"""

from dataclasses import replace

import pytest

from prover import toolchain
from prover.circuits import compile_statement_artifacts
from prover.errors import WitnessError
from prover.statements.settle_fills import PUBLIC, FillsError, GroupFill
from tests.circuits.conftest import honest_witness, public_signals, tamper_check
from tests.circuits.slot_market import (
    BATCH_ID,
    FEE_BPS,
    IMF_BPS,
    MMF_BPS,
    NOW,
    PARAMS,
    PRICES,
    SlotMarket,
)
from verifier.accounting import fee
from verifier.statements import settle_fills as statement

pytestmark = pytest.mark.slow

BUY, SELL = 0, 1


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compile_statement_artifacts("settle_fills", "test")


def crossing(m: SlotMarket, size: int = 5, *, buyer: int = 1, seller: int = 2) -> GroupFill:
    """Place a buy (buyer) and a sell (seller) of ``size`` at the mark; a fill of 3 lots."""
    buy = m.order(buyer, BUY, size, PRICES[0])
    sell = m.order(seller, SELL, size, PRICES[0])
    m.ops([m.place_op(buy), m.place_op(sell)])
    return GroupFill(buy, sell, 3)


def market(funding: tuple[int, int] = (0, 0)) -> SlotMarket:
    m = SlotMarket(funding=funding)
    m.open(0, 0)
    m.open(1, 100_000)
    m.open(2, 100_000)
    return m


def test_valid_group_binds_the_public_inputs(artifacts: toolchain.CompiledArtifacts) -> None:
    # R1CS evaluation, no key setup: the public signals of the honest witness
    # are what a proof would carry, and a changed public volume violates the
    # constraints.
    m = market()
    out = m.fills([crossing(m)])
    # The verifier's encoder, from public data only, gives the same inputs.
    assert public_signals(artifacts, out.inputs) == statement.public_inputs(
        old_acc_root=out.inputs["oldAccRoot"],  # type: ignore[arg-type]
        new_acc_root=m.book.root,
        batch_id=BATCH_ID,
        timestamp=NOW,
        prices=PRICES,
        funding=(0, 0),
        volume=(3, 0),
        fee_bps=FEE_BPS,
        imf_bps=IMF_BPS,
        mmf_bps=MMF_BPS,
    )
    assert tamper_check(artifacts, out.inputs, "volume[0]", 4)
    f = fee(3, PRICES[0], FEE_BPS[0])
    assert m.book.record(1).balance == 100_000 - 3 * PRICES[0] - f
    assert m.book.record(2).balance == 100_000 + 3 * PRICES[0] - f
    assert m.book.record(0).balance == 2 * f
    assert m.book.record(1).positions == (3, 0) and m.book.record(2).positions == (-3, 0)
    assert len(PUBLIC) == len(statement.PUBLIC_NAMES)


def test_partial_fill_then_exact_rest_then_one_more_lot(
    artifacts: toolchain.CompiledArtifacts,
) -> None:
    m = market()
    fill = crossing(m)
    m.fills([fill])
    rest = replace(fill, quantity=2)
    before = m.book.copy()
    out = m.fills([rest])  # exactly the remaining size: filled == size
    honest_witness(artifacts, out.inputs)
    m.book = before
    with pytest.raises(FillsError, match="exceed the order size"):
        m.fills([replace(fill, quantity=3)])
    over = m.fills([replace(fill, quantity=3)], check_rules=False)
    with pytest.raises(WitnessError):
        honest_witness(artifacts, over.inputs)


def test_funding_is_settled_before_the_trade(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    m.open(3, 50_000, positions=(4, -2))
    m.open(4, 50_000, positions=(-4, 2))
    m.funding = (7, -11)  # the indices moved since the accounts' checkpoints (0, 0)
    buy = m.order(3, BUY, 1, PRICES[0])
    sell = m.order(4, SELL, 1, PRICES[0])
    m.ops([m.place_op(buy), m.place_op(sell)])
    # order_ops already settled both accounts to (7, -11): move the index again.
    m.funding = (10, -20)
    out = m.fills([GroupFill(buy, sell, 1)])
    honest_witness(artifacts, out.inputs)
    f = fee(1, PRICES[0], FEE_BPS[0])
    paid_3 = 4 * 7 + (-2) * (-11) + 4 * 3 + (-2) * (-9)
    assert m.book.record(3).balance == 50_000 - paid_3 - PRICES[0] - f
    assert m.book.record(4).balance == 50_000 + paid_3 + PRICES[0] - f
    assert m.book.record(3).checkpoints == (10, -20)
    # The checkpoint is part of the leaf: a witness claiming the account had
    # already settled (checkpoint = current index) pays nothing and must fail.
    assert tamper_check(artifacts, out.inputs, "checkpoints[0][0][0]", 10)


def test_insurance_account_is_never_a_fill_side(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    fill = crossing(m)
    out = m.fills([fill])
    sell = m.order(0, SELL, 5, PRICES[0])
    with pytest.raises(FillsError, match="insurance account"):
        m.fills([GroupFill(fill.buy, sell, 1)])
    assert tamper_check(artifacts, out.inputs, "account[0][1]", 0)


def test_reduce_only_reduces_and_may_not_flip(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    m.fills([crossing(m)])  # account 1 long 3, account 2 short 3
    m.open(3, 100_000)
    close = m.order(1, SELL, 3, PRICES[0], order_id=2, reduce_only=True)
    cover = m.order(2, BUY, 4, PRICES[0], order_id=2, reduce_only=True)
    big = m.order(3, SELL, 5, PRICES[0])
    m.ops([m.place_op(close), m.place_op(cover)])
    m.ops([m.place_op(big)])
    start = m.book.copy()
    ok = m.fills([GroupFill(cover, close, 3)])  # both go flat: allowed
    honest_witness(artifacts, ok.inputs)
    assert m.book.record(1).positions == (0, 0) == m.book.record(2).positions
    m.book = start
    with pytest.raises(FillsError, match="reduce-only"):
        m.fills([GroupFill(cover, big, 4)])  # account 2 would go from -3 to +1
    flip = m.fills([GroupFill(cover, big, 4)], check_rules=False)
    with pytest.raises(WitnessError):
        honest_witness(artifacts, flip.inputs)
    # The flag is part of the signed commitment: dropping it breaks the slot opening.
    assert tamper_check(artifacts, ok.inputs, "reduceOnly[0][0]", 0)


def test_reducing_fill_passes_below_initial_margin(
    artifacts: toolchain.CompiledArtifacts,
) -> None:
    m = market()
    m.open(3, -9_500, positions=(10, 0))  # equity 500 < IMR 1,000 at mark 1,000
    m.open(4, 100_000, positions=(-10, 0))
    m.book.put(0, m.book.record(0))
    sell = m.order(3, SELL, 4, PRICES[0])
    buy = m.order(4, BUY, 4, PRICES[0])
    m.ops([m.place_op(buy), m.place_op(sell)])
    out = m.fills([GroupFill(buy, sell, 4)])
    honest_witness(artifacts, out.inputs)
    assert out.inputs["viaReduce"] == [[0, 1], [0, 0]]
    # Without the reduce path the seller is below IMR: the circuit refuses.
    assert tamper_check(artifacts, out.inputs, "viaReduce[0][1]", 0)


def test_a_fill_that_increases_exposure_below_margin_is_refused(
    artifacts: toolchain.CompiledArtifacts,
) -> None:
    m = market()
    m.open(3, 500)
    buy = m.order(3, BUY, 10, PRICES[0])
    sell = m.order(2, SELL, 10, PRICES[0])
    m.ops([m.place_op(buy), m.place_op(sell)])
    with pytest.raises(FillsError, match="initial margin"):
        m.fills([GroupFill(buy, sell, 10)])
    bad = m.fills([GroupFill(buy, sell, 10)], check_rules=False)
    with pytest.raises(WitnessError):
        honest_witness(artifacts, bad.inputs)


def test_margin_exactly_at_initial_margin_passes_one_unit_short_fails(
    artifacts: toolchain.CompiledArtifacts,
) -> None:
    """Account 3 buys 10 lots at 1,000 with fee 30: equity after = balance - 30, IMR 1,000."""
    for balance, ok in ((1_030, True), (1_029, False)):
        m = market()
        m.open(3, balance)
        buy = m.order(3, BUY, 10, PRICES[0])
        sell = m.order(2, SELL, 10, PRICES[0])
        m.ops([m.place_op(buy), m.place_op(sell)])
        if ok:
            out = m.fills([GroupFill(buy, sell, 10)])
            assert m.book.record(3).balance == balance - 10 * PRICES[0] - 30
            honest_witness(artifacts, out.inputs)
            continue
        with pytest.raises(FillsError, match="initial margin"):
            m.fills([GroupFill(buy, sell, 10)])
        short = m.fills([GroupFill(buy, sell, 10)], check_rules=False)
        with pytest.raises(WitnessError):
            honest_witness(artifacts, short.inputs)


def test_self_trade_is_consistent(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    buy = m.order(1, BUY, 5, PRICES[0], order_id=1)
    sell = m.order(1, SELL, 5, PRICES[0], order_id=2)
    m.ops([m.place_op(buy), m.place_op(sell)])
    out = m.fills([GroupFill(buy, sell, 5)])
    honest_witness(artifacts, out.inputs)
    f = fee(5, PRICES[0], FEE_BPS[0])
    assert m.book.record(1).positions == (0, 0)
    assert m.book.record(1).balance == 100_000 - 2 * f
    assert m.book.record(0).balance == 2 * f


def test_empty_group_moves_no_value(artifacts: toolchain.CompiledArtifacts) -> None:
    """A group with no fills (a batch with nothing to match) changes no balance or
    position and has zero volume; only the fee account's leaf is re-blinded."""
    m = market()
    before = m.book.copy()
    out = m.fills([])
    for index, record in before.records.items():
        after = m.book.record(index)
        assert (after.balance, after.positions) == (record.balance, record.positions)
    assert public_signals(artifacts, out.inputs) == statement.public_inputs(
        old_acc_root=before.root,
        new_acc_root=m.book.root,
        batch_id=BATCH_ID,
        timestamp=NOW,
        prices=PRICES,
        funding=(0, 0),
        volume=(0, 0),
        fee_bps=FEE_BPS,
        imf_bps=IMF_BPS,
        mmf_bps=MMF_BPS,
    )
    # Padding slots cannot smuggle volume or move the root.
    assert tamper_check(artifacts, out.inputs, "volume[0]", 1)
    assert tamper_check(artifacts, out.inputs, "active[0]", 1)
    assert tamper_check(artifacts, out.inputs, "feeBalance", 1)


def test_builder_refuses_bad_groups() -> None:
    m = market()
    fill = crossing(m)
    with pytest.raises(FillsError, match="slots"):
        m.fills([fill] * (PARAMS.group_fills + 1))
    with pytest.raises(FillsError, match="pairs a buy and a sell"):
        m.fills([GroupFill(fill.sell, fill.buy, 1)])
    with pytest.raises(FillsError, match="at least one lot"):
        m.fills([replace(fill, quantity=0)])
    no_fee = SlotMarket()
    no_fee.open(1, 1_000)
    with pytest.raises(FillsError, match="fee account"):
        no_fee.fills([])


def test_unplaced_order_cannot_fill(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    buy = m.order(1, BUY, 5, PRICES[0])
    sell = m.order(2, SELL, 5, PRICES[0])
    m.ops([m.place_op(buy)])
    with pytest.raises(FillsError, match="not placed"):
        m.fills([GroupFill(buy, sell, 1)])


def test_cancelled_order_never_fills(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    fill = crossing(m)
    m.ops([m.cancel_op(fill.sell)])
    assert m.book.slots[2][1].filled == 5
    with pytest.raises(FillsError, match="exceed the order size"):
        m.fills([fill])
    forced = m.fills([fill], check_rules=False)
    with pytest.raises(WitnessError):
        honest_witness(artifacts, forced.inputs)


def test_limit_and_expiry_boundaries(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    fill = crossing(m)
    at_expiry = m.fills([fill], timestamp=NOW + 60)  # expiry == timestamp is allowed
    honest_witness(artifacts, at_expiry.inputs)
    m2 = market()
    fill2 = crossing(m2)
    late = m2.fills([fill2], timestamp=NOW + 61, check_rules=False)
    with pytest.raises(WitnessError):
        honest_witness(artifacts, late.inputs)
    m3 = market()
    fill3 = crossing(m3)
    above = m3.fills([fill3], prices=(PRICES[0] + 1, PRICES[1]), check_rules=False)
    with pytest.raises(WitnessError):  # the buy's limit is the old mark
        honest_witness(artifacts, above.inputs)
    # The sell side: a sell limited one unit above the mark does not fill at the mark.
    m4 = market()
    buy = m4.order(1, BUY, 5, PRICES[0])
    sell = m4.order(2, SELL, 5, PRICES[0] + 1)
    m4.ops([m4.place_op(buy), m4.place_op(sell)])
    with pytest.raises(FillsError, match="beyond the limit"):
        m4.fills([GroupFill(buy, sell, 1)])
    below = m4.fills([GroupFill(buy, sell, 1)], check_rules=False)
    with pytest.raises(WitnessError):
        honest_witness(artifacts, below.inputs)


@pytest.mark.parametrize(
    ("signal", "delta"),
    [
        ("quantity[0]", 1),
        ("filledBefore[0][0]", 1),
        ("balance[0][1]", 1),
        ("positions[0][0][0]", 1),
        ("orderId[0][1]", 4),
        ("size[0][0]", 1),
        ("salt[0][1]", 1),
        ("blindingNew[0][0]", 1),
        ("feeBalance", 1),
        ("active[1]", 1),
        ("market[0]", 1),
    ],
)
def test_tampered_witness_fails(
    artifacts: toolchain.CompiledArtifacts, signal: str, delta: int
) -> None:
    m = market()
    out = m.fills([crossing(m)])
    honest = honest_witness(artifacts, out.inputs)
    from tests.circuits.conftest import symbols

    wire = symbols(artifacts.sym).wire(signal)
    assert tamper_check(artifacts, out.inputs, signal, honest.values[wire] + delta)
