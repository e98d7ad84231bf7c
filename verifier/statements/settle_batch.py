"""Public inputs of SETTLE BATCH (``circuits/settle_batch.circom``), recomputed from ledger data.

A batch entry of the public ledger names the account and fill roots before
and after, the order-list root, the batch id and the oracle report (timestamp,
mark prices), the per-market traded volume and the market parameters (fee and
initial-margin fractions). ``public_inputs`` lays those out exactly as the
circuit declares its public inputs, after checking every value is in the range
the circuit range-checks; the verifier feeds the result to Groth16 verify
instead of trusting the operator's copy. ``order_list_root`` recomputes the
order-list root from the published commitments.

Pure and dependency-light: never imports prover/ or exchange/, never runs node.
"""

from collections.abc import Sequence

from verifier.field import require_canonical, unsigned_in_range
from verifier.merkle import root_from_prefix
from verifier.params import PRICE_BITS, SIZE_BITS, TIME_BITS
from verifier.statements.vectors import fractions_bps, require_per_market

# Names of the circuit's public inputs in declaration order (arrays have one
# entry per market). prover.statements.settle_batch.PUBLIC is this list.
PUBLIC_NAMES: tuple[str, ...] = (
    "oldAccRoot",
    "newAccRoot",
    "oldFillRoot",
    "newFillRoot",
    "orderRoot",
    "batchId",
    "timestamp",
    "prices",
    "volume",
    "feeBps",
    "imfBps",
)


class BatchError(ValueError):
    """Batch data is malformed, out of range, or does not describe a valid settlement."""


def order_list_root(commitments: Sequence[int], order_depth: int) -> int:
    """Merkle root of the public order list (commitment i at leaf i, empty leaves 0)."""
    if len(commitments) > 1 << order_depth:
        raise BatchError(
            f"{len(commitments)} orders do not fit an order list of depth {order_depth}"
        )
    return root_from_prefix(list(commitments), order_depth)


def public_inputs(
    *,
    old_acc_root: int,
    new_acc_root: int,
    old_fill_root: int,
    new_fill_root: int,
    order_root: int,
    batch_id: int,
    timestamp: int,
    prices: Sequence[int],
    volume: Sequence[int],
    fee_bps: Sequence[int],
    imf_bps: Sequence[int],
) -> list[int]:
    """The circuit's public inputs, in declaration order; raises BatchError on bad data.

    ``volume[m]`` is the total quantity (lots) traded in market m by the batch.
    Every per-market list must have the same length (the circuit's M).
    """
    markets = len(prices)
    if markets == 0:
        raise BatchError("a batch covers at least one market")
    require_per_market(
        markets, BatchError, (("volume", volume), ("fee_bps", fee_bps), ("imf_bps", imf_bps))
    )
    try:
        roots = [
            require_canonical(old_acc_root, "old account root"),
            require_canonical(new_acc_root, "new account root"),
            require_canonical(old_fill_root, "old fill root"),
            require_canonical(new_fill_root, "new fill root"),
            require_canonical(order_root, "order root"),
            require_canonical(batch_id, "batch id"),
            unsigned_in_range(timestamp, TIME_BITS, "timestamp"),
        ]
        price_list = [unsigned_in_range(p, PRICE_BITS, "price") for p in prices]
        # Volume is a sum of at most N quantities, each below 2^SIZE_BITS; the
        # circuit equates it with that sum, so anything outside is unprovable.
        volume_list = [unsigned_in_range(v, SIZE_BITS + 16, "volume") for v in volume]
        fee_list, imf_list = fractions_bps((("fee bps", fee_bps), ("imf bps", imf_bps)))
    except ValueError as exc:
        raise BatchError(str(exc)) from exc
    return roots + price_list + volume_list + fee_list + imf_list
