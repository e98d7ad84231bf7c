"""Batch chain rules: roots continue, order ops before fills, cancels executed exactly."""

import pytest

from verifier.batch_chain import BatchChainError, ChainLink, check_batch_chain

OPS, FILLS = "order_ops", "settle_fills"


def chain(*links: ChainLink, pending: tuple[int, ...] = (), new_root: int = 4) -> None:
    check_batch_chain(old_root=1, new_root=new_root, links=links, pending_cancels=pending)


def test_valid_chain_with_cancel_executed_first() -> None:
    chain(
        ChainLink(OPS, 1, 2, (77, 0)),
        ChainLink(FILLS, 2, 3),
        ChainLink(FILLS, 3, 4),
        pending=(77,),
    )


def test_broken_root_chain_names_the_proof() -> None:
    with pytest.raises(BatchChainError, match=r"proof 1 .* does not continue"):
        chain(ChainLink(OPS, 1, 2), ChainLink(FILLS, 9, 4))
    with pytest.raises(BatchChainError, match="new account root"):
        chain(ChainLink(OPS, 1, 2), new_root=5)


def test_cancel_not_executed_by_the_next_batch_fails() -> None:
    with pytest.raises(BatchChainError, match=r"cancel 0 .* not executed"):
        chain(ChainLink(OPS, 1, 2), ChainLink(FILLS, 2, 4), pending=(77,))


def test_unrecorded_cancel_fails() -> None:
    with pytest.raises(BatchChainError, match="without a cancel entry"):
        chain(ChainLink(OPS, 1, 4, (77, 88)), pending=(77,))


def test_order_ops_after_a_fill_group_fail() -> None:
    # A cancel proven after the batch's fills would let the cancelled order fill first.
    with pytest.raises(BatchChainError, match="order ops after a fill group"):
        chain(ChainLink(FILLS, 1, 2), ChainLink(OPS, 2, 4, (77,)), pending=(77,))


def placing(*links: ChainLink, published: set[int], unplaced: set[int]) -> list[int]:
    return check_batch_chain(
        old_root=1,
        new_root=links[-1].new_root,
        links=links,
        pending_cancels=(),
        published=published,
        unplaced=unplaced,
    )


def test_places_return_the_placed_orders_in_chain_order() -> None:
    placed = placing(
        ChainLink(OPS, 1, 2, (0, 0), (11, 0)),
        ChainLink(OPS, 2, 3, (0, 0), (22, 33)),
        ChainLink(FILLS, 3, 4),
        published={11, 22, 33, 44},
        unplaced={11, 22, 33, 44},  # 44 stays unplaced (e.g. expired before a batch)
    )
    assert placed == [11, 22, 33]


def test_place_of_an_unpublished_order_fails_naming_the_op() -> None:
    # The operator placed (and could fill) an order it kept off the public record.
    with pytest.raises(
        BatchChainError,
        match=r"^proof 1 \(order_ops\) op 1 places order 0x63, which no earlier order entry published$",
    ):
        placing(
            ChainLink(OPS, 1, 2, (0, 0), (11, 0)),
            ChainLink(OPS, 2, 3, (0, 0), (22, 99)),
            published={11, 22},
            unplaced={11, 22},
        )


@pytest.mark.parametrize(
    "links",
    [
        (ChainLink(OPS, 1, 2, (0, 0), (11, 0)),),  # placed by an earlier batch
        (ChainLink(OPS, 1, 2, (0, 0), (22, 0)), ChainLink(OPS, 2, 3, (0, 0), (0, 22))),
    ],
)
def test_placing_an_order_twice_fails(links: tuple[ChainLink, ...]) -> None:
    with pytest.raises(BatchChainError, match=r"op \d places order 0x[0-9a-f]+ again"):
        placing(*links, published={11, 22}, unplaced={22})


def test_a_fill_group_places_nothing() -> None:
    with pytest.raises(BatchChainError, match="fill group cancels and places nothing"):
        placing(ChainLink(FILLS, 1, 2, (), (11,)), published={11}, unplaced={11})
