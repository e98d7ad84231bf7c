"""AccountBook: copies are independent (slot trees copy-on-write), leaves track records."""

import json

import pytest

from prover.account_book import AccountBook, BookError, SlotContent, account_row, book_from_rows
from prover.circuits import load_params
from prover.statements.settle_fills import GroupFill
from tests.circuits.slot_market import PRICES, SlotMarket
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


def _market_after_trading() -> SlotMarket:
    m = SlotMarket(funding=(3, -4))
    m.open(0, 0)
    m.open(1, 100_000)
    m.open(2, 100_000)
    m.open(5, 7)  # leaves a gap at 3, 4
    buy = m.order(1, 0, 5, PRICES[0])
    sell = m.order(2, 1, 5, PRICES[0], order_id=6)
    m.ops([m.place_op(buy), m.place_op(sell)])
    m.fills([GroupFill(buy, sell, 3)])
    return m


def test_rows_round_trip_rebuilds_the_same_book() -> None:
    m = _market_after_trading()
    book = m.book
    rows = json.loads(json.dumps([account_row(book, i) for i in sorted(book.records)]))
    assert rows[1]["slots"] == [
        {"slot": 1, "order_id": 1, "filled": 3, "h": rows[1]["slots"][0]["h"]}
    ]
    restored = book_from_rows(PARAMS, rows, expected_root=book.root)
    assert restored.root == book.root
    assert restored.records == book.records
    assert restored.slots == book.slots
    assert {i: t.root for i, t in restored.slot_trees.items()} == {
        i: t.root for i, t in book.slot_trees.items()
    }
    # The restored book keeps working: the next op gives the same result on both.
    m2 = _market_after_trading()
    m2.book = restored
    order = m.order(1, 0, 2, 1_000, order_id=9)
    assert (
        m2.ops([m2.place_op(order)]).public_inputs[1] == m.ops([m.place_op(order)]).public_inputs[1]
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda rows: rows[1].update(order_root="1"), "order_root"),
        (lambda rows: rows[1]["slots"][0].update(slot=2), "not in slot"),
        (lambda rows: rows[1]["slots"][0].update(filled=4), "order_root"),
        (lambda rows: rows.append(dict(rows[0])), "two rows"),
        (lambda rows: rows[2].pop("blinding"), "malformed"),
        (lambda rows: rows[2].update(balance="1e3"), "malformed"),
        (lambda rows: rows[2].update(balance="99999"), "expected root"),
        (lambda rows: rows.pop(), "expected root"),
    ],
)
def test_rows_that_do_not_rebuild_the_book_are_refused(mutate: object, reason: str) -> None:
    book = _market_after_trading().book
    rows = json.loads(json.dumps([account_row(book, i) for i in sorted(book.records)]))
    mutate(rows)  # type: ignore[operator]
    with pytest.raises(BookError, match=reason):
        book_from_rows(PARAMS, rows, expected_root=book.root)
