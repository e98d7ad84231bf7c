"""Poseidon Merkle tree: sparse tree vs prefix/subroot folding, paths, errors, in-circuit check."""

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.subprocesses import PROJECT_ROOT, run_checked
from verifier.field import R
from verifier.merkle import (
    MAX_DEPTH,
    MerkleError,
    MerklePath,
    MerkleTree,
    chunk_roots,
    compute_root,
    root_from_prefix,
    root_from_subroots,
    verify_path,
    zero_hashes,
)
from verifier.poseidon import poseidon

CIRCUIT = Path(__file__).resolve().parent / "circuits" / "merkle_check.circom"

leaf_values = st.integers(0, R - 1)
nonzero_leaves = st.integers(1, R - 1)


def _dense_root(leaves: list[int], depth: int) -> int:
    """Root by hashing every node of the full tree: the definition, independent of the code under test."""
    level = leaves + [0] * ((1 << depth) - len(leaves))
    for _ in range(depth):
        level = [poseidon([level[i], level[i + 1]]) for i in range(0, len(level), 2)]
    return level[0]


def test_zero_hashes_chain() -> None:
    zeros = zero_hashes(MAX_DEPTH)
    assert len(zeros) == MAX_DEPTH + 1
    assert zeros[0] == 0
    for level in range(1, MAX_DEPTH + 1):
        assert zeros[level] == poseidon([zeros[level - 1], zeros[level - 1]])
    assert zero_hashes(3) == zeros[:4]
    assert MerkleTree(5).root == zeros[5] == _dense_root([], 5)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda d: st.tuples(st.just(d), st.lists(leaf_values, max_size=1 << d))
    )
)
def test_root_from_prefix_matches_dense_definition(case: tuple[int, list[int]]) -> None:
    depth, leaves = case
    assert root_from_prefix(leaves, depth) == _dense_root(leaves, depth)
    assert MerkleTree.from_leaves(leaves, depth).root == _dense_root(leaves, depth)


@st.composite
def update_sequences(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    depth = draw(st.integers(1, 6))
    updates = draw(
        st.lists(st.tuples(st.integers(0, (1 << depth) - 1), leaf_values | st.just(0)), max_size=24)
    )
    return depth, updates


@settings(max_examples=40, deadline=None)
@given(update_sequences())
def test_incremental_updates_equal_root_from_prefix(
    case: tuple[int, list[tuple[int, int]]],
) -> None:
    depth, updates = case
    tree = MerkleTree(depth)
    dense = [0] * (1 << depth)
    for index, leaf in updates:
        tree.update(index, leaf)
        dense[index] = leaf
    assert tree.root == root_from_prefix(dense, depth)
    nonzero = [i for i, v in enumerate(dense) if v]
    assert len(tree) == len(nonzero)
    assert tree.next_free_index == (max(nonzero) + 1 if nonzero else 0)
    assert list(tree.items()) == [(i, dense[i]) for i in nonzero]
    for index in range(1 << depth):
        assert tree.get(index) == dense[index]
        path = tree.path(index)
        assert path.depth == depth
        assert verify_path(tree.root, dense[index], index, path.siblings)
        assert path.root(dense[index]) == tree.root
    # A tree rebuilt from the same leaves stores exactly the same nodes.
    rebuilt = MerkleTree.from_leaves(dense, depth)
    assert rebuilt.root == tree.root
    assert all(
        rebuilt.node(level, i) == tree.node(level, i)
        for level in range(depth + 1)
        for i in range(1 << (depth - level))
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.data())
def test_tampered_paths_fail(depth: int, data: st.DataObject) -> None:
    # Distinct leaves: with two equal siblings, swapping them is not tampering.
    leaves = data.draw(st.lists(nonzero_leaves, min_size=2, max_size=1 << depth, unique=True))
    tree = MerkleTree.from_leaves(leaves, depth)
    index = data.draw(st.integers(0, len(leaves) - 1))
    path = tree.path(index)
    leaf = leaves[index]
    assert path.verify(tree.root, leaf)

    assert not verify_path(tree.root, (leaf + 1) % R, index, path.siblings)

    level = data.draw(st.integers(0, depth - 1))
    siblings = list(path.siblings)
    siblings[level] = (siblings[level] + 1) % R
    assert not verify_path(tree.root, leaf, index, siblings)

    # Claiming another position with the same siblings must not verify.
    other = index ^ (1 << data.draw(st.integers(0, depth - 1)))
    assert not verify_path(tree.root, leaf, other, path.siblings)

    assert not verify_path((tree.root + 1) % R, leaf, index, path.siblings)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 7), st.data())
def test_root_from_subroots_agrees_with_prefix(depth: int, data: st.DataObject) -> None:
    subtree_depth = data.draw(st.integers(1, depth))
    leaves = data.draw(st.lists(leaf_values, max_size=1 << depth))
    subroots = chunk_roots(leaves, subtree_depth)
    expected = root_from_prefix(leaves, depth)
    assert root_from_subroots(subroots, subtree_depth, depth) == expected
    tree = MerkleTree.from_leaves(leaves, depth)
    assert list(subroots) == [tree.subtree_root(subtree_depth, k) for k in range(len(subroots))]
    # Chunk subroots must be complete: dropping the last non-empty chunk changes the root.
    if any(leaves):
        last = max(i for i, v in enumerate(leaves) if v) >> subtree_depth
        assert root_from_subroots(subroots[:last], subtree_depth, depth) != expected


def test_deep_sparse_tree() -> None:
    rng = random.Random(7)
    depth = 32
    tree = MerkleTree(depth)
    leaves = [rng.randrange(1, R) for _ in range(5)]
    for i, leaf in enumerate(leaves):
        assert tree.append(leaf) == i
    assert tree.root == root_from_prefix(leaves, depth)
    far = (1 << depth) - 1
    tree.update(far, 12345)
    path = tree.path(far)
    assert path.bits == (1,) * depth
    assert compute_root(12345, far, path.siblings) == tree.root
    assert tree.next_free_index == 1 << depth
    assert sum(len(level) for level in tree._levels) <= 6 * (depth + 1)
    with pytest.raises(MerkleError, match="full"):
        tree.append(1)


def test_copy_is_independent_and_clearing_top_leaf_lowers_next_index() -> None:
    tree = MerkleTree.from_leaves([5, 6, 7], 4)
    snapshot = tree.copy()
    tree.update(2, 0)
    assert tree.next_free_index == 2
    assert len(tree) == 2
    assert tree.root == root_from_prefix([5, 6], 4)
    assert snapshot.root == root_from_prefix([5, 6, 7], 4)
    assert snapshot.get(2) == 7
    with pytest.raises(MerkleError, match="empty leaf"):
        tree.append(0)


def test_merkle_path_bits_follow_index() -> None:
    path = MerklePath(index=0b1011, siblings=(0, 0, 0, 0, 0))
    assert path.bits == (1, 1, 0, 1, 0)


@pytest.mark.parametrize("depth", [0, 33, -1, True, 3.0])
def test_bad_depth_rejected(depth: int) -> None:
    with pytest.raises(MerkleError, match="depth"):
        MerkleTree(depth)
    with pytest.raises(MerkleError):
        root_from_prefix([], depth)
    with pytest.raises(MerkleError):
        zero_hashes(depth)


@pytest.mark.parametrize("index", [-1, 16, 1 << 40, True, 1.0, "3"])
def test_bad_index_rejected(index: int) -> None:
    tree = MerkleTree(4)
    with pytest.raises(MerkleError, match="index"):
        tree.update(index, 1)
    with pytest.raises(MerkleError, match="index"):
        tree.get(index)
    with pytest.raises(MerkleError, match="index"):
        tree.path(index)
    with pytest.raises(MerkleError, match="index"):
        compute_root(1, index, [0] * 4)


@pytest.mark.parametrize("value", [R, -1, R + 1, None, "1"])
def test_non_field_values_rejected(value: int) -> None:
    tree = MerkleTree(3)
    with pytest.raises(MerkleError, match="leaf"):
        tree.update(0, value)
    with pytest.raises(MerkleError, match="leaf"):
        compute_root(value, 0, [0, 0, 0])
    with pytest.raises(MerkleError, match="sibling at level 1"):
        compute_root(1, 0, [0, value, 0])
    with pytest.raises(MerkleError, match="root"):
        verify_path(value, 1, 0, [0, 0, 0])
    with pytest.raises(MerkleError, match="leaf 1"):
        root_from_prefix([1, value], 3)
    with pytest.raises(MerkleError, match="subroot 0"):
        root_from_subroots([value], 1, 3)


def test_shape_errors() -> None:
    with pytest.raises(MerkleError, match="path length"):
        compute_root(1, 0, [])
    with pytest.raises(MerkleError, match="path length"):
        compute_root(1, 0, [0] * 33)
    with pytest.raises(MerkleError, match="do not fit"):
        root_from_prefix([1] * 9, 3)
    with pytest.raises(MerkleError, match="do not fit"):
        MerkleTree.from_leaves([1] * 9, 3)
    with pytest.raises(MerkleError, match="do not fit"):
        root_from_subroots([1] * 5, 1, 3)
    with pytest.raises(MerkleError, match="exceeds"):
        root_from_subroots([1], 4, 3)
    with pytest.raises(MerkleError, match="level"):
        MerkleTree(3).node(4, 0)
    with pytest.raises(MerkleError, match="out of range at level 1"):
        MerkleTree(3).node(1, 4)
    for exc in (MerkleError("x"),):
        assert isinstance(exc, ValueError)


@pytest.mark.slow
def test_root_and_pair_hash_match_circom(tmp_path: Path) -> None:
    depth = 4
    rng = random.Random(2024)
    leaves = [rng.randrange(R) for _ in range(11)] + [R - 1]
    tree = MerkleTree.from_leaves(leaves, depth)
    out_dir = tmp_path / "build"
    out_dir.mkdir()
    run_checked(
        [
            str(PROJECT_ROOT / "node_modules" / ".bin" / "circom2"),
            str(CIRCUIT),
            "--wasm",
            "--O2",
            "-l",
            str(PROJECT_ROOT / "node_modules"),
            "-o",
            str(out_dir),
        ],
    )
    js_dir = out_dir / "merkle_check_js"
    # 11 = 0b1011 and 4 = 0b0100 exercise both directions at every level; 14 is an empty leaf.
    for index in (11, 4, 14):
        path = tree.path(index)
        pair = (rng.randrange(R), rng.randrange(R)) if index != 4 else (0, R - 1)
        inputs = {
            "leaf": str(tree.get(index)),
            "pathIndices": [str(b) for b in path.bits],
            "siblings": [str(s) for s in path.siblings],
            "pairLeft": str(pair[0]),
            "pairRight": str(pair[1]),
        }
        input_file = tmp_path / f"input_{index}.json"
        input_file.write_text(json.dumps(inputs))
        wtns = tmp_path / f"w_{index}.wtns"
        wtns_json = tmp_path / f"w_{index}.json"
        run_checked(
            [
                "node",
                str(js_dir / "generate_witness.js"),
                str(js_dir / "merkle_check.wasm"),
                str(input_file),
                str(wtns),
            ],
            cwd=tmp_path,
        )
        run_checked(
            [
                str(PROJECT_ROOT / "node_modules" / ".bin" / "snarkjs"),
                "wtns",
                "export",
                "json",
                str(wtns),
                str(wtns_json),
            ],
            cwd=tmp_path,
        )
        witness = [int(x) for x in json.loads(wtns_json.read_text())]
        # Witness layout: [1, outputs in declaration order (root, pairHash), inputs...].
        assert witness[0] == 1
        assert witness[1] == tree.root == compute_root(tree.get(index), index, path.siblings)
        assert witness[2] == poseidon(list(pair))
