"""Circuit parameters and bit widths shared by verifier, prover and exchange.

Bit widths are named once here for Python and once in
``circuits/lib/widths.circom`` for the circuits; ``tests/circuits`` checks the
two agree. Profiles (depths, markets, fill slots, chunk size) come from
``circuits/params.json`` on the operator side and from the ledger's genesis
entry on the verifier side; this module only validates them. No I/O.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from verifier.field import R

SIZE_BITS = 40
PRICE_BITS = 40
POSITION_BITS = 48
BALANCE_BITS = 96
AMOUNT_BITS = 80
BPS_BITS = 14
TIME_BITS = 48
NONCE_BITS = 32
MARGIN_BITS = 128
FEE_BITS = 96
ORDER_ID_BITS = 32
FUNDING_BITS = 64
BPS_DENOM = 10_000

WIDTHS: dict[str, int] = {
    "SIZE_BITS": SIZE_BITS,
    "PRICE_BITS": PRICE_BITS,
    "POSITION_BITS": POSITION_BITS,
    "BALANCE_BITS": BALANCE_BITS,
    "AMOUNT_BITS": AMOUNT_BITS,
    "BPS_BITS": BPS_BITS,
    "TIME_BITS": TIME_BITS,
    "NONCE_BITS": NONCE_BITS,
    "MARGIN_BITS": MARGIN_BITS,
    "FEE_BITS": FEE_BITS,
    "ORDER_ID_BITS": ORDER_ID_BITS,
    "FUNDING_BITS": FUNDING_BITS,
    "BPS_DENOM": BPS_DENOM,
}

MAX_MARKETS = 13  # oracle message hashes (tag, batch, ts, prices...) in one Poseidon(16)


class ParamsError(ValueError):
    """Circuit parameters are missing, out of range or inconsistent."""


@dataclass(frozen=True)
class CircuitParams:
    """Sizes of one circuit profile."""

    name: str
    account_depth: int
    order_depth: int
    markets: int
    fill_slots: int
    chunk_height: int
    # Recycling-order statements (order_ops, settle_fills): order slot tree
    # levels (4^slot_levels live orders per account), place/cancel ops per
    # order_ops proof, fills per settle_fills group proof.
    slot_levels: int = 1
    op_slots: int = 2
    group_fills: int = 2

    @property
    def account_levels(self) -> int:
        """Levels of the quaternary account tree (``account_depth`` must be even)."""
        return self.account_depth // 2

    @property
    def chunk_levels(self) -> int:
        """Quaternary levels one chunk proof of the recycling-order state walks (SOLVENCY WALK).

        ``chunk_height // 2``: a chunk holds ``4^chunk_levels`` accounts, at
        most the binary chunk's ``2^chunk_height`` (test 1 level = 4 accounts,
        production 2 levels = 16 accounts; 3 levels = 64 accounts would not
        fit the 2^16 powers of tau).
        """
        return self.chunk_height // 2

    @property
    def chunk_size(self) -> int:
        return 1 << self.chunk_height

    @property
    def chunks(self) -> int:
        """Number of solvency chunks that cover the whole account tree."""
        return 1 << (self.account_depth - self.chunk_height)

    @classmethod
    def from_dict(cls, name: str, obj: Any) -> "CircuitParams":
        if not isinstance(obj, dict):
            raise ParamsError(f"profile {name!r} must be an object")
        try:
            vals = {
                k: obj[k]
                for k in ("account_depth", "order_depth", "markets", "fill_slots", "chunk_height")
            }
        except KeyError as e:
            raise ParamsError(f"profile {name!r} lacks {e.args[0]!r}") from None
        for k in ("slot_levels", "op_slots", "group_fills"):
            if k in obj:
                vals[k] = obj[k]
        for k, v in vals.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ParamsError(f"profile {name!r}: {k} must be a positive integer")
        p = cls(name=name, **vals)
        if not 2 <= p.account_depth <= 32 or not 2 <= p.order_depth <= 32:
            raise ParamsError(f"profile {name!r}: depths must be in [2, 32]")
        if p.markets > MAX_MARKETS:
            raise ParamsError(f"profile {name!r}: at most {MAX_MARKETS} markets")
        if p.chunk_height > p.account_depth:
            raise ParamsError(f"profile {name!r}: chunk_height exceeds account_depth")
        return p

    def to_dict(self) -> dict[str, int | str]:
        return {
            "name": self.name,
            "account_depth": self.account_depth,
            "order_depth": self.order_depth,
            "markets": self.markets,
            "fill_slots": self.fill_slots,
            "chunk_height": self.chunk_height,
            "slot_levels": self.slot_levels,
            "op_slots": self.op_slots,
            "group_fills": self.group_fills,
        }


def domain_tag(kind: str, exchange_id: str) -> int:
    """Field element that starts every signed message of ``kind`` for one exchange.

    Distinct kinds ("order", "withdraw", "cancel", "auth", "oracle") and
    distinct exchanges give distinct tags, so a signature made for one message
    can never verify as another kind or on another exchange.
    """
    if not kind or not exchange_id:
        raise ParamsError("domain tag needs a kind and an exchange id")
    digest = hashlib.sha256(f"darkpool/v1/{kind}/{exchange_id}".encode()).digest()
    return int.from_bytes(digest, "big") % R
