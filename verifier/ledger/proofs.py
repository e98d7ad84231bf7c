"""Groth16 proof checking for the replay: batched, in this process or over a process pool.

``check_proofs(jobs)`` returns a ``ProofChecker``: given a prepared key, its
JSON and (proof, public inputs) items, it returns the indices of the items that
do not verify. One ``batch_verify`` per chunk of up to ``SERIAL_BATCH`` proofs,
falling back to ``find_invalid`` to name the bad ones. Pure computation.
"""

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from verifier import groth16

__all__ = [
    "SERIAL_BATCH",
    "PendingProof",
    "Progress",
    "ProofChecker",
    "ProofItem",
    "check_proofs",
    "phase_ticker",
]

# Proofs per batch_verify call when running in one process: large enough that
# the per-call final exponentiation is amortised, small enough for progress.
SERIAL_BATCH = 64


class Progress(Protocol):
    """Progress sink: ``phase`` names the step, ``done`` of ``total`` units finished."""

    def __call__(self, phase: str, done: int, total: int) -> None: ...


ProofItem = tuple[groth16.Proof, list[int]]


class ProofChecker(Protocol):
    """Returns the indices of the items that do not verify under ``vk``."""

    def __call__(
        self,
        vk: groth16.PreparedVerificationKey,
        vk_json: object,
        items: Sequence[ProofItem],
        progress: Callable[[int], None],
    ) -> list[int]: ...


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _check_serial(
    vk: groth16.PreparedVerificationKey,
    vk_json: object,
    items: Sequence[ProofItem],
    progress: Callable[[int], None],
) -> list[int]:
    bad: list[int] = []
    done = 0
    for part in _chunks(len(items), SERIAL_BATCH):
        chunk = [items[i] for i in part]
        if not groth16.batch_verify(vk, chunk):
            bad.extend(part[j] for j in groth16.find_invalid(vk, chunk))
        done += len(part)
        progress(done)
    return bad


# Worker side of the process pool: the prepared key is built once per worker
# (one pairing) from the key's JSON, which pickles far more cheaply than FQ12.
_WORKER_KEYS: dict[str, groth16.PreparedVerificationKey] = {}


def _worker_key(vk_json: object) -> groth16.PreparedVerificationKey:
    digest = groth16.vkey_hash(vk_json)
    if digest not in _WORKER_KEYS:
        _WORKER_KEYS[digest] = groth16.prepare(groth16.VerificationKey.from_snarkjs(vk_json))
    return _WORKER_KEYS[digest]


def _worker_batch(args: tuple[object, list[ProofItem]]) -> list[int]:
    vk_json, chunk = args
    vk = _worker_key(vk_json)
    if groth16.batch_verify(vk, chunk):
        return []
    return groth16.find_invalid(vk, chunk)


def _pool_checker(jobs: int) -> ProofChecker:
    def check(
        vk: groth16.PreparedVerificationKey,
        vk_json: object,
        items: Sequence[ProofItem],
        progress: Callable[[int], None],
    ) -> list[int]:
        if len(items) < 2:
            return _check_serial(vk, vk_json, items, progress)
        # At least `jobs` pieces so every worker is busy, at most SERIAL_BATCH
        # proofs each so progress moves.
        size = max(1, min(SERIAL_BATCH, -(-len(items) // jobs)))
        parts = list(_chunks(len(items), size))
        bad: list[int] = []
        done = 0
        # spawn: workers import only the verifier, never inherit a parent's threads.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(processes=min(jobs, len(parts))) as pool:
            tasks = [(vk_json, [items[i] for i in part]) for part in parts]
            for part, result in zip(parts, pool.imap(_worker_batch, tasks), strict=True):
                bad.extend(part[j] for j in result)
                done += len(part)
                progress(done)
        return sorted(bad)

    return check


def check_proofs(jobs: int = 1) -> ProofChecker:
    """A ProofChecker running in this process (``jobs <= 1``) or over ``jobs`` processes.

    The pool uses the ``spawn`` start method (no inherited threads or locks),
    so a script calling it with ``jobs > 1`` needs the usual
    ``if __name__ == "__main__":`` guard; the ``darkpool-verify`` entry point has it.
    """
    return _check_serial if jobs <= 1 else _pool_checker(jobs)


@dataclass
class PendingProof:
    """A proof queued by the replay, checked after all cheap checks."""

    entry_index: int
    label: str
    proof: groth16.Proof
    public_inputs: list[int]


def phase_ticker(
    tick: Callable[[str, int, int], None], phase: str, total: int
) -> Callable[[int], None]:
    """A ``done -> None`` callback that reports ``(phase, done, total)`` to ``tick``."""

    def step(done: int) -> None:
        tick(phase, done, total)

    return step
