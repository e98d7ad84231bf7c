"""Poseidon hash over the BN254 scalar field, bit-exact with circomlib's ``Poseidon(n)``.

``poseidon(inputs)`` hashes 1..16 field elements with state width
``t = len(inputs) + 1``, x^5 S-box, 8 full rounds and circomlib's partial-round
counts, initial capacity element 0, and returns state element 0 — the same
value as the circom template ``Poseidon(n)`` and circomlibjs ``buildPoseidon``.
Constants come from ``verifier.poseidon_params`` (regenerated, not pasted).

This is the single Poseidon used by exchange, prover and verifier. It must never
import prover/ or exchange/ and never run node. Inputs are never reduced
silently: a non-canonical input is an error, because two encodings of one
value would hash differently off-circuit than in-circuit.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from verifier.field import R, FieldError, is_canonical
from verifier.poseidon_params import MAX_WIDTH, MIN_WIDTH, poseidon_params

MAX_INPUTS = MAX_WIDTH - 1


class PoseidonError(FieldError):
    """Bad input to Poseidon: wrong arity or a value that is not a canonical field element."""


@dataclass(frozen=True, slots=True)
class _Schedule:
    """Constants laid out for evaluation.

    ``first`` is added to the input state. ``after[r]`` is added right after the
    linear layer of round ``r`` (it is round ``r + 1``'s constants, zeros after the
    last round), so each element is reduced once per round.
    """

    t: int
    half_full: int
    partial: int
    first: tuple[int, ...]
    after: tuple[tuple[int, ...], ...]
    mds: tuple[tuple[int, ...], ...]


@cache
def _schedule(t: int) -> _Schedule:
    params = poseidon_params(t)
    rc = params.round_constants
    return _Schedule(
        t=t,
        half_full=params.full_rounds // 2,
        partial=params.partial_rounds,
        first=rc[0],
        after=(*rc[1:], (0,) * t),
        mds=params.mds,
    )


def _permute_generic(schedule: _Schedule, inputs: Sequence[int]) -> int:
    p = R
    mds = schedule.mds
    after = schedule.after
    state = [(x + c) % p for x, c in zip((0, *inputs), schedule.first, strict=True)]
    hf = schedule.half_full
    first_partial_end = hf + schedule.partial
    for r, consts in enumerate(after):
        if r < hf or r >= first_partial_end:
            state = [pow(s, 5, p) for s in state]
        else:
            state[0] = pow(state[0], 5, p)
        state = [
            (sum(m * s for m, s in zip(row, state, strict=True)) + c) % p
            for row, c in zip(mds, consts, strict=True)
        ]
    return state[0]


@dataclass(frozen=True, slots=True)
class _Width3:
    """Unpacked constants of the t = 3 instance (Poseidon(2), every Merkle node)."""

    first: tuple[int, int, int]
    full_head: tuple[tuple[int, int, int], ...]
    partial: tuple[tuple[int, int, int], ...]
    full_tail: tuple[tuple[int, int, int], ...]
    m: tuple[int, int, int, int, int, int, int, int, int]


@cache
def _width3() -> _Width3:
    s = _schedule(3)
    hf = s.half_full

    def triple(c: Sequence[int]) -> tuple[int, int, int]:
        return (c[0], c[1], c[2])

    after = [triple(c) for c in s.after]
    m = s.mds
    return _Width3(
        first=triple(s.first),
        full_head=tuple(after[:hf]),
        partial=tuple(after[hf : hf + s.partial]),
        full_tail=tuple(after[hf + s.partial :]),
        m=(m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2]),
    )


def _poseidon2(a: int, b: int) -> int:
    """Poseidon(2) unrolled over locals: this is the hot path of every Merkle tree."""
    k = _width3()
    p = R
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = k.m
    c0, c1, c2 = k.first
    s0 = c0
    s1 = (a + c1) % p
    s2 = (b + c2) % p
    for c0, c1, c2 in k.full_head:
        s0 = pow(s0, 5, p)
        s1 = pow(s1, 5, p)
        s2 = pow(s2, 5, p)
        s0, s1, s2 = (
            (m00 * s0 + m01 * s1 + m02 * s2 + c0) % p,
            (m10 * s0 + m11 * s1 + m12 * s2 + c1) % p,
            (m20 * s0 + m21 * s1 + m22 * s2 + c2) % p,
        )
    for c0, c1, c2 in k.partial:
        s0 = pow(s0, 5, p)
        s0, s1, s2 = (
            (m00 * s0 + m01 * s1 + m02 * s2 + c0) % p,
            (m10 * s0 + m11 * s1 + m12 * s2 + c1) % p,
            (m20 * s0 + m21 * s1 + m22 * s2 + c2) % p,
        )
    for c0, c1, c2 in k.full_tail:
        s0 = pow(s0, 5, p)
        s1 = pow(s1, 5, p)
        s2 = pow(s2, 5, p)
        s0, s1, s2 = (
            (m00 * s0 + m01 * s1 + m02 * s2 + c0) % p,
            (m10 * s0 + m11 * s1 + m12 * s2 + c1) % p,
            (m20 * s0 + m21 * s1 + m22 * s2 + c2) % p,
        )
    return s0


def _check_inputs(inputs: Sequence[int]) -> None:
    n = len(inputs)
    if not MIN_WIDTH - 1 <= n <= MAX_INPUTS:
        raise PoseidonError(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    for i, x in enumerate(inputs):
        if not is_canonical(x):
            raise PoseidonError(f"Poseidon input {i} is not a field element in [0, r): {x!r:.80}")


def poseidon(inputs: Sequence[int]) -> int:
    """Hash 1..16 canonical field elements; equals circomlib ``Poseidon(len(inputs))``.

    Raises PoseidonError (a FieldError) on bad arity or a non-canonical input.
    """
    if isinstance(inputs, (str, bytes)):
        raise PoseidonError("Poseidon inputs must be a sequence of ints, not str/bytes")
    _check_inputs(inputs)
    if len(inputs) == 2:
        return _poseidon2(inputs[0], inputs[1])
    return _permute_generic(_schedule(len(inputs) + 1), inputs)


def hash_pair(left: int, right: int) -> int:
    """``poseidon([left, right])`` — the Merkle node hash, with the same input checks."""
    if not (is_canonical(left) and is_canonical(right)):
        _check_inputs((left, right))
    return _poseidon2(left, right)


def hash_pair_unchecked(left: int, right: int) -> int:
    """``poseidon([left, right])`` for callers that already hold canonical field elements.

    Only for internal loops over values this package produced itself (tree
    nodes); anything from outside goes through ``poseidon`` or ``hash_pair``.
    """
    return _poseidon2(left, right)
