"""The operator's in-memory order book: resting orders keyed by their public order-list index.

An order's index in the public, append-only commitment list is its time
priority (DESIGN.md section 5), so the book is a list indexed by that number.
Pure state, no I/O: it never stores, logs or transmits plaintext orders — the
caller decides what lives where. Never imports the service layer or the prover.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from verifier.encoding import BUY, SELL, Order


class BookError(ValueError):
    """An order-book operation refers to a missing order or would break an invariant."""


@dataclass(frozen=True)
class RestingOrder:
    """An accepted order: its list index, terms, commitment ``h`` and what it has filled.

    ``filled`` is the amount recorded in the fill tree; ``cancelled`` stops
    the order from matching (the fill tree is updated separately).
    """

    index: int
    order: Order
    commitment: int
    filled: int = 0
    cancelled: bool = False

    def __post_init__(self) -> None:
        if self.index < 0:
            raise BookError(f"order index must be non-negative, got {self.index}")
        if self.order.side not in (BUY, SELL):
            raise BookError(f"order {self.index}: side must be BUY (0) or SELL (1)")
        if self.order.size < 1:
            raise BookError(f"order {self.index}: size must be at least one lot")
        if not 0 <= self.filled <= self.order.size:
            raise BookError(
                f"order {self.index}: filled {self.filled} outside [0, {self.order.size}]"
            )

    @property
    def remaining(self) -> int:
        return self.order.size - self.filled

    @property
    def is_open(self) -> bool:
        """Could still trade (expiry aside): not cancelled and not fully filled."""
        return not self.cancelled and self.remaining > 0


class OrderBook:
    """All orders accepted so far, in public order-list order."""

    def __init__(self) -> None:
        self._orders: list[RestingOrder] = []

    def __len__(self) -> int:
        return len(self._orders)

    def __iter__(self) -> Iterator[RestingOrder]:
        return iter(self._orders)

    def add(self, order: Order, commitment: int) -> RestingOrder:
        """Append an accepted order; its index is the next position in the order list."""
        resting = RestingOrder(index=len(self._orders), order=order, commitment=commitment)
        self._orders.append(resting)
        return resting

    def get(self, index: int) -> RestingOrder:
        if not 0 <= index < len(self._orders):
            raise BookError(f"no order at index {index}")
        return self._orders[index]

    def cancel(self, index: int) -> RestingOrder:
        """Stop an order from matching; cancelling twice is an error (the caller double-spent)."""
        current = self.get(index)
        if current.cancelled:
            raise BookError(f"order {index} is already cancelled")
        updated = replace(current, cancelled=True)
        self._orders[index] = updated
        return updated

    def record_fills(self, filled: Mapping[int, int]) -> None:
        """Set new filled amounts (e.g. ``BatchResult.filled``); all-or-nothing.

        Filled amounts only grow and never exceed the size; a cancelled order
        never fills. All entries are checked before any is applied.
        """
        updates: list[RestingOrder] = []
        for index, amount in filled.items():
            current = self.get(index)
            if current.cancelled:
                raise BookError(f"order {index} is cancelled and cannot fill")
            if not current.filled <= amount <= current.order.size:
                raise BookError(
                    f"order {index}: filled amount {amount} outside "
                    f"[{current.filled}, {current.order.size}]"
                )
            updates.append(replace(current, filled=amount))
        for updated in updates:
            self._orders[updated.index] = updated

    def open_orders(self, account: int | None = None) -> list[RestingOrder]:
        """Orders that could still trade (optionally of one account), in time priority."""
        return [
            r for r in self._orders if r.is_open and (account is None or r.order.account == account)
        ]
