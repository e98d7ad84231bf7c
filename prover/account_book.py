"""The operator's private account state in the recycling-order design (pure, no I/O).

``AccountBook`` holds what the ORDER OPS and SETTLE FILLS witnesses need: the
quaternary account tree, each account's leaf contents (``AccountRecord``) and
each account's order slot tree with the slots' contents (order id, lots
filled, commitment h). Builders work on a ``copy()`` and hand back the new
book, so a refused batch leaves the caller's book untouched. Only accounts a
statement touches are rehashed (O(touched accounts x tree depth)).

Formulas come from ``verifier.account_state``; nothing is re-derived here.
"""

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from verifier.account_state import (
    AccountRecord,
    empty_order_root,
    slot_index,
    slot_leaf,
)
from verifier.field import R
from verifier.params import CircuitParams
from verifier.protocol import FEE_ACCOUNT
from verifier.quadtree import QuadTree

__all__ = [
    "AccountBook",
    "BookError",
    "BookOutcome",
    "SlotContent",
    "account_row",
    "book_from_rows",
    "random_blinding",
    "slots_opening",
]

INSURANCE_ACCOUNT = FEE_ACCOUNT  # verifier.protocol: the insurance / fee account


class BookError(ValueError):
    """The book does not hold what an operation needs (unknown account, slot mismatch)."""


@dataclass(frozen=True)
class SlotContent:
    """What an occupied order slot holds: Poseidon(order_id, filled, h)."""

    order_id: int
    filled: int
    commitment: int

    def leaf(self) -> int:
        return slot_leaf(self.order_id, self.filled, self.commitment)


class AccountBook:
    """Account tree + leaf contents + per-account order slot trees."""

    def __init__(self, params: CircuitParams) -> None:
        if params.account_depth % 2:
            raise BookError("the quaternary account tree needs an even account_depth")
        self.params = params
        self.tree = QuadTree(params.account_levels)
        self.records: dict[int, AccountRecord] = {}
        self.slot_trees: dict[int, QuadTree] = {}
        self.slots: dict[int, dict[int, SlotContent]] = {}
        # Accounts whose slot tree / contents this book owns; others are shared
        # with the book it was copied from and are cloned on first write.
        self._owned: set[int] = set()
        # Accounts written (``put``) since the caller last cleared this set; copies
        # inherit it, so a chain of statement books names every account it touched.
        self.changed: set[int] = set()

    def copy(self) -> "AccountBook":
        """An independent book. Per-account slot trees are shared copy-on-write,
        so a copy costs shallow dict copies, and a batch rehashes only what it touches."""
        clone = AccountBook(self.params)
        clone.tree = self.tree.copy()
        clone.records = dict(self.records)
        clone.slot_trees = dict(self.slot_trees)
        clone.slots = dict(self.slots)
        clone.changed = set(self.changed)
        self._owned = set()  # both books now share every slot tree
        return clone

    def _own(self, account: int) -> None:
        if account not in self._owned:
            self.slot_trees[account] = self.slot_trees[account].copy()
            self.slots[account] = dict(self.slots[account])
            self._owned.add(account)

    @property
    def root(self) -> int:
        return self.tree.root

    def open(
        self,
        index: int,
        *,
        pub: tuple[int, int],
        balance: int,
        funding: Sequence[int],
        blinding: int,
    ) -> AccountRecord:
        """Write a fresh account: no positions, checkpoints = current funding, empty slots."""
        if index in self.records:
            raise BookError(f"account {index} is already open")
        m = self.params.markets
        record = AccountRecord(
            pub_x=pub[0],
            pub_y=pub[1],
            balance=balance,
            positions=(0,) * m,
            checkpoints=tuple(funding),
            order_root=empty_order_root(self.params.slot_levels),
            nonce=0,
            blinding=blinding,
        )
        self.slot_trees[index] = QuadTree(self.params.slot_levels)
        self.slots[index] = {}
        self._owned.add(index)
        self.put(index, record)
        return record

    def record(self, index: int) -> AccountRecord:
        try:
            return self.records[index]
        except KeyError:
            raise BookError(f"account {index} is not open") from None

    def put(self, index: int, record: AccountRecord) -> None:
        """Replace the account's record (its order_root must match its slot tree)."""
        if record.order_root != self.slot_trees[index].root:
            raise BookError(f"account {index}: order root does not match its slot tree")
        self.records[index] = record
        self.tree.update(index, record.leaf())
        self.changed.add(index)

    def slot_of(self, account: int, order_id: int) -> tuple[int, SlotContent | None]:
        """(slot number, its content or None if empty) for an order id of ``account``."""
        self.record(account)
        slot = slot_index(order_id, self.params.slot_levels)
        return slot, self.slots[account].get(slot)

    def write_slot(self, account: int, content: SlotContent) -> int:
        """Store ``content`` in its slot; returns the account's new order root."""
        slot = slot_index(content.order_id, self.params.slot_levels)
        self._own(account)
        self.slots[account][slot] = content
        self.slot_trees[account].update(slot, content.leaf())
        return self.slot_trees[account].root

    def opening(self, index: int) -> dict[str, object]:
        """Circuit inputs that open account ``index``'s current leaf in a statement's account slot.

        pubX, pubY, balance, positions, checkpoints (signed values mod r),
        orderRoot, nonce, blindingOld and accSiblings (its account tree path);
        the statement adds the new leaf's blindingNew.
        """
        record = self.record(index)
        return {
            "pubX": record.pub_x,
            "pubY": record.pub_y,
            "balance": record.balance % R,
            "positions": [p % R for p in record.positions],
            "checkpoints": [c % R for c in record.checkpoints],
            "orderRoot": record.order_root,
            "nonce": record.nonce,
            "blindingOld": record.blinding,
            "accSiblings": [list(s) for s in self.tree.path(index).siblings],
        }

    def blank_opening(self, *scalars: str) -> dict[str, object]:
        """An unused account slot: ``opening`` + blindingNew + slotSiblings, all zero,
        and 0 for each name in ``scalars``."""
        zeros3 = [0, 0, 0]
        blank: dict[str, object] = {name: 0 for name in scalars}
        blank.update(
            {
                "pubX": 0,
                "pubY": 0,
                "balance": 0,
                "positions": [0] * self.params.markets,
                "checkpoints": [0] * self.params.markets,
                "orderRoot": 0,
                "nonce": 0,
                "blindingOld": 0,
                "blindingNew": 0,
                "accSiblings": [zeros3] * self.params.account_levels,
                "slotSiblings": [zeros3] * self.params.slot_levels,
            }
        )
        return blank

    def settle_funding(self, record: AccountRecord, funding: Sequence[int]) -> AccountRecord:
        """The record after paying funding up to ``funding`` (checkpoints updated)."""
        return replace(
            record,
            balance=record.balance - record.funding_payment(funding),
            checkpoints=tuple(funding),
        )


@dataclass(frozen=True)
class BookOutcome:
    """A statement built on the book: its circuit input JSON, public inputs and the book after."""

    inputs: dict[str, object]
    public_inputs: list[int]
    book: AccountBook


def account_row(book: AccountBook, index: int) -> dict[str, Any]:
    """Account ``index`` of ``book`` as one storable JSON row (SECRET: holds the blinding).

    ``{"index", "pub_x", "pub_y", "balance", "positions", "checkpoints",
    "order_root", "nonce", "blinding", "slots": [{"slot", "order_id",
    "filled", "h"}, ...]}``, integers as decimal strings (signed where
    negative). The operator stores the rows of the accounts a change touched
    (O(touched)); ``book_from_rows`` rebuilds the whole book from them.
    """
    r = book.record(index)
    return {
        "index": index,
        "pub_x": str(r.pub_x),
        "pub_y": str(r.pub_y),
        "balance": str(r.balance),
        "positions": [str(p) for p in r.positions],
        "checkpoints": [str(c) for c in r.checkpoints],
        "order_root": str(r.order_root),
        "nonce": r.nonce,
        "blinding": str(r.blinding),
        "slots": [
            {"slot": slot, "order_id": c.order_id, "filled": c.filled, "h": str(c.commitment)}
            for slot, c in sorted(book.slots[index].items())
        ],
    }


def slots_opening(book: AccountBook, index: int) -> dict[str, Any]:
    """The opening of account ``index`` under ``book.root`` (SECRET: the owner's leaf contents).

    ``{"account", "root", "leaf", "siblings": [[s0, s1, s2], ...] (bottom-up),
    "opening": {pub_x, pub_y, balance, positions, checkpoints, order_root,
    nonce, blinding}}``, decimal strings: what
    ``verifier.inclusion_slots.parse_slots_opening`` reads. The slot contents
    are left out (the leaf commits to them through ``order_root``).
    """
    row = account_row(book, index)
    opening = {k: v for k, v in row.items() if k not in ("index", "slots")}
    return {
        "account": index,
        "root": str(book.root),
        "leaf": str(book.record(index).leaf()),
        "siblings": [[str(s) for s in step] for step in book.tree.path(index).siblings],
        "opening": opening,
    }


def book_from_rows(
    params: CircuitParams, rows: Sequence[Mapping[str, Any]], *, expected_root: int | None = None
) -> AccountBook:
    """The book holding exactly ``rows`` (as ``account_row`` wrote them).

    Rebuilds every slot tree and the account tree with O(accounts) hashes.
    Raises BookError if a row is malformed, an index repeats, a row's
    order_root is not its slots' root, or the account root is not
    ``expected_root`` (when given: the root the ledger published).
    """
    book = AccountBook(params)
    leaves: dict[int, int] = {}
    try:
        for row in rows:
            index = int(row["index"])
            if index in book.records:
                raise BookError(f"account {index} has two rows")
            slot_tree = QuadTree(params.slot_levels)
            contents: dict[int, SlotContent] = {}
            for s in row["slots"]:
                content = SlotContent(int(s["order_id"]), int(s["filled"]), int(s["h"]))
                slot = int(s["slot"])
                if slot != slot_index(content.order_id, params.slot_levels):
                    raise BookError(
                        f"account {index}: order {content.order_id} is not in slot {slot}"
                    )
                contents[slot] = content
                slot_tree.update(slot, content.leaf())
            record = AccountRecord(
                pub_x=int(row["pub_x"]),
                pub_y=int(row["pub_y"]),
                balance=int(row["balance"]),
                positions=tuple(int(p) for p in row["positions"]),
                checkpoints=tuple(int(c) for c in row["checkpoints"]),
                order_root=int(row["order_root"]),
                nonce=int(row["nonce"]),
                blinding=int(row["blinding"]),
            )
            if record.order_root != slot_tree.root:
                raise BookError(f"account {index}: order_root is not the root of its slots")
            book.records[index] = record
            book.slot_trees[index] = slot_tree
            book.slots[index] = contents
            book._owned.add(index)
            leaves[index] = record.leaf()
    except BookError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise BookError(f"malformed account row: {exc!r:.120}") from None
    dense = [leaves.get(i, 0) for i in range(max(leaves, default=-1) + 1)]
    try:
        book.tree = QuadTree.from_leaves(dense, params.account_levels)
    except ValueError as exc:
        raise BookError(str(exc)) from None
    if expected_root is not None and book.root != expected_root:
        raise BookError("the rebuilt account root is not the expected root")
    return book


def random_blinding() -> int:
    """A fresh leaf blinding: uniform in [0, r)."""
    return secrets.randbelow(R)
