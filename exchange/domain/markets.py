"""Perpetual market specifications: integer lot and tick sizes, fractions in basis points.

Pure data and validation for the matching domain. No I/O, no floats; never
imports the service layer, the prover or anything that talks to the outside.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from verifier.ledger.genesis import Market
from verifier.params import BPS_DENOM


class MarketError(ValueError):
    """A market specification (or a list of them) is malformed."""


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise MarketError(f"{name} must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class MarketSpec:
    """One perpetual market.

    ``id`` is the market's index in every per-market vector (positions, marks,
    imf/fee vectors of the circuits). Margin fractions obey
    ``BPS_DENOM >= imf_bps > mmf_bps > 0``. The fee must be below the initial
    margin fraction (``0 <= fee_bps < imf_bps``): a trade that shrinks a
    position then always releases more margin per lot than it costs in fees,
    which is what makes the largest margin-feasible fill quantity cheap to find
    exactly (see ``exchange.domain.matching``) — and a fee above the initial
    margin would be an odd market anyway.
    """

    id: int
    symbol: str
    lot_size: int
    tick_size: int
    imf_bps: int
    mmf_bps: int
    fee_bps: int

    def __post_init__(self) -> None:
        if not isinstance(self.id, int) or isinstance(self.id, bool) or self.id < 0:
            raise MarketError(f"market id must be a non-negative integer, got {self.id!r}")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise MarketError("market symbol must be a non-empty string")
        _positive_int("lot_size", self.lot_size)
        _positive_int("tick_size", self.tick_size)
        _positive_int("imf_bps", self.imf_bps)
        _positive_int("mmf_bps", self.mmf_bps)
        if not isinstance(self.fee_bps, int) or isinstance(self.fee_bps, bool) or self.fee_bps < 0:
            raise MarketError(f"fee_bps must be a non-negative integer, got {self.fee_bps!r}")
        if self.imf_bps > BPS_DENOM:
            raise MarketError(f"imf_bps {self.imf_bps} exceeds {BPS_DENOM}")
        if not self.imf_bps > self.mmf_bps:
            raise MarketError(f"imf_bps {self.imf_bps} must exceed mmf_bps {self.mmf_bps}")
        if not self.fee_bps < self.imf_bps:
            raise MarketError(f"fee_bps {self.fee_bps} must be below imf_bps {self.imf_bps}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ledger's genesis ``markets[i]``, ``verifier.ledger.Market``).

        Lot and tick sizes are strings so no client parses them as floats.
        """
        return Market(**asdict(self)).to_json()

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "MarketSpec":
        """Inverse of ``to_dict`` (also accepts integers where strings were written)."""
        try:
            return cls(
                id=_as_int(obj["id"], "id"),
                symbol=str(obj["symbol"]),
                lot_size=_as_int(obj["lot_size"], "lot_size"),
                tick_size=_as_int(obj["tick_size"], "tick_size"),
                imf_bps=_as_int(obj["imf_bps"], "imf_bps"),
                mmf_bps=_as_int(obj["mmf_bps"], "mmf_bps"),
                fee_bps=_as_int(obj["fee_bps"], "fee_bps"),
            )
        except KeyError as e:
            raise MarketError(f"market spec lacks {e.args[0]!r}") from None


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise MarketError(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise MarketError(f"{name} must be an integer, got {value!r}")


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


def fee_vector(markets: Sequence[MarketSpec]) -> tuple[int, ...]:
    """Fee fractions, one per market, in market id order."""
    return tuple(m.fee_bps for m in markets)
