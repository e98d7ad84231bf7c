"""AccountBook: copies are independent (slot trees copy-on-write), leaves track records."""

import pytest

from prover.account_book import AccountBook, BookError, SlotContent
from prover.circuits import load_params
from verifier.account_state import empty_order_root, slot_leaf
from verifier.quadtree import QuadTree

PARAMS = load_params("test")


def book_with_two() -> AccountBook:
    book = AccountBook(PARAMS)
    book.open(0, pub=(1, 2), balance=0, funding=(0, 0), blinding=5)
    book.open(1, pub=(3, 4), balance=100, funding=(7, -7), blinding=6)
    return book


def test_open_writes_a_fresh_leaf() -> None:
    book = book_with_two()
    record = book.record(1)
    assert record.checkpoints == (7, -7) and record.positions == (0, 0)
    assert record.order_root == empty_order_root(PARAMS.slot_levels)
    assert book.tree.get(1) == record.leaf()
    with pytest.raises(BookError, match="already open"):
        book.open(1, pub=(3, 4), balance=1, funding=(0, 0), blinding=1)
    with pytest.raises(BookError, match="not open"):
        book.record(9)


def test_copies_do_not_share_writes() -> None:
    book = book_with_two()
    root, order_root = book.root, book.slot_trees[1].root
    clone = book.copy()
    new_root = clone.write_slot(1, SlotContent(order_id=5, filled=0, commitment=99))
    assert book.slot_trees[1].root == order_root and 1 not in book.slots[1]
    assert book.root == root
    expected = QuadTree(PARAMS.slot_levels)
    expected.update(5 % 4**PARAMS.slot_levels, slot_leaf(5, 0, 99))
    assert new_root == expected.root
    # ... and the original stays writable on its own.
    book.write_slot(1, SlotContent(order_id=2, filled=1, commitment=98))
    assert 2 not in clone.slots[1] and 1 in clone.slots[1]


def test_funding_settlement_moves_checkpoints() -> None:
    book = book_with_two()
    from dataclasses import replace

    record = replace(book.record(1), positions=(3, -2))
    settled = book.settle_funding(record, (10, -4))
    assert settled.balance == 100 - (3 * (10 - 7) + (-2) * (-4 + 7))
    assert settled.checkpoints == (10, -4)
