"""Public inputs of ORDER OPS (``circuits/order_ops.circom``), recomputed from ledger data.

ORDER OPS proofs open a batch of the recycling-order design: they write
orders into their accounts' slots (place: authorised once by the owner's
signature, checked in-circuit) and execute cancels (the slot is set to
filled = size). Both are public, per op: ``places[j]`` is the order
commitment h a place op writes and ``cancels[j]`` the h a cancel op cancels
(0 for the other kind and for an unused op). The verifier can then require
that every placed order is an ``order`` entry published earlier and not
placed before (time priority: no order reaches a slot, and so no fill,
without its public record), and that every cancel entry accepted before the
batch is executed by the batch's ORDER OPS proofs, before any fill.

Pure: never imports prover/ or exchange/, never runs node.
"""

from collections.abc import Sequence

from verifier.field import require_canonical, signed_to_field
from verifier.params import FUNDING_BITS

__all__ = ["PUBLIC_NAMES", "OpsError", "public_inputs"]

PUBLIC_NAMES: tuple[str, ...] = (
    "oldAccRoot",
    "newAccRoot",
    "batchId",
    "funding",
    "cancels",
    "places",
)


class OpsError(ValueError):
    """Order-op data is malformed or out of range."""


def public_inputs(
    *,
    old_acc_root: int,
    new_acc_root: int,
    batch_id: int,
    funding: Sequence[int],
    cancels: Sequence[int],
    places: Sequence[int],
    op_slots: int,
) -> list[int]:
    """Public inputs in declaration order.

    ``cancels`` / ``places`` are per op, in op order (op j at position j),
    at most ``op_slots`` each and padded with zeros to ``op_slots``:
    position j holds the commitment op j cancels / places, or 0. An op
    cannot do both (OpsError).
    """
    if not funding:
        raise OpsError("order ops cover at least one market")
    for name, values in (("cancels", cancels), ("places", places)):
        if len(values) > op_slots:
            raise OpsError(f"{len(values)} {name} exceed the proof's {op_slots} op slots")
    try:
        head = [
            require_canonical(old_acc_root, "old account root"),
            require_canonical(new_acc_root, "new account root"),
            require_canonical(batch_id, "batch id"),
        ]
        funding_list = [signed_to_field(f, FUNDING_BITS, "funding index") for f in funding]
        cancel_list = _padded(cancels, op_slots, "cancelled commitment")
        place_list = _padded(places, op_slots, "placed commitment")
    except ValueError as exc:
        raise OpsError(str(exc)) from exc
    for j, (c, p) in enumerate(zip(cancel_list, place_list, strict=True)):
        if c and p:
            raise OpsError(f"op {j} both cancels and places an order")
    return head + funding_list + cancel_list + place_list


def _padded(values: Sequence[int], op_slots: int, what: str) -> list[int]:
    return [require_canonical(h, what) for h in values] + [0] * (op_slots - len(values))
