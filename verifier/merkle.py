"""Fixed-depth binary Poseidon Merkle trees: the one tree used by exchange, prover and verifier.

Conventions (the circuits use the same ones):

* a node is ``poseidon([left, right])``; the empty leaf is 0, so an empty
  subtree of height ``h`` hashes to ``zero_hashes(...)[h]``;
* levels count from the leaves: level 0 holds leaves, level ``depth`` the root;
* a path lists siblings bottom-up, and bit ``i`` of the leaf index gives the
  direction at level ``i``: 0 means the current node is the left child.

``MerkleTree`` is sparse (it stores only nodes that differ from the empty
subtree hash), so a depth-32 tree with a few thousand leaves is cheap.
``root_from_prefix`` / ``root_from_subroots`` rebuild roots of left-filled
trees with O(n) hashes, which is how the verifier recomputes an account root
from solvency chunk subroots.

This module must never import prover/ or exchange/ and never run node.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from verifier.field import is_canonical
from verifier.poseidon import hash_pair_unchecked

MIN_DEPTH = 1
MAX_DEPTH = 32


class MerkleError(ValueError):
    """Malformed Merkle input: bad depth, index out of range, or a non-field node value."""


def _require_depth(depth: int, what: str = "depth") -> int:
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise MerkleError(f"{what} must be an int, got {type(depth).__name__}")
    if not MIN_DEPTH <= depth <= MAX_DEPTH:
        raise MerkleError(f"{what} must be in [{MIN_DEPTH}, {MAX_DEPTH}], got {depth}")
    return depth


def _require_index(index: int, depth: int) -> int:
    if not isinstance(index, int) or isinstance(index, bool):
        raise MerkleError(f"leaf index must be an int, got {type(index).__name__}")
    if not 0 <= index < (1 << depth):
        raise MerkleError(f"leaf index {index} out of range for depth {depth}")
    return index


def _require_node(value: int, what: str) -> int:
    if not is_canonical(value):
        raise MerkleError(f"{what} is not a field element in [0, r): {value!r:.80}")
    return value


@cache
def _all_zero_hashes() -> tuple[int, ...]:
    zeros = [0]
    for _ in range(MAX_DEPTH):
        zeros.append(hash_pair_unchecked(zeros[-1], zeros[-1]))
    return tuple(zeros)


def zero_hashes(depth: int) -> tuple[int, ...]:
    """Empty-subtree hashes for levels ``0..depth``: ``[0]`` is the empty leaf, ``[depth]`` the empty root."""
    _require_depth(depth)
    return _all_zero_hashes()[: depth + 1]


@dataclass(frozen=True, slots=True)
class MerklePath:
    """An authentication path: the leaf index and its siblings from the leaf level up."""

    index: int
    siblings: tuple[int, ...]

    @property
    def depth(self) -> int:
        return len(self.siblings)

    @property
    def bits(self) -> tuple[int, ...]:
        """Direction bits bottom-up (1 = current node is the right child), as circuits take them."""
        return tuple((self.index >> level) & 1 for level in range(len(self.siblings)))

    def root(self, leaf: int) -> int:
        """Root implied by this path for ``leaf`` (see ``compute_root``)."""
        return compute_root(leaf, self.index, self.siblings)

    def verify(self, root: int, leaf: int) -> bool:
        return verify_path(root, leaf, self.index, self.siblings)


def compute_root(leaf: int, index: int, siblings: Sequence[int]) -> int:
    """Root reached by hashing ``leaf`` at ``index`` up through ``siblings`` (bottom-up).

    The tree depth is ``len(siblings)``. Raises MerkleError on a bad depth,
    an index out of range, or a non-canonical leaf or sibling.
    """
    depth = _require_depth(len(siblings), "path length")
    _require_index(index, depth)
    node = _require_node(leaf, "leaf")
    for level, sibling in enumerate(siblings):
        _require_node(sibling, f"sibling at level {level}")
        if (index >> level) & 1:
            node = hash_pair_unchecked(sibling, node)
        else:
            node = hash_pair_unchecked(node, sibling)
    return node


def verify_path(root: int, leaf: int, index: int, siblings: Sequence[int]) -> bool:
    """True iff ``leaf`` at ``index`` with ``siblings`` hashes to ``root``.

    Malformed input (see ``compute_root``, or a non-canonical root) raises
    MerkleError rather than returning False, so a caller cannot mistake a
    garbled proof for a well-formed one that merely fails.
    """
    _require_node(root, "root")
    return compute_root(leaf, index, siblings) == root


def _fold_left_filled(nodes: Sequence[int], level: int, depth: int) -> int:
    """Root of a tree whose level-``level`` nodes are ``nodes`` followed by empty subtrees."""
    zeros = _all_zero_hashes()
    current = list(nodes)
    while level < depth:
        if not current:
            return zeros[depth]
        if len(current) % 2:
            current.append(zeros[level])
        current = [
            hash_pair_unchecked(current[i], current[i + 1]) for i in range(0, len(current), 2)
        ]
        level += 1
    return current[0] if current else zeros[depth]


def root_from_prefix(leaves: Sequence[int], depth: int) -> int:
    """Root of a depth-``depth`` tree holding ``leaves`` at indices 0..n-1 and empty leaves after.

    Uses about n hashes plus one per level, never 2^depth.
    """
    _require_depth(depth)
    if len(leaves) > (1 << depth):
        raise MerkleError(f"{len(leaves)} leaves do not fit in a tree of depth {depth}")
    for i, leaf in enumerate(leaves):
        _require_node(leaf, f"leaf {i}")
    return _fold_left_filled(leaves, 0, depth)


def chunk_roots(leaves: Sequence[int], subtree_depth: int) -> tuple[int, ...]:
    """Split a left-filled leaf prefix into chunks of ``2^subtree_depth`` leaves; return each chunk's root.

    The last chunk is padded with empty leaves. These are the subroots that
    ``root_from_subroots`` recombines (one solvency chunk proof per subroot).
    """
    _require_depth(subtree_depth, "subtree depth")
    size = 1 << subtree_depth
    return tuple(
        root_from_prefix(leaves[start : start + size], subtree_depth)
        for start in range(0, len(leaves), size)
    )


def root_from_subroots(subroots: Sequence[int], subtree_depth: int, depth: int) -> int:
    """Full root from the roots of consecutive left-filled chunks of depth ``subtree_depth``.

    Chunk ``k`` covers leaves ``[k * 2^subtree_depth, (k + 1) * 2^subtree_depth)``;
    chunks after the given ones are empty. ``subtree_depth == depth`` means a
    single chunk that is the whole tree.
    """
    _require_depth(depth)
    _require_depth(subtree_depth, "subtree depth")
    if subtree_depth > depth:
        raise MerkleError(f"subtree depth {subtree_depth} exceeds tree depth {depth}")
    if len(subroots) > (1 << (depth - subtree_depth)):
        raise MerkleError(
            f"{len(subroots)} subtrees of depth {subtree_depth} do not fit in depth {depth}"
        )
    for i, node in enumerate(subroots):
        _require_node(node, f"subroot {i}")
    return _fold_left_filled(subroots, subtree_depth, depth)


class MerkleTree:
    """A sparse fixed-depth Poseidon Merkle tree (empty leaf 0).

    Every level keeps only the nodes whose value differs from the empty-subtree
    hash of that level; a missing node reads as that hash. ``update`` rehashes
    exactly ``depth`` nodes.
    """

    __slots__ = ("_depth", "_levels", "_top", "_zeros")

    def __init__(self, depth: int) -> None:
        self._depth = _require_depth(depth)
        self._zeros = _all_zero_hashes()[: depth + 1]
        self._levels: list[dict[int, int]] = [{} for _ in range(depth + 1)]
        # One past the highest index holding a non-zero leaf.
        self._top = 0

    @classmethod
    def from_leaves(cls, leaves: Sequence[int], depth: int) -> "MerkleTree":
        """Tree with ``leaves`` at indices 0..n-1, built level by level with O(n) hashes."""
        tree = cls(depth)
        if len(leaves) > tree.capacity:
            raise MerkleError(f"{len(leaves)} leaves do not fit in a tree of depth {depth}")
        for i, leaf in enumerate(leaves):
            _require_node(leaf, f"leaf {i}")
        current = list(leaves)
        for level in range(depth + 1):
            zero = tree._zeros[level]
            tree._levels[level] = {i: v for i, v in enumerate(current) if v != zero}
            if level == depth:
                break
            if len(current) % 2:
                current.append(zero)
            current = [
                hash_pair_unchecked(current[i], current[i + 1]) for i in range(0, len(current), 2)
            ]
        tree._recompute_top()
        return tree

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def capacity(self) -> int:
        """Number of leaf slots, ``2^depth``."""
        return 1 << self._depth

    @property
    def root(self) -> int:
        return self._levels[self._depth].get(0, self._zeros[self._depth])

    @property
    def next_free_index(self) -> int:
        """One past the highest index holding a non-zero leaf (0 for an empty tree)."""
        return self._top

    def __len__(self) -> int:
        """Number of non-zero leaves."""
        return len(self._levels[0])

    def get(self, index: int) -> int:
        """Leaf at ``index`` (0 if empty)."""
        _require_index(index, self._depth)
        return self._levels[0].get(index, 0)

    def node(self, level: int, index: int) -> int:
        """Node at ``level`` (0 = leaves) and position ``index`` within that level."""
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= self._depth:
            raise MerkleError(f"level {level!r} out of range for depth {self._depth}")
        if not isinstance(index, int) or isinstance(index, bool):
            raise MerkleError(f"node index must be an int, got {type(index).__name__}")
        if not 0 <= index < (1 << (self._depth - level)):
            raise MerkleError(f"node index {index} out of range at level {level}")
        return self._levels[level].get(index, self._zeros[level])

    def subtree_root(self, subtree_depth: int, chunk: int) -> int:
        """Root of chunk ``chunk`` of ``2^subtree_depth`` leaves (a level-``subtree_depth`` node)."""
        return self.node(subtree_depth, chunk)

    def items(self) -> Iterator[tuple[int, int]]:
        """(index, leaf) for every non-zero leaf, in index order."""
        leaves = self._levels[0]
        for index in sorted(leaves):
            yield index, leaves[index]

    def update(self, index: int, leaf: int) -> None:
        """Set the leaf at ``index`` and rehash its path to the root."""
        _require_index(index, self._depth)
        _require_node(leaf, "leaf")
        if leaf and index >= self._top:
            self._top = index + 1
        elif not leaf and index == self._top - 1:
            self._store(0, index, 0)
            self._recompute_top()
        zeros = self._zeros
        levels = self._levels
        node = leaf
        position = index
        for level in range(self._depth):
            self._store(level, position, node)
            sibling = levels[level].get(position ^ 1, zeros[level])
            if position & 1:
                node = hash_pair_unchecked(sibling, node)
            else:
                node = hash_pair_unchecked(node, sibling)
            position >>= 1
        self._store(self._depth, 0, node)

    def append(self, leaf: int) -> int:
        """Write ``leaf`` at ``next_free_index`` and return that index."""
        index = self._top
        if index >= self.capacity:
            raise MerkleError(f"tree of depth {self._depth} is full")
        if leaf == 0:
            raise MerkleError("cannot append the empty leaf 0")
        self.update(index, leaf)
        return index

    def path(self, index: int) -> MerklePath:
        """Authentication path of the leaf at ``index`` (siblings bottom-up)."""
        _require_index(index, self._depth)
        zeros = self._zeros
        siblings = []
        position = index
        for level in range(self._depth):
            siblings.append(self._levels[level].get(position ^ 1, zeros[level]))
            position >>= 1
        return MerklePath(index=index, siblings=tuple(siblings))

    def copy(self) -> "MerkleTree":
        """An independent snapshot (node dicts are copied, values are immutable ints)."""
        clone = MerkleTree(self._depth)
        clone._levels = [dict(level) for level in self._levels]
        clone._top = self._top
        return clone

    def _store(self, level: int, index: int, value: int) -> None:
        if value == self._zeros[level]:
            self._levels[level].pop(index, None)
        else:
            self._levels[level][index] = value

    def _recompute_top(self) -> None:
        # Only needed when the highest leaf is cleared, which the protocol never does.
        leaves = self._levels[0]
        self._top = max(leaves) + 1 if leaves else 0
