"""Poseidon hash over the BN254 scalar field, bit-exact with circomlib's ``Poseidon(n)``.

``poseidon(inputs)`` hashes 1..16 field elements with state width
``t = len(inputs) + 1``, x^5 S-box, 8 full rounds and circomlib's partial-round
counts, initial capacity element 0, and returns state element 0 — the same
value as the circom template ``Poseidon(n)`` and circomlibjs ``buildPoseidon``.
Constants come from ``verifier.poseidon_params`` (regenerated, not pasted).

This is the single Poseidon used by exchange, prover and verifier. It must never
import prover/ or exchange/ and never run node.

Backends: ``python`` (this file; the default and the reference) or ``native``
(the Rust ``light-poseidon`` through its PyPI binding, Apache-2.0, in the
``darkpool[native]`` extra), about 300x faster. Input checks always run here
first; native covers 1..12 inputs (more fall back to Python) and is
golden-vector-tested against this implementation
(tests/verifier/test_poseidon_native.py). Choose with ``set_backend`` or
``DARKPOOL_POSEIDON=native``; the operator uses native when it is installed,
``darkpool-verify`` only with ``--backend native``. Inputs are never reduced
silently: a non-canonical input is an error, because two encodings of one
value would hash differently off-circuit than in-circuit.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from verifier.field import FieldError, R, is_canonical
from verifier.poseidon_params import MAX_WIDTH, MIN_WIDTH, poseidon_params

MAX_INPUTS = MAX_WIDTH - 1


class PoseidonError(FieldError):
    """Bad input to Poseidon: wrong arity or a value that is not a canonical field element."""


def _mat_mul(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]]) -> list[list[int]]:
    cols = list(zip(*b, strict=True))
    return [[sum(x * y for x, y in zip(row, col, strict=True)) % R for col in cols] for row in a]


def _mat_inv(a: Sequence[Sequence[int]]) -> list[list[int]]:
    """Inverse mod R by Gauss-Jordan elimination (the matrices here are always invertible)."""
    n = len(a)
    rows = [[*row, *(int(i == j) for j in range(n))] for i, row in enumerate(a)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] % R)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        inv = pow(rows[col][col], -1, R)
        rows[col] = [x * inv % R for x in rows[col]]
        for r in range(n):
            if r != col and rows[r][col]:
                f = rows[r][col]
                rows[r] = [(x - f * y) % R for x, y in zip(rows[r], rows[col], strict=True)]
    return [row[n:] for row in rows]


@dataclass(frozen=True, slots=True)
class _Schedule:
    """Constants of one width rearranged for fast evaluation (same permutation, fewer ops).

    The textbook round is ``state = M · sbox(state + C_r)``. Two equivalences
    from the Poseidon paper (appendix B) are applied, both checked by tests
    against ``_permute_textbook`` and circomlibjs:

    * Constant moving: in a partial round only element 0 goes through the S-box,
      so constants on elements 1..t-1 pass through it unchanged and can be pushed
      through ``M`` into the next round. Partial rounds keep one scalar constant.
    * Sparse factorisation: ``X = A · B`` with ``B = diag(1, X[1:,1:])`` and
      ``A`` sparse (dense first row ``w``, first column ``v``, identity
      elsewhere). ``B`` commutes with a partial round (it does not touch element
      0), so it is pushed into the previous round's matrix, leaving each
      partial round with ``A``: ``2t - 1`` multiplications instead of ``t^2``.

    Constants are added right after each linear layer (they belong to the
    next round), so each element is reduced once per round.
    """

    t: int
    first: tuple[int, ...]
    # Full rounds before the partial ones: (matrix, constants added after it).
    head: tuple[tuple[tuple[tuple[int, ...], ...], tuple[int, ...]], ...]
    # Partial rounds: (w, v, next scalar constant for element 0).
    partial: tuple[tuple[tuple[int, ...], tuple[int, ...], int], ...]
    # Added to elements 1..t-1 after the last partial round.
    partial_exit: tuple[int, ...]
    # Full rounds after the partial ones: constants added after the plain MDS.
    tail: tuple[tuple[int, ...], ...]
    mds: tuple[tuple[int, ...], ...]


def _as_tuple(m: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(row) for row in m)


@cache
def _schedule(t: int) -> _Schedule:
    params = poseidon_params(t)
    rc = params.round_constants
    mds = params.mds
    half = params.full_rounds // 2
    n_partial = params.partial_rounds

    # Constant moving, forward through the partial rounds.
    scalars: list[int] = []
    carry = list(rc[half])
    for p in range(n_partial):
        scalars.append(carry[0])
        pushed = [sum(m * c for m, c in zip(row[1:], carry[1:], strict=True)) % R for row in mds]
        carry = [(c + x) % R for c, x in zip(rc[half + p + 1], pushed, strict=True)]
    tail_entry = carry  # constants of the first tail round after absorbing the moved ones

    # Sparse factorisation, backward from the last partial round.
    sparse: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    x = [list(row) for row in mds]
    for _ in range(n_partial):
        block = [row[1:] for row in x[1:]]
        w_rest = _mat_mul([x[0][1:]], _mat_inv(block))[0]
        sparse.append(((x[0][0], *w_rest), tuple(row[0] for row in x[1:])))
        b = [[1] + [0] * (t - 1)] + [[0, *row] for row in block]
        x = _mat_mul(b, mds)
    sparse.reverse()
    last_head_matrix = x

    head = [(mds, rc[h + 1]) for h in range(half - 1)]
    head.append((_as_tuple(last_head_matrix), (scalars[0],) + (0,) * (t - 1)))
    next_scalars = [*scalars[1:], tail_entry[0]]
    partial = tuple((w, v, k) for (w, v), k in zip(sparse, next_scalars, strict=True))
    tail_start = half + n_partial
    tail = (*rc[tail_start + 1 :], (0,) * t)
    return _Schedule(
        t=t,
        first=rc[0],
        head=tuple(head),
        partial=partial,
        partial_exit=tuple(tail_entry[1:]),
        tail=tail,
        mds=mds,
    )


def _permute_textbook(inputs: Sequence[int]) -> int:
    """Direct transcription of the reference permutation; slow, kept as the test oracle."""
    params = poseidon_params(len(inputs) + 1)
    half = params.full_rounds // 2
    state = [0, *inputs]
    for r, consts in enumerate(params.round_constants):
        state = [(s + c) % R for s, c in zip(state, consts, strict=True)]
        if r < half or r >= half + params.partial_rounds:
            state = [pow(s, 5, R) for s in state]
        else:
            state[0] = pow(state[0], 5, R)
        state = [sum(m * s for m, s in zip(row, state, strict=True)) % R for row in params.mds]
    return state[0]


def _full_round(
    state: list[int], matrix: Sequence[Sequence[int]], consts: Sequence[int]
) -> list[int]:
    p = R
    state = [pow(s, 5, p) for s in state]
    return [
        (sum(m * s for m, s in zip(row, state, strict=True)) + c) % p
        for row, c in zip(matrix, consts, strict=True)
    ]


def _permute_generic(schedule: _Schedule, inputs: Sequence[int]) -> int:
    p = R
    state = [(x + c) % p for x, c in zip((0, *inputs), schedule.first, strict=True)]
    for matrix, consts in schedule.head:
        state = _full_round(state, matrix, consts)
    for w, v, k in schedule.partial:
        s0 = pow(state[0], 5, p)
        state[0] = s0
        new0 = (sum(a * s for a, s in zip(w, state, strict=True)) + k) % p
        # Elements 1..t-1 are only ever added to in the partial rounds, so they
        # are left unreduced until the exit (they grow by < 2^508 per round).
        state = [new0, *(s + a * s0 for s, a in zip(state[1:], v, strict=True))]
    state = [
        state[0],
        *((s + c) % p for s, c in zip(state[1:], schedule.partial_exit, strict=True)),
    ]
    for consts in schedule.tail:
        state = _full_round(state, schedule.mds, consts)
    return state[0]


def _check_inputs(inputs: Sequence[int]) -> None:
    n = len(inputs)
    if not MIN_WIDTH - 1 <= n <= MAX_INPUTS:
        raise PoseidonError(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    for i, x in enumerate(inputs):
        if not is_canonical(x):
            raise PoseidonError(f"Poseidon input {i} is not a field element in [0, r): {x!r:.80}")


# ---------------------------------------------------------------- backends

BACKENDS: tuple[str, ...] = ("python", "native")
BACKEND_ENV = "DARKPOOL_POSEIDON"
NATIVE_MAX_INPUTS = 12  # light-poseidon's circom-compatible parameters cover widths 2..13


class PoseidonBackendError(ValueError):
    """Unknown Poseidon backend, or native requested but ``light-poseidon`` is not installed."""


_hashers: dict[int, Any] = {}
_native_mod: Any = None
_backend = "python"


def _load_native() -> Any:
    global _native_mod
    if _native_mod is None:
        try:
            import light_poseidon_python  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            raise PoseidonBackendError(
                "the native Poseidon needs the optional extra: `uv sync --extra native`"
            ) from None
        _native_mod = light_poseidon_python
    return _native_mod


def native_available() -> bool:
    """Whether the native backend can be used here."""
    try:
        _load_native()
    except PoseidonBackendError:
        return False
    return True


def set_backend(name: str) -> None:
    """Use ``name`` (python | native) for every later hash in this process."""
    global _backend
    if name not in BACKENDS:
        raise PoseidonBackendError(
            f"unknown Poseidon backend {name!r} (choose {' or '.join(BACKENDS)})"
        )
    if name == "native":
        _load_native()
    _backend = name


def current_backend() -> str:
    return _backend


def _native_hash(inputs: Sequence[int]) -> int:
    n = len(inputs)
    hasher = _hashers.get(n)
    if hasher is None:
        hasher = _hashers[n] = _load_native().Hasher(n)
    out: str = hasher.hash_bytes_be([x.to_bytes(32, "big") for x in inputs])
    return int(out, 16)


def _python_hash(inputs: Sequence[int]) -> int:
    return _permute_generic(_schedule(len(inputs) + 1), inputs)


def _hash_checked(inputs: Sequence[int]) -> int:
    if _backend == "native" and len(inputs) <= NATIVE_MAX_INPUTS:
        return _native_hash(inputs)
    return _python_hash(inputs)


def _backend_from_env() -> str | None:
    """Apply ``$DARKPOOL_POSEIDON`` at import; return the problem (one line) if it is bad."""
    name = os.environ.get(BACKEND_ENV)
    if not name:
        return None
    try:
        set_backend(name)
    except PoseidonBackendError as exc:
        return f"{BACKEND_ENV}: {exc}"
    return None


ENV_PROBLEM: str | None = _backend_from_env()
"""Why ``$DARKPOOL_POSEIDON`` was not applied (entry points report it), or None."""


def poseidon(inputs: Sequence[int]) -> int:
    """Hash 1..16 canonical field elements; equals circomlib ``Poseidon(len(inputs))``.

    Raises PoseidonError (a FieldError) on bad arity or a non-canonical input.
    """
    if isinstance(inputs, (str, bytes)):
        raise PoseidonError("Poseidon inputs must be a sequence of ints, not str/bytes")
    _check_inputs(inputs)
    return _hash_checked(inputs)
