"""The one encoding of darkpool's hashed objects, shared by exchange, prover and verifier.

Every leaf, commitment and signed message is defined here and nowhere else;
the circuits in ``circuits/lib`` compute exactly the same Poseidon hashes.
Pure functions, no I/O; never imports prover or exchange.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from verifier.field import FieldError, R, require_canonical, signed_to_field, unsigned_in_range
from verifier.params import (
    AMOUNT_BITS,
    BALANCE_BITS,
    NONCE_BITS,
    POSITION_BITS,
    PRICE_BITS,
    SIZE_BITS,
    TIME_BITS,
)
from verifier.poseidon import poseidon

if TYPE_CHECKING:  # account_state imports this module
    from verifier.account_state import SlottedOrder

BUY = 0
SELL = 1


@dataclass(frozen=True)
class AccountState:
    """The hidden contents of one account leaf (signed integers, not field elements)."""

    pub_x: int
    pub_y: int
    balance: int
    positions: tuple[int, ...]
    nonce: int = 0
    blinding: int = 0

    def leaf(self) -> int:
        return account_leaf(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the opening of an inclusion answer, the operator's snapshot).

        Integers as decimal strings, except ``nonce`` (a JSON number); positions
        one per market, signed.
        """
        return {
            "pub_x": str(self.pub_x),
            "pub_y": str(self.pub_y),
            "balance": str(self.balance),
            "positions": [str(x) for x in self.positions],
            "nonce": self.nonce,
            "blinding": str(self.blinding),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "AccountState":
        """Inverse of ``to_dict``; raises KeyError, TypeError or ValueError on a bad field."""
        return cls(
            int(obj["pub_x"]),
            int(obj["pub_y"]),
            int(obj["balance"]),
            tuple(int(x) for x in obj["positions"]),
            int(obj["nonce"]),
            int(obj["blinding"]),
        )


def positions_hash(positions: Sequence[int]) -> int:
    """Poseidon over the signed positions (field-encoded), one per market."""
    if not 1 <= len(positions) <= 16:
        raise FieldError("positions must cover 1..16 markets")
    return poseidon([signed_to_field(p, POSITION_BITS, "position") for p in positions])


def account_leaf(acc: AccountState) -> int:
    """Leaf = Poseidon(pub.x, pub.y, balance, Poseidon(positions), nonce, blinding)."""
    return poseidon(
        [
            require_canonical(acc.pub_x, "pub_x"),
            require_canonical(acc.pub_y, "pub_y"),
            signed_to_field(acc.balance, BALANCE_BITS, "balance"),
            positions_hash(acc.positions),
            unsigned_in_range(acc.nonce, NONCE_BITS, "nonce"),
            require_canonical(acc.blinding, "blinding"),
        ]
    )


@dataclass(frozen=True)
class Order:
    """An order's terms. ``side`` is BUY (0) or SELL (1); prices in ticks, sizes in lots."""

    account: int
    market: int
    side: int
    size: int
    limit_price: int
    expiry: int
    salt: int = field(repr=False)

    def check_ranges(self, markets: int, account_depth: int) -> None:
        """Raise FieldError if any term is outside what the circuits accept."""
        if not 0 <= self.account < (1 << account_depth):
            raise FieldError(f"account {self.account} is outside the account tree")
        check_order_terms(self, markets)


def check_order_terms(order: "Order | SlottedOrder", markets: int) -> None:
    """Raise FieldError if market, side, size, limit price, expiry or salt is out of range.

    The checks every order format shares (``Order`` and the slotted orders of
    ``verifier.account_state``); the account / id checks are each format's own.
    """
    if not 0 <= order.market < markets:
        raise FieldError(f"market {order.market} does not exist")
    if order.side not in (BUY, SELL):
        raise FieldError("side must be 0 (buy) or 1 (sell)")
    unsigned_in_range(order.size, SIZE_BITS, "size")
    if order.size == 0:
        raise FieldError("size must be at least one lot")
    unsigned_in_range(order.limit_price, PRICE_BITS, "limit_price")
    unsigned_in_range(order.expiry, TIME_BITS, "expiry")
    require_canonical(order.salt, "salt")


def order_commitment(order_tag: int, order: Order) -> int:
    """h = Poseidon(ORDER_TAG, account, market, side, size, limit_price, expiry, salt)."""
    return poseidon(
        [
            require_canonical(order_tag, "order_tag"),
            require_canonical(order.account, "account"),
            require_canonical(order.market, "market"),
            require_canonical(order.side, "side"),
            require_canonical(order.size, "size"),
            require_canonical(order.limit_price, "limit_price"),
            require_canonical(order.expiry, "expiry"),
            require_canonical(order.salt, "salt"),
        ]
    )


def fill_leaf(commitment: int, filled: int) -> int:
    """Fill-tree leaf: 0 while untraded, else Poseidon(h, filled)."""
    unsigned_in_range(filled, SIZE_BITS, "filled")
    if filled == 0:
        return 0
    return poseidon([require_canonical(commitment, "commitment"), filled])


def withdraw_message(withdraw_tag: int, index: int, amount: int, nonce: int) -> int:
    """Signed by the owner to withdraw: Poseidon(WITHDRAW_TAG, index, amount, nonce)."""
    return poseidon(
        [
            require_canonical(withdraw_tag, "withdraw_tag"),
            require_canonical(index, "index"),
            unsigned_in_range(amount, AMOUNT_BITS, "amount"),
            unsigned_in_range(nonce, NONCE_BITS, "nonce"),
        ]
    )


def cancel_message(cancel_tag: int, order_index: int, commitment: int) -> int:
    """Signed by the owner to cancel an order: Poseidon(CANCEL_TAG, order_index, h)."""
    return poseidon(
        [
            require_canonical(cancel_tag, "cancel_tag"),
            require_canonical(order_index, "order_index"),
            require_canonical(commitment, "commitment"),
        ]
    )


def oracle_message(oracle_tag: int, batch_id: int, timestamp: int, prices: Sequence[int]) -> int:
    """Signed by the oracle: Poseidon(ORACLE_TAG, batch_id, timestamp, Poseidon(prices))."""
    if not 1 <= len(prices) <= 16:
        raise FieldError("an oracle report covers 1..16 markets")
    prices_hash = poseidon([unsigned_in_range(p, PRICE_BITS, "price") for p in prices])
    return poseidon(
        [
            require_canonical(oracle_tag, "oracle_tag"),
            require_canonical(batch_id, "batch_id"),
            unsigned_in_range(timestamp, TIME_BITS, "timestamp"),
            prices_hash,
        ]
    )


def to_field(x: int) -> int:
    """Reduce a signed Python integer into the scalar field (for circuit inputs)."""
    return x % R
