"""Public inputs of ORDER OPS (``circuits/order_ops.circom``), recomputed from ledger data.

ORDER OPS proofs open a batch of the recycling-order design: they write
orders into their accounts' slots (place: authorised once by the owner's
signature, checked in-circuit; the order stays private) and execute cancels
(the slot is set to filled = size). A cancel's order commitment h is public:
``cancels[j]`` is h for a cancel op and 0 for a place or an unused op, so the
verifier can require that every cancel entry accepted before the batch is
executed by the batch's ORDER OPS proofs, before any fill.

Pure: never imports prover/ or exchange/, never runs node.
"""

from collections.abc import Sequence

from verifier.field import require_canonical, signed_to_field
from verifier.params import FUNDING_BITS

__all__ = ["PUBLIC_NAMES", "OpsError", "public_inputs"]

PUBLIC_NAMES: tuple[str, ...] = ("oldAccRoot", "newAccRoot", "batchId", "funding", "cancels")


class OpsError(ValueError):
    """Order-op data is malformed or out of range."""


def public_inputs(
    *,
    old_acc_root: int,
    new_acc_root: int,
    batch_id: int,
    funding: Sequence[int],
    cancels: Sequence[int],
    op_slots: int,
) -> list[int]:
    """Public inputs in declaration order; ``cancels`` (the cancelled commitments,
    in op order, at most ``op_slots``) is padded with zeros to ``op_slots``."""
    if not funding:
        raise OpsError("order ops cover at least one market")
    if len(cancels) > op_slots:
        raise OpsError(f"{len(cancels)} cancels exceed the proof's {op_slots} op slots")
    try:
        head = [
            require_canonical(old_acc_root, "old account root"),
            require_canonical(new_acc_root, "new account root"),
            require_canonical(batch_id, "batch id"),
        ]
        funding_list = [signed_to_field(f, FUNDING_BITS, "funding index") for f in funding]
        cancel_list = [require_canonical(h, "cancelled commitment") for h in cancels]
    except ValueError as exc:
        raise OpsError(str(exc)) from exc
    if any(h == 0 for h in cancel_list):
        raise OpsError("a cancelled commitment is never 0")
    return head + funding_list + cancel_list + [0] * (op_slots - len(cancel_list))
