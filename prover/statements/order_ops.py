"""Witnesses for ORDER OPS (``circuits/order_ops.circom``): place and cancel orders in their slots.

``build_order_ops`` takes the operator's ``AccountBook`` and up to
``op_slots`` ops (cancels first, then places, in the batch's order), checks
every rule the circuit enforces, applies them to a COPY of the book in the
circuit's order and returns the circuit input, the public inputs and the new
book. Pure: never runs node; ``prover.toolchain`` proves.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from prover.account_book import AccountBook, BookError, BookOutcome, SlotContent, random_blinding
from prover.circuits import Tags
from prover.statements.layout import named_public_inputs
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.babyjub import Point
from verifier.eddsa import Signature, SignatureError, check_signature
from verifier.field import FieldError, signed_to_field
from verifier.params import BALANCE_BITS, CircuitParams
from verifier.statements import order_ops as public
from verifier.statements.order_ops import OpsError

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "OpsError",
    "OrderOp",
    "OrderOpsOutcome",
    "build_order_ops",
    "template_args",
]

TEMPLATE = "OrderOps"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """OrderOps(ACC_LEVELS, SLOT_LEVELS, M, K, ORDER_TAG, CANCEL_TAG)."""
    return [
        params.account_levels,
        params.slot_levels,
        params.markets,
        params.op_slots,
        tags.order,
        tags.cancel,
    ]


@dataclass(frozen=True)
class OrderOp:
    """Place ``order`` (signature over h) or cancel it (signature over Poseidon(CANCEL_TAG, h))."""

    order: SlottedOrder
    signature: Signature
    cancel: bool = False


@dataclass(frozen=True)
class OrderOpsOutcome(BookOutcome):
    """``BookOutcome``, the cancelled and the placed commitments.

    ``cancels`` / ``places`` list the commitments in op order (cancel ops /
    place ops only); ``cancel_signals`` / ``place_signals`` are the public
    ``cancels[K]`` / ``places[K]``: one per op slot, 0 where op j does not
    cancel / place (the ledger's ``"cancels"`` / ``"places"``).
    """

    cancels: tuple[int, ...]
    places: tuple[int, ...]
    cancel_signals: tuple[int, ...]
    place_signals: tuple[int, ...]


def build_order_ops(
    book: AccountBook,
    ops: Sequence[OrderOp],
    *,
    tags: Tags,
    batch_id: int,
    funding: Sequence[int],
    new_blinding: Callable[[], int] = random_blinding,
    check_rules: bool = True,
) -> OrderOpsOutcome:
    """Check and apply ``ops`` in order; raise OpsError naming the first op that breaks a rule.

    ``check_rules=False`` skips the signature check only, so tests can show
    the circuit itself rejects a forged authorisation.
    """
    params = book.params
    k, m = params.op_slots, params.markets
    if len(ops) > k:
        raise OpsError(f"{len(ops)} ops exceed the proof's {k} op slots")
    if len(funding) != m:
        raise OpsError(f"funding has {len(funding)} entries, expected {m}")
    work = book.copy()
    old_root = work.root
    rows: list[dict[str, object]] = []
    cancel_signals: list[int] = []
    place_signals: list[int] = []
    for number, op in enumerate(ops):
        where = f"op {number}"
        order = op.order
        try:
            order.check_ranges(m, params.account_depth)
            record = work.record(order.account)
        except (FieldError, BookError) as exc:
            raise OpsError(f"{where}: {exc}") from exc
        h = order_hash(tags.order, order)
        message = cancel_order_message(tags.cancel, h) if op.cancel else h
        if check_rules:
            try:
                check_signature(message, op.signature, Point(record.pub_x, record.pub_y))
            except SignatureError as exc:
                raise OpsError(f"{where}: not signed by the account owner ({exc})") from exc
        slot, old = work.slot_of(order.account, order.order_id)
        if old is not None and old.order_id == order.order_id:
            if old.commitment != h:
                raise OpsError(f"{where}: slot {slot} holds another order with this id")
            if not op.cancel:
                raise OpsError(f"{where}: the order is already placed")
        elif old is not None and old.order_id > order.order_id:
            raise OpsError(f"{where}: slot {slot} holds a newer order; this one is finished")
        slot_path = work.slot_trees[order.account].path(slot)
        opening = work.opening(order.account)
        settled = work.settle_funding(record, funding)
        try:
            signed_to_field(settled.balance, BALANCE_BITS, "balance after funding")
        except FieldError as exc:
            raise OpsError(f"{where}: {exc}") from exc
        new_root = work.write_slot(
            order.account,
            SlotContent(order.order_id, order.size if op.cancel else 0, h),
        )
        new_record = replace(settled, order_root=new_root, blinding=new_blinding())
        work.put(order.account, new_record)
        cancel_signals.append(h if op.cancel else 0)
        place_signals.append(0 if op.cancel else h)
        rows.append(
            {
                "active": 1,
                "isCancel": int(op.cancel),
                "account": order.account,
                "orderId": order.order_id,
                "market": order.market,
                "side": order.side,
                "size": order.size,
                "limitPrice": order.limit_price,
                "expiry": order.expiry,
                "reduceOnly": order.flags,
                "salt": order.salt,
                "oldId": old.order_id if old else 0,
                "oldFilled": old.filled if old else 0,
                "oldH": old.commitment if old else 0,
                "slotSiblings": [list(s) for s in slot_path.siblings],
                **opening,
                "blindingNew": new_record.blinding,
                "sigR8x": op.signature.R8.x,
                "sigR8y": op.signature.R8.y,
                "sigS": op.signature.S,
            }
        )
    pub = public.public_inputs(
        old_acc_root=old_root,
        new_acc_root=work.root,
        batch_id=batch_id,
        funding=funding,
        cancels=cancel_signals,
        places=place_signals,
        op_slots=k,
    )
    inputs = named_public_inputs(pub, PUBLIC, {"funding": m, "cancels": k, "places": k})
    blank = _blank_row(work)
    for name in blank:
        inputs[name] = [row[name] for row in rows] + [blank[name]] * (k - len(rows))
    padding = [0] * (k - len(rows))
    return OrderOpsOutcome(
        inputs=inputs,
        public_inputs=pub,
        cancels=tuple(h for h in cancel_signals if h),
        places=tuple(h for h in place_signals if h),
        cancel_signals=tuple(cancel_signals + padding),
        place_signals=tuple(place_signals + padding),
        book=work,
    )


def _blank_row(book: AccountBook) -> dict[str, object]:
    return book.blank_opening(
        "active",
        "isCancel",
        "account",
        "orderId",
        "market",
        "side",
        "size",
        "limitPrice",
        "expiry",
        "reduceOnly",
        "salt",
        "oldId",
        "oldFilled",
        "oldH",
        "sigR8x",
        "sigR8y",
        "sigS",
    )
