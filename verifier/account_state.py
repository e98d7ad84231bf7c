"""Account state of the recycling-order design: the account leaf, order commitments, order slots.

One encoding, used by exchange, prover and verifier alike and mirrored by
``circuits/lib/account_state.circom`` and ``circuits/lib/order_slots.circom``:

* account leaf = Poseidon(pub.x, pub.y, balance, Poseidon(positions),
  Poseidon(funding checkpoints), order_root, nonce, blinding), one per index of
  the quaternary account tree (index 0 = insurance fund and fee account);
* funding checkpoints: per market, the cumulative funding index F_m (quote
  units per lot) at the account's last settlement. Every statement that
  rewrites a leaf first settles ``balance -= sum_m s_m (F_m - checkpoint_m)``
  and sets the checkpoints to the current F (exact integers, no rounding);
* order commitment h = Poseidon(ORDER_TAG, account, order_id, market, side,
  size, limit, expiry, flags, salt), flags = reduce-only (0/1), signed by the
  account key; a cancel is signed as Poseidon(CANCEL_TAG, h);
* order storage: each account has a quaternary slot tree (``slot_levels``
  levels, ``4^slot_levels`` slots); order ``order_id`` lives in slot
  ``order_id mod 4^slot_levels`` as Poseidon(order_id, filled, h) (0 = empty).
  A newer id replaces whatever occupies its slot, so storage recycles and
  there is no lifetime cap; an older id can never enter again.

Pure, no I/O; never imports prover or exchange.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from verifier.encoding import BUY, SELL
from verifier.field import FieldError, require_canonical, signed_to_field, unsigned_in_range
from verifier.params import (
    BALANCE_BITS,
    FUNDING_BITS,
    NONCE_BITS,
    ORDER_ID_BITS,
    POSITION_BITS,
    PRICE_BITS,
    SIZE_BITS,
    TIME_BITS,
)
from verifier.poseidon import poseidon
from verifier.quadtree import quad_zero_hashes

__all__ = [
    "REDUCE_ONLY",
    "AccountRecord",
    "SlottedOrder",
    "account_state_leaf",
    "cancel_order_message",
    "checkpoints_hash",
    "empty_order_root",
    "order_hash",
    "positions_hash",
    "slot_index",
    "slot_leaf",
]

REDUCE_ONLY = 1  # the flags value of a reduce-only order


def positions_hash(positions: Sequence[int]) -> int:
    """Poseidon over the signed positions (field-encoded), one per market."""
    if not 1 <= len(positions) <= 16:
        raise FieldError("positions must cover 1..16 markets")
    return poseidon([signed_to_field(p, POSITION_BITS, "position") for p in positions])


def checkpoints_hash(checkpoints: Sequence[int]) -> int:
    """Poseidon over signed funding indices (field-encoded), one per market."""
    if not 1 <= len(checkpoints) <= 16:
        raise FieldError("funding checkpoints must cover 1..16 markets")
    return poseidon([signed_to_field(f, FUNDING_BITS, "funding index") for f in checkpoints])


def empty_order_root(slot_levels: int) -> int:
    """Root of an account's order slot tree with every slot empty."""
    return quad_zero_hashes(slot_levels)[slot_levels]


@dataclass(frozen=True)
class AccountRecord:
    """The hidden contents of one account leaf (signed integers, not field elements)."""

    pub_x: int
    pub_y: int
    balance: int
    positions: tuple[int, ...]
    checkpoints: tuple[int, ...]
    order_root: int
    nonce: int = 0
    blinding: int = field(default=0, repr=False)

    def leaf(self) -> int:
        return account_state_leaf(self)

    def funding_payment(self, funding: Sequence[int]) -> int:
        """Quote units this account owes on settling to the indices ``funding``."""
        if len(funding) != len(self.positions):
            raise FieldError("one funding index per market")
        return sum(
            s * (f - c) for s, f, c in zip(self.positions, funding, self.checkpoints, strict=True)
        )


def account_state_leaf(acc: AccountRecord) -> int:
    """Leaf = Poseidon(pub.x, pub.y, balance, H(positions), H(checkpoints), order_root, nonce, blinding)."""
    if len(acc.checkpoints) != len(acc.positions):
        raise FieldError("one funding checkpoint per market")
    return poseidon(
        [
            require_canonical(acc.pub_x, "pub_x"),
            require_canonical(acc.pub_y, "pub_y"),
            signed_to_field(acc.balance, BALANCE_BITS, "balance"),
            positions_hash(acc.positions),
            checkpoints_hash(acc.checkpoints),
            require_canonical(acc.order_root, "order_root"),
            unsigned_in_range(acc.nonce, NONCE_BITS, "nonce"),
            require_canonical(acc.blinding, "blinding"),
        ]
    )


@dataclass(frozen=True)
class SlottedOrder:
    """An order's terms. ``side`` 0 buy / 1 sell; prices in ticks, sizes in lots, expiry unix s."""

    account: int
    order_id: int
    market: int
    side: int
    size: int
    limit_price: int
    expiry: int
    reduce_only: bool = False
    salt: int = field(default=0, repr=False)

    @property
    def flags(self) -> int:
        return REDUCE_ONLY if self.reduce_only else 0

    def check_ranges(self, markets: int, account_depth: int) -> None:
        """Raise FieldError if any term is outside what the circuits accept."""
        if not 1 <= self.account < (1 << account_depth):
            raise FieldError(f"account {self.account} cannot trade (0 is the insurance fund)")
        if not 1 <= self.order_id < (1 << ORDER_ID_BITS):
            raise FieldError(f"order_id must be in [1, 2^{ORDER_ID_BITS})")
        if not 0 <= self.market < markets:
            raise FieldError(f"market {self.market} does not exist")
        if self.side not in (BUY, SELL):
            raise FieldError("side must be 0 (buy) or 1 (sell)")
        unsigned_in_range(self.size, SIZE_BITS, "size")
        if self.size == 0:
            raise FieldError("size must be at least one lot")
        unsigned_in_range(self.limit_price, PRICE_BITS, "limit_price")
        unsigned_in_range(self.expiry, TIME_BITS, "expiry")
        require_canonical(self.salt, "salt")


def order_hash(order_tag: int, order: SlottedOrder) -> int:
    """h = Poseidon(ORDER_TAG, account, order_id, market, side, size, limit, expiry, flags, salt)."""
    return poseidon(
        [
            require_canonical(order_tag, "order_tag"),
            require_canonical(order.account, "account"),
            require_canonical(order.order_id, "order_id"),
            require_canonical(order.market, "market"),
            require_canonical(order.side, "side"),
            require_canonical(order.size, "size"),
            require_canonical(order.limit_price, "limit_price"),
            require_canonical(order.expiry, "expiry"),
            order.flags,
            require_canonical(order.salt, "salt"),
        ]
    )


def cancel_order_message(cancel_tag: int, commitment: int) -> int:
    """Signed by the owner to cancel order h: Poseidon(CANCEL_TAG, h)."""
    return poseidon(
        [require_canonical(cancel_tag, "cancel_tag"), require_canonical(commitment, "h")]
    )


def slot_index(order_id: int, slot_levels: int) -> int:
    """The slot an order id lives in: ``order_id mod 4^slot_levels``."""
    return order_id % (1 << (2 * slot_levels))


def slot_leaf(order_id: int, filled: int, commitment: int) -> int:
    """An occupied slot: Poseidon(order_id, filled, h)."""
    unsigned_in_range(order_id, ORDER_ID_BITS, "order_id")
    unsigned_in_range(filled, SIZE_BITS, "filled")
    return poseidon([order_id, filled, require_canonical(commitment, "h")])
