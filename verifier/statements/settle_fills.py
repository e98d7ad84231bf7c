"""Public inputs of SETTLE FILLS (``circuits/settle_fills.circom``), recomputed from ledger data.

A batch of the recycling-order design is a chain of proofs: ORDER OPS (cancels,
then places) and then groups of SETTLE FILLS, each group's old account root the
previous proof's new root. A group's public inputs are the account roots
before and after, the batch id and the oracle report (timestamp, marks), the
funding indices every touched account settles to, the group's per-market
volume and the market parameters (fee, initial- and maintenance-margin
fractions). ``public_inputs`` lays them out exactly as the circuit declares
them, after checking every value is in the range the circuit range-checks.

Pure: never imports prover/ or exchange/, never runs node.
"""

from collections.abc import Sequence

from verifier.field import require_canonical, signed_to_field, unsigned_in_range
from verifier.params import FUNDING_BITS, PRICE_BITS, SIZE_BITS, TIME_BITS
from verifier.statements.vectors import fractions_bps, require_per_market

__all__ = ["PER_MARKET", "PUBLIC_NAMES", "FillsError", "public_inputs"]

# Circuit public inputs in declaration order; PER_MARKET ones have one entry per market.
PUBLIC_NAMES: tuple[str, ...] = (
    "oldAccRoot",
    "newAccRoot",
    "batchId",
    "timestamp",
    "prices",
    "funding",
    "volume",
    "feeBps",
    "imfBps",
    "mmfBps",
)
PER_MARKET = frozenset({"prices", "funding", "volume", "feeBps", "imfBps", "mmfBps"})


class FillsError(ValueError):
    """Fill-group data is malformed, out of range, or does not describe a valid settlement."""


def public_inputs(
    *,
    old_acc_root: int,
    new_acc_root: int,
    batch_id: int,
    timestamp: int,
    prices: Sequence[int],
    funding: Sequence[int],
    volume: Sequence[int],
    fee_bps: Sequence[int],
    imf_bps: Sequence[int],
    mmf_bps: Sequence[int],
) -> list[int]:
    """The circuit's public inputs, in declaration order; raises FillsError on bad data.

    ``funding[m]`` is market m's signed cumulative funding index (quote units
    per lot); ``volume[m]`` the group's traded lots in market m.
    """
    markets = len(prices)
    if markets == 0:
        raise FillsError("a group covers at least one market")
    per_market = {
        "funding": funding,
        "volume": volume,
        "fee_bps": fee_bps,
        "imf_bps": imf_bps,
        "mmf_bps": mmf_bps,
    }
    require_per_market(markets, FillsError, tuple(per_market.items()))
    try:
        head = [
            require_canonical(old_acc_root, "old account root"),
            require_canonical(new_acc_root, "new account root"),
            require_canonical(batch_id, "batch id"),
            unsigned_in_range(timestamp, TIME_BITS, "timestamp"),
        ]
        price_list = [unsigned_in_range(p, PRICE_BITS, "price") for p in prices]
        funding_list = [signed_to_field(f, FUNDING_BITS, "funding index") for f in funding]
        volume_list = [unsigned_in_range(v, SIZE_BITS + 16, "volume") for v in volume]
        fractions = fractions_bps(
            (("fee bps", fee_bps), ("imf bps", imf_bps), ("mmf bps", mmf_bps))
        )
    except ValueError as exc:
        raise FillsError(str(exc)) from exc
    return head + price_list + funding_list + volume_list + [f for v in fractions for f in v]
