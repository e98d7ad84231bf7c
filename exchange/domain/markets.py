"""Perpetual market specifications: integer lot and tick sizes, fractions in basis points.

Pure data and validation for the matching domain. No I/O, no floats; never
imports the service layer, the prover or anything that talks to the outside.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from verifier.ledger.genesis import Market
from verifier.ledger.parse import EntryError, uint


class MarketError(ValueError):
    """A market specification (or a list of them) is malformed."""


@dataclass(frozen=True)
class MarketSpec(Market):
    """One perpetual market: the genesis record ``verifier.ledger.Market``, stricter.

    ``id`` is the market's index in every per-market vector (positions, marks,
    imf/fee vectors of the circuits). Margin fractions obey
    ``BPS_DENOM >= imf_bps > mmf_bps > 0``. The fee must be below the initial
    margin fraction (``0 <= fee_bps < imf_bps``): a trade that shrinks a
    position then always releases more margin per lot than it costs in fees,
    which is what makes the largest margin-feasible fill quantity cheap to find
    exactly (see ``exchange.domain.matching``) — and a fee above the initial
    margin would be an odd market anyway.
    """

    def __post_init__(self) -> None:
        for name in (f.name for f in fields(self) if f.name != "symbol"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise MarketError(f"{name} must be a non-negative integer, got {value!r}")
        # The genesis rules (symbol, sizes, fractions <= BPS_DENOM, mmf <= imf), then the
        # matching domain's stricter ones.
        _market(asdict(self), self.id)
        if self.mmf_bps < 1:
            raise MarketError(f"mmf_bps must be a positive integer, got {self.mmf_bps!r}")
        if not self.imf_bps > self.mmf_bps:
            raise MarketError(f"imf_bps {self.imf_bps} must exceed mmf_bps {self.mmf_bps}")
        if not self.fee_bps < self.imf_bps:
            raise MarketError(f"fee_bps {self.fee_bps} must be below imf_bps {self.imf_bps}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ledger's genesis ``markets[i]``, ``Market.to_json``).

        Lot and tick sizes are strings so no client parses them as floats.
        """
        return self.to_json()

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "MarketSpec":
        """Inverse of ``to_dict``, parsed as the verifier parses genesis ``markets[id]``
        (integers are also accepted where strings were written)."""
        spec = _market(obj, obj.get("id"))
        return cls(**asdict(spec))


def _market(obj: Mapping[str, Any], position: object) -> Market:
    """``Market.from_json`` (the genesis rules) with its one-line reason as a MarketError."""
    try:
        return Market.from_json(obj, uint(position, "market id"))
    except EntryError as exc:
        raise MarketError(str(exc)) from None


def check_markets(markets: Sequence[MarketSpec]) -> None:
    """Raise MarketError unless ``markets`` is non-empty, market i has id i, symbols unique."""
    if not markets:
        raise MarketError("at least one market is required")
    for i, spec in enumerate(markets):
        if spec.id != i:
            raise MarketError(f"market at position {i} has id {spec.id}; ids must be 0..n-1")
    if len({m.symbol for m in markets}) != len(markets):
        raise MarketError("market symbols must be unique")


def imf_vector(markets: Sequence[MarketSpec]) -> tuple[int, ...]:
    """Initial margin fractions, one per market, in market id order."""
    return tuple(m.imf_bps for m in markets)
