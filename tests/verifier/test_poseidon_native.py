"""The native Poseidon backend (light-poseidon, darkpool[native]) is bit-exact with ours.

Golden vectors: for every arity 1..12 (and 13..16, which fall back to
Python), random field elements and the edge values 0, 1 and r - 1, the
native hash must equal the pure-Python reference; input checks still run
first under native. Skipped with a reason when the extra is not installed.
"""

import random
from collections.abc import Iterator

import pytest

from verifier import poseidon as P
from verifier.field import R

pytest.importorskip(
    "light_poseidon_python", reason="native extra not installed (uv sync --extra native)"
)


@pytest.fixture
def native() -> Iterator[None]:
    before = P.current_backend()
    P.set_backend("native")
    try:
        yield
    finally:
        P.set_backend(before)


def _reference(inputs: list[int]) -> int:
    return P._python_hash(inputs)


def test_golden_vectors_every_arity(native: None) -> None:
    rng = random.Random(13)
    for n in range(1, P.MAX_INPUTS + 1):
        cases = [[rng.randrange(R) for _ in range(n)] for _ in range(4)]
        cases += [[0] * n, [R - 1] * n, [1, *([0] * (n - 1))]]
        for inputs in cases:
            assert P.poseidon(inputs) == _reference(inputs), (n, inputs)
    # The circomlibjs test vector: Poseidon([1, 2]).
    assert P.poseidon([1, 2]) == int(
        "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a", 16
    )


def test_input_checks_run_before_the_native_hash(native: None) -> None:
    with pytest.raises(P.PoseidonError, match="not a field element"):
        P.poseidon([R])
    with pytest.raises(P.PoseidonError, match=r"takes 1\.\.16 inputs"):
        P.poseidon([])
    with pytest.raises(P.PoseidonError, match="not a field element"):
        P.poseidon([-1, 0])


def test_unknown_backend_refused() -> None:
    with pytest.raises(P.PoseidonBackendError, match="unknown Poseidon backend 'gpu'"):
        P.set_backend("gpu")
