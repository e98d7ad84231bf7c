"""Order terms and the signed messages shared by exchange, prover and verifier.

Sides, the order-term range checks every order format shares, and the
withdrawal message; the account leaf, order commitments and order slots live
in ``verifier.account_state``. The circuits in ``circuits/lib`` compute
exactly the same Poseidon hashes. Pure functions, no I/O; never imports
prover or exchange.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from verifier.field import FieldError, R, require_canonical, unsigned_in_range
from verifier.params import (
    AMOUNT_BITS,
    NONCE_BITS,
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


def to_field(x: int) -> int:
    """Reduce a signed Python integer into the scalar field (for circuit inputs)."""
    return x % R
