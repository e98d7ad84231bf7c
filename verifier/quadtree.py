"""Fixed-depth quaternary Poseidon Merkle trees: the account tree and the per-account order slot trees.

Conventions (``circuits/lib/quadtree.circom`` uses the same ones):

* a node is ``poseidon([c0, c1, c2, c3])``; the empty leaf is 0, so an empty
  subtree of height ``h`` hashes to ``quad_zero_hashes(...)[h]``;
* depth is counted in levels of 4 children: ``levels`` levels hold ``4^levels`` leaves;
* at level ``l`` a leaf index's digit ``(index >> 2l) & 3`` is the node's
  position among its parent's children, and the path lists the parent's
  other three children in increasing position, bottom-up.

A level costs one Poseidon(4) in-circuit (297 constraints) where two binary
levels cost two Poseidon(2) (480): the reason for the arity.
``QuadTree`` is sparse (stores only nodes that differ from the empty-subtree
hash). Pure, never imports prover/ or exchange/, never runs node.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from verifier.field import is_canonical
from verifier.poseidon import poseidon

MAX_LEVELS = 16

__all__ = [
    "QuadPath",
    "QuadTree",
    "QuadTreeError",
    "quad_root",
    "quad_root_from_subroots",
    "quad_zero_hashes",
]


class QuadTreeError(ValueError):
    """Malformed quaternary-tree input: bad depth, index out of range, or a non-field value."""


def _require_levels(levels: int) -> int:
    if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= MAX_LEVELS:
        raise QuadTreeError(f"levels must be an int in [1, {MAX_LEVELS}], got {levels!r}")
    return levels


def _require_index(index: int, levels: int) -> int:
    if (
        not isinstance(index, int)
        or isinstance(index, bool)
        or not 0 <= index < (1 << (2 * levels))
    ):
        raise QuadTreeError(f"leaf index {index!r} out of range for {levels} levels")
    return index


@cache
def _zeros() -> tuple[int, ...]:
    zeros = [0]
    for _ in range(MAX_LEVELS):
        zeros.append(poseidon([zeros[-1]] * 4))
    return tuple(zeros)


def quad_zero_hashes(levels: int) -> tuple[int, ...]:
    """Empty-subtree hashes for heights ``0..levels``: ``[levels]`` is the empty root."""
    return _zeros()[: _require_levels(levels) + 1]


def _children(node: int, siblings: Sequence[int], position: int) -> list[int]:
    children = list(siblings)
    children.insert(position, node)
    return children


@dataclass(frozen=True)
class QuadPath:
    """Authentication path: for each level bottom-up, the three other children in order."""

    index: int
    siblings: tuple[tuple[int, int, int], ...]

    @property
    def levels(self) -> int:
        return len(self.siblings)

    def bits(self) -> tuple[int, ...]:
        """The index as 2 bits per level, LSB first (the circuits' ``bits`` input)."""
        return tuple((self.index >> i) & 1 for i in range(2 * self.levels))

    def root(self, leaf: int) -> int:
        return quad_root(leaf, self.index, self.siblings)


def quad_root(leaf: int, index: int, siblings: Sequence[Sequence[int]]) -> int:
    """Root of the tree with ``leaf`` at ``index`` and the given path."""
    levels = _require_levels(len(siblings))
    _require_index(index, levels)
    node = leaf
    for level, sib in enumerate(siblings):
        if len(sib) != 3 or not all(is_canonical(s) for s in sib):
            raise QuadTreeError(f"level {level}: a path step is three field elements")
        node = poseidon(_children(node, sib, (index >> (2 * level)) & 3))
    return node


def quad_root_from_subroots(subroots: Sequence[int], chunk_levels: int, levels: int) -> int:
    """Root of a ``levels``-level tree from the roots of its first chunks of ``chunk_levels`` levels.

    Chunk ``c`` covers leaves ``c * 4^chunk_levels .. (c + 1) * 4^chunk_levels - 1``
    (``circuits/lib/quad_subtree.circom`` hashes one); chunks after the given
    ones are empty. ``chunk_levels == levels`` means one chunk that is the
    whole tree. Raises QuadTreeError for bad sizes or non-field subroots.
    """
    _require_levels(levels)
    if not isinstance(chunk_levels, int) or not 0 <= chunk_levels <= levels:
        raise QuadTreeError(f"chunk levels {chunk_levels!r} not in [0, {levels}]")
    if not subroots or len(subroots) > 1 << (2 * (levels - chunk_levels)):
        raise QuadTreeError(
            f"{len(subroots)} chunks of {chunk_levels} levels do not fill a {levels}-level tree"
        )
    if not all(is_canonical(s) for s in subroots):
        raise QuadTreeError("a subtree root is not a field element in [0, r)")
    zeros = _zeros()
    nodes = list(subroots)
    for height in range(chunk_levels, levels):
        nodes += [zeros[height]] * (-len(nodes) % 4)
        nodes = [poseidon(nodes[i : i + 4]) for i in range(0, len(nodes), 4)]
    return nodes[0]


class QuadTree:
    """A sparse fixed-depth quaternary Poseidon Merkle tree (empty leaf 0)."""

    __slots__ = ("_levels", "_nodes", "_zeros")

    def __init__(self, levels: int) -> None:
        self._levels = _require_levels(levels)
        self._zeros = quad_zero_hashes(levels)
        self._nodes: list[dict[int, int]] = [{} for _ in range(levels + 1)]

    @classmethod
    def from_leaves(cls, leaves: Sequence[int], levels: int) -> "QuadTree":
        """Tree with ``leaves`` at indices 0..n-1, built with O(n) hashes (not n x levels)."""
        tree = cls(levels)
        if len(leaves) > tree.capacity:
            raise QuadTreeError(f"{len(leaves)} leaves do not fit {levels} levels")
        if not all(is_canonical(leaf) for leaf in leaves):
            raise QuadTreeError("a leaf is not a field element in [0, r)")
        current = list(leaves)
        for height in range(levels + 1):
            zero = tree._zeros[height]
            tree._nodes[height] = {i: v for i, v in enumerate(current) if v != zero}
            if height == levels:
                break
            current += [zero] * (-len(current) % 4)
            current = [poseidon(current[i : i + 4]) for i in range(0, len(current), 4)]
        return tree

    @property
    def levels(self) -> int:
        return self._levels

    @property
    def capacity(self) -> int:
        """Number of leaf slots, ``4^levels``."""
        return int(4**self._levels)

    @property
    def root(self) -> int:
        return self._nodes[self._levels].get(0, self._zeros[self._levels])

    def __len__(self) -> int:
        """Number of non-zero leaves."""
        return len(self._nodes[0])

    def get(self, index: int) -> int:
        """Leaf at ``index`` (0 if empty)."""
        return self._nodes[0].get(_require_index(index, self._levels), 0)

    def node(self, height: int, index: int) -> int:
        """Node at ``height`` (0 = leaves) and position ``index`` within that height."""
        return self._nodes[height].get(index, self._zeros[height])

    def items(self) -> Iterator[tuple[int, int]]:
        """(index, leaf) for every non-zero leaf, in index order."""
        for index in sorted(self._nodes[0]):
            yield index, self._nodes[0][index]

    def update(self, index: int, leaf: int) -> None:
        """Set the leaf at ``index`` and rehash its path to the root."""
        _require_index(index, self._levels)
        if not is_canonical(leaf):
            raise QuadTreeError(f"leaf is not a field element in [0, r): {leaf!r:.80}")
        node = leaf
        position = index
        for height in range(self._levels):
            self._store(height, position, node)
            base = position & ~3
            node = poseidon([self.node(height, base + k) for k in range(4)])
            position >>= 2
        self._store(self._levels, 0, node)

    def path(self, index: int) -> QuadPath:
        """Authentication path of the leaf at ``index``."""
        _require_index(index, self._levels)
        steps = []
        position = index
        for height in range(self._levels):
            base = position & ~3
            others = [self.node(height, base + k) for k in range(4) if base + k != position]
            steps.append((others[0], others[1], others[2]))
            position >>= 2
        return QuadPath(index=index, siblings=tuple(steps))

    def copy(self) -> "QuadTree":
        clone = QuadTree(self._levels)
        clone._nodes = [dict(level) for level in self._nodes]
        return clone

    def _store(self, height: int, index: int, value: int) -> None:
        if value == self._zeros[height]:
            self._nodes[height].pop(index, None)
        else:
            self._nodes[height][index] = value
