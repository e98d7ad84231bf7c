"""ORDER OPS: places and cancels bind their public inputs (``places[K]`` / ``cancels[K]``), slot
rules hold in-circuit, tampered witnesses fail (r1cs evaluation: the statements are
compiled, never set up, in tests)."""

import pytest

from prover import toolchain
from prover.circuits import compile_statement_artifacts
from prover.errors import WitnessError
from prover.statements.order_ops import OpsError
from tests.circuits.conftest import honest_witness, public_signals, symbols, tamper_check
from tests.circuits.slot_market import BATCH_ID, PARAMS, PRICES, TAGS, SlotMarket
from verifier.account_state import order_hash
from verifier.statements import order_ops as statement

pytestmark = pytest.mark.slow

BUY, SELL = 0, 1


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compile_statement_artifacts("order_ops", "test")


def market() -> SlotMarket:
    m = SlotMarket(funding=(3, -4))
    m.open(0, 0)
    m.open(1, 100_000, positions=(2, 0))
    m.open(2, 100_000)
    return m


def test_place_and_cancel_bind_the_public_inputs(artifacts: toolchain.CompiledArtifacts) -> None:
    # R1CS evaluation, no key setup: the public signals of the honest witness
    # are what a proof would carry, and a changed public input (a ledger
    # naming another cancelled or placed order) violates the constraints.
    m = market()
    buy = m.order(1, BUY, 5, PRICES[0])
    m.ops([m.place_op(buy)])
    old_root = m.book.root
    sell = m.order(2, SELL, 5, PRICES[0])
    out = m.ops([m.cancel_op(buy), m.place_op(sell)])
    h, h_sell = order_hash(TAGS.order, buy), order_hash(TAGS.order, sell)
    assert (out.cancels, out.places) == ((h,), (h_sell,))
    # Per op: op 0 cancels, op 1 places.
    assert (out.cancel_signals, out.place_signals) == ((h, 0), (0, h_sell))
    assert public_signals(artifacts, out.inputs) == statement.public_inputs(
        old_acc_root=old_root,
        new_acc_root=m.book.root,
        batch_id=BATCH_ID,
        funding=(3, -4),
        cancels=[h],
        places=[0, h_sell],
        op_slots=PARAMS.op_slots,
    )
    other = order_hash(TAGS.order, m.order(1, BUY, 6, PRICES[0]))
    assert tamper_check(artifacts, out.inputs, "cancels[0]", other)
    assert tamper_check(artifacts, out.inputs, "newAccRoot", old_root)
    assert m.book.slots[1][1].filled == 5


def test_places_publish_every_placed_order(artifacts: toolchain.CompiledArtifacts) -> None:
    """places[j] is the commitment op j writes: a ledger cannot hide a placed order.

    Setting a place's public commitment to 0 (the order placed privately) or
    to another order, or giving a cancel or an unused op a place, leaves the
    honest witness unsatisfied; so does changing the placed order's private
    terms under its public commitment.
    """
    m = market()
    order = m.order(1, BUY, 5, PRICES[0])
    out = m.ops([m.place_op(order)])
    h = order_hash(TAGS.order, order)
    assert out.place_signals == (h, 0) and out.cancel_signals == (0, 0)
    assert public_signals(artifacts, out.inputs)[-PARAMS.op_slots :] == [h, 0]
    other = order_hash(TAGS.order, m.order(2, SELL, 5, PRICES[0]))
    assert tamper_check(artifacts, out.inputs, "places[0]", 0)
    assert tamper_check(artifacts, out.inputs, "places[0]", other)
    assert tamper_check(artifacts, out.inputs, "places[1]", other)  # an unused op
    assert tamper_check(artifacts, out.inputs, "limitPrice[0]", PRICES[0] + 1)
    cancelled = m.ops([m.cancel_op(order)])
    assert cancelled.place_signals == (0, 0)
    assert tamper_check(artifacts, cancelled.inputs, "places[0]", h)  # a cancel places nothing


def test_an_op_cannot_both_cancel_and_place() -> None:
    with pytest.raises(OpsError, match="op 0 both cancels and places"):
        statement.public_inputs(
            old_acc_root=1,
            new_acc_root=2,
            batch_id=BATCH_ID,
            funding=(0, 0),
            cancels=[5],
            places=[5],
            op_slots=PARAMS.op_slots,
        )


def test_placing_settles_funding(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    out = m.ops([m.place_op(m.order(1, BUY, 5, PRICES[0]))])
    honest_witness(artifacts, out.inputs)
    assert m.book.record(1).balance == 100_000  # checkpoints were already (3, -4)
    m.funding = (8, -4)
    out = m.ops([m.place_op(m.order(1, BUY, 5, PRICES[0], order_id=2))])
    honest_witness(artifacts, out.inputs)
    assert m.book.record(1).balance == 100_000 - 2 * 5
    assert tamper_check(artifacts, out.inputs, "checkpoints[0][0]", 8)


def test_forged_signature_is_refused(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    forged = m.place_op(m.order(1, BUY, 5, PRICES[0]), signer=2)
    with pytest.raises(OpsError, match="not signed by the account owner"):
        m.ops([forged])
    out = m.ops([forged], check_rules=False)
    with pytest.raises(WitnessError):
        honest_witness(artifacts, out.inputs)


def test_newer_id_recycles_a_slot_and_older_never_returns(
    artifacts: toolchain.CompiledArtifacts,
) -> None:
    m = market()
    first = m.order(1, BUY, 5, PRICES[0], order_id=1)
    newer = m.order(1, BUY, 5, PRICES[0], order_id=1 + 4**PARAMS.slot_levels)  # same slot
    m.ops([m.place_op(first)])
    out = m.ops([m.place_op(newer)])
    honest_witness(artifacts, out.inputs)
    with pytest.raises(OpsError, match="newer order"):
        m.ops([m.place_op(first)])
    # The circuit refuses it too: the forced witness claims slot content it cannot open,
    # and the honest old content (a newer id) fails the id order.
    assert tamper_check(artifacts, out.inputs, "orderId[0]", 0)


def test_placing_twice_is_refused_in_circuit(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    order = m.order(1, BUY, 5, PRICES[0])
    m.ops([m.place_op(order)])
    with pytest.raises(OpsError, match="already placed"):
        m.ops([m.place_op(order)])
    out = m.ops([m.cancel_op(order)])
    # Turning the cancel into a place (which would reset filled to 0) breaks constraints.
    assert tamper_check(artifacts, out.inputs, "isCancel[0]", 0)


def test_insurance_account_places_nothing(artifacts: toolchain.CompiledArtifacts) -> None:
    m = market()
    with pytest.raises(OpsError, match="insurance fund"):
        m.ops([m.place_op(m.order(0, BUY, 5, PRICES[0]))])
    out = m.ops([m.place_op(m.order(1, BUY, 5, PRICES[0]))])
    assert tamper_check(artifacts, out.inputs, "account[0]", 0)


@pytest.mark.parametrize(
    "signal",
    [
        "size[0]",
        "oldFilled[0]",
        "balance[0]",
        "cancels[0]",
        "places[0]",
        "places[1]",
        "blindingNew[0]",
        "active[1]",
    ],
)
def test_tampered_witness_fails(artifacts: toolchain.CompiledArtifacts, signal: str) -> None:
    m = market()
    order = m.order(1, BUY, 5, PRICES[0])
    m.ops([m.place_op(order)])
    out = m.ops([m.cancel_op(order)])
    honest = honest_witness(artifacts, out.inputs)
    wire = symbols(artifacts.sym).wire(signal)
    assert tamper_check(artifacts, out.inputs, signal, honest.values[wire] + 1)
