"""Proof jobs: pure functions (statement, circuit inputs, zkey) -> proof, run serially or on Dask.

Witnesses must be built in order (each one starts from the roots the previous
one left), but the proofs of consecutive settle groups and of all the chunks
of a solvency report are independent. The operator therefore builds every
witness first, in order, on its own thread, and hands the proofs to a
``ProofPool``:

* ``workers <= 1`` and no scheduler (the default): proofs run one after the
  other in this process, exactly as before (no extra service, no start-up).
* ``DARKPOOL_PROOF_WORKERS=N`` (N >= 2): an embedded Dask ``LocalCluster`` of
  N single-threaded worker processes, started on first use (about 5 s) and
  closed with the pool. No extra service to run.
* ``DARKPOOL_DASK_SCHEDULER=tls://host:8786``: an existing Dask scheduler
  (``dask scheduler`` + ``dask worker`` on other machines). TLS settings:
  ``DARKPOOL_DASK_TLS_CA``, ``DARKPOOL_DASK_TLS_CERT``, ``DARKPOOL_DASK_TLS_KEY``
  (mutual TLS; required for any non-loopback address, see below).

Results come back in submission order (``map``), so ledger entries are
published in order however the proofs land. A job whose worker dies is
re-run by the Dask scheduler on another worker (``retries`` covers a job that
raised); jobs are pure, so running one twice is harmless.

Where witness data travels (it is private: balances, positions, order
terms, blindings). A ``ProofJob`` carries the statement's **circuit inputs**
(the private witness) and the paths of the cached circuit artifacts, never
keys. Serially, nothing leaves the process except into a temp file for the
wasm witness generator (deleted after the proof). On a LocalCluster the
inputs cross a loopback socket to a worker process on the same machine. On a
remote scheduler they cross the network to the scheduler and a worker, which
write a temp witness file, prove, and delete it; so the pool refuses a
non-loopback scheduler without TLS certificates, and a worker machine must be
trusted like the operator itself (it sees the witness). Workers need the same
content-addressed artifact cache (run ``darkpool setup`` there with the same
``DARKPOOL_PTAU``), since only paths and the cache key are sent.
"""

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prover import backends, toolchain

__all__ = [
    "DASK_SCHEDULER_ENV",
    "PROOF_WORKERS_ENV",
    "TLS_CA_ENV",
    "TLS_CERT_ENV",
    "TLS_KEY_ENV",
    "ProgressProve",
    "ProofJob",
    "ProofPool",
    "ProofPoolError",
    "pool_from_env",
    "run_proof_job",
]

PROOF_WORKERS_ENV = "DARKPOOL_PROOF_WORKERS"
DASK_SCHEDULER_ENV = "DARKPOOL_DASK_SCHEDULER"
TLS_CA_ENV = "DARKPOOL_DASK_TLS_CA"
TLS_CERT_ENV = "DARKPOOL_DASK_TLS_CERT"
TLS_KEY_ENV = "DARKPOOL_DASK_TLS_KEY"
JOB_RETRIES = 2

ProofResult = tuple[dict[str, Any], list[str]]


class ProofPoolError(ValueError):
    """A bad pool setting (worker count, scheduler address, TLS files)."""


@dataclass(frozen=True)
class ProofJob:
    """One proof to make: everything a worker needs, nothing it keeps."""

    artifacts: toolchain.CircuitArtifacts
    inputs: Mapping[str, object]
    prover: str = "snarkjs"


def run_proof_job(job: ProofJob) -> ProofResult:
    """Witness + proof for one job (runs on a worker). Pure up to the proof's randomness."""
    return backends.prove_inputs(job.artifacts, job.inputs, backends.get_prover(job.prover))


def _is_loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


@dataclass
class ProofPool:
    """Runs proof jobs serially, on an embedded LocalCluster, or on a Dask scheduler.

    Callable as a ``ProveFn`` (one proof, waits for it) and with ``map`` for
    many independent proofs (results in submission order). ``close()`` stops
    an embedded cluster; a pool is also a context manager.
    """

    workers: int = 1
    scheduler: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    force_dask: bool = False  # an embedded cluster even for one worker (benchmarks)
    prover: str = field(default_factory=lambda: backends.get_prover().name)
    _client: Any = field(default=None, init=False, repr=False)
    _cluster: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ProofPoolError(f"{PROOF_WORKERS_ENV} must be at least 1, got {self.workers}")
        tls = (self.tls_ca, self.tls_cert, self.tls_key)
        if any(tls) and not all(tls):
            raise ProofPoolError(
                f"mutual TLS needs all of {TLS_CA_ENV}, {TLS_CERT_ENV} and {TLS_KEY_ENV}"
            )
        for path in (p for p in tls if p):
            if not os.path.isfile(path):
                raise ProofPoolError(f"TLS file {path} does not exist")
        if self.scheduler is not None:
            if not all(tls) and not _is_loopback(self.scheduler):
                raise ProofPoolError(
                    f"{DASK_SCHEDULER_ENV}={self.scheduler}: witness data is private, so a "
                    f"non-loopback scheduler needs mutual TLS ({TLS_CA_ENV}, {TLS_CERT_ENV}, "
                    f"{TLS_KEY_ENV})"
                )
            if all(tls) and not self.scheduler.startswith("tls://"):
                raise ProofPoolError(f"{DASK_SCHEDULER_ENV} must be a tls:// address with TLS set")

    @property
    def distributed(self) -> bool:
        """Whether jobs go to Dask (an embedded cluster or a scheduler)."""
        return self.scheduler is not None or self.workers > 1 or self.force_dask

    def start(self) -> None:
        """Start the embedded cluster or connect to the scheduler now (else on first use)."""
        if self.distributed:
            self._dask()

    def _dask(self) -> Any:
        if self._client is not None:
            return self._client
        from distributed import Client, LocalCluster
        from distributed.security import Security

        if self.scheduler is None:
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # loopback only, any free port
                host="127.0.0.1",
            )
            self._client = Client(self._cluster)
        else:
            security = None
            if self.tls_ca:
                security = Security(
                    tls_ca_file=self.tls_ca,
                    tls_client_cert=self.tls_cert,
                    tls_client_key=self.tls_key,
                    require_encryption=True,
                )
            self._client = Client(self.scheduler, security=security)
        return self._client

    def map(
        self,
        artifacts: toolchain.CircuitArtifacts,
        inputs: Sequence[Mapping[str, object]],
        on_done: Callable[[int], None] | None = None,
    ) -> list[ProofResult]:
        """Prove every input set against ``artifacts``; results in the order given.

        ``on_done(k)`` is called with the number of finished proofs as they land.
        """
        jobs = [ProofJob(artifacts, dict(i), self.prover) for i in inputs]
        if not self.distributed or len(jobs) == 0:
            out = []
            for k, job in enumerate(jobs, 1):
                out.append(run_proof_job(job))
                if on_done is not None:
                    on_done(k)
            return out
        from distributed import as_completed

        client = self._dask()
        futures = client.map(run_proof_job, jobs, pure=False, retries=JOB_RETRIES)
        try:
            for k, _ in enumerate(as_completed(futures), 1):
                if on_done is not None:
                    on_done(k)
            results: list[ProofResult] = client.gather(futures)
        finally:
            for f in futures:
                f.release()
        return results

    def __call__(
        self, artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]
    ) -> ProofResult:
        return self.map(artifacts, [inputs])[0]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> "ProofPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ProgressProve:
    """A ``ProveFn`` (or ``ProofPool``) that calls ``on_proof()`` after every proof lands.

    Keeps ``map``, so an operator given it still proves independent statements
    in parallel when the inner function is a distributed pool.
    """

    inner: Callable[[toolchain.CircuitArtifacts, Mapping[str, object]], ProofResult]
    on_proof: Callable[[], None]

    def __call__(
        self, artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]
    ) -> ProofResult:
        result = self.inner(artifacts, inputs)
        self.on_proof()
        return result

    def map(
        self, artifacts: toolchain.CircuitArtifacts, inputs: Sequence[Mapping[str, object]]
    ) -> list[ProofResult]:
        inner_map = getattr(self.inner, "map", None)
        if inner_map is None:
            return [self(artifacts, i) for i in inputs]
        results: list[ProofResult] = inner_map(
            artifacts, inputs, on_done=lambda _k: self.on_proof()
        )
        return results


def pool_from_env(environ: Mapping[str, str] | None = None) -> ProofPool:
    """A ``ProofPool`` from ``DARKPOOL_PROOF_WORKERS`` / ``DARKPOOL_DASK_*`` (serial if unset)."""
    env = os.environ if environ is None else environ
    raw = env.get(PROOF_WORKERS_ENV, "") or "1"
    try:
        workers = int(raw)
    except ValueError:
        raise ProofPoolError(f"{PROOF_WORKERS_ENV} must be an integer, got {raw!r}") from None
    return ProofPool(
        workers=workers,
        scheduler=env.get(DASK_SCHEDULER_ENV) or None,
        tls_ca=env.get(TLS_CA_ENV) or None,
        tls_cert=env.get(TLS_CERT_ENV) or None,
        tls_key=env.get(TLS_KEY_ENV) or None,
    )
