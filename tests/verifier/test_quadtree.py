"""Quaternary Poseidon tree: sparse updates equal a full rebuild; paths verify; bad input refused."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.poseidon import poseidon
from verifier.quadtree import QuadTree, QuadTreeError, quad_root, quad_zero_hashes


def full_root(leaves: dict[int, int], levels: int) -> int:
    layer = [leaves.get(i, 0) for i in range(4**levels)]
    while len(layer) > 1:
        layer = [poseidon(layer[i : i + 4]) for i in range(0, len(layer), 4)]
    return layer[0]


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.integers(0, 15), st.integers(0, 2**64), max_size=6))
def test_sparse_tree_equals_full_rebuild(leaves: dict[int, int]) -> None:
    tree = QuadTree(2)
    for index, leaf in leaves.items():
        tree.update(index, leaf)
    assert tree.root == full_root(leaves, 2)
    for index in range(16):
        assert tree.path(index).root(leaves.get(index, 0)) == tree.root
    dense = [leaves.get(i, 0) for i in range(max(leaves, default=-1) + 1)]
    assert QuadTree.from_leaves(dense, 2).root == tree.root


def test_empty_root_and_positions() -> None:
    assert QuadTree(3).root == quad_zero_hashes(3)[3]
    tree = QuadTree(1)
    tree.update(2, 5)
    # Leaf 2 is the third child: the path lists children 0, 1, 3.
    assert tree.path(2).siblings == ((0, 0, 0),)
    assert tree.root == poseidon([0, 0, 5, 0])
    assert tree.path(2).bits() == (0, 1)


def test_bad_input_is_refused() -> None:
    with pytest.raises(QuadTreeError):
        QuadTree(1).update(4, 1)
    with pytest.raises(QuadTreeError):
        quad_root(1, 0, [(1, 2)])
    with pytest.raises(QuadTreeError):
        QuadTree(0)
