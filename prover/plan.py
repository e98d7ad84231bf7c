"""Planning a solvency report on W proof workers: chunk count, wall time, memory.

``darkpool plan-solvency --accounts N --workers W`` prints this. The
per-chunk figures come from the last ``uv run python -m benchmarks.dask_proofs``
run on this machine (``benchmarks/results/dask_proofs.json``) when it
measured the requested profile, else from the defaults below, which were
measured on the project's 2-core dev machine and are labelled as such.

Model (all chunk proofs are independent jobs; witnesses are built in order
by the operator, which is cheap next to proving):

    chunks   = ceil(N / 4^chunk_levels)      (SOLVENCY WALK chunks)
    rounds   = ceil(chunks / W)
    time     = start-up + chunks * witness_build + rounds * (prove + per-task overhead)
    memory   = W * peak RSS of one proving process (workers)
             + in-flight inputs held by the operator (chunks * inputs bytes; the
               pool submits them all at once, so this is the whole report)
"""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["DEFAULT_FIGURES", "ChunkFigures", "Plan", "load_figures", "plan_solvency"]

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "dask_proofs.json"
DASK_START_S = 5.0  # embedded LocalCluster start-up, measured (issue 13)
TASK_OVERHEAD_S = 0.004  # Dask per-task overhead, measured (issue 13)


@dataclass(frozen=True)
class ChunkFigures:
    """Per-chunk costs of one solvency_walk chunk proof at one profile."""

    profile: str
    chunk_accounts: int
    witness_build_s: float  # operator side: Python witness builder (serial, in order)
    prove_s: float  # worker side: wasm witness + Groth16 prove
    worker_rss_mb: float  # peak RSS of one proving process
    inputs_kb: float  # circuit inputs of one chunk as JSON (what travels to a worker)
    source: str


# SOLVENCY WALK chunks (4^chunk_levels accounts: 4 test, 16 production). The
# production prove_s is the slots_production run's (README "slots ledger at the
# production profile": 2.9 s per chunk, 26,416 constraints); the test prove_s and
# every witness_build_s, worker RSS and inputs size were measured on the retired
# list state's solvency_chunk (6,067 / 43,498 constraints) on the 2-core dev
# machine and are estimates here. Run `uv run python -m benchmarks.dask_proofs`
# to use this machine's figures.
DEFAULT_FIGURES: dict[str, ChunkFigures] = {
    "test": ChunkFigures("test", 4, 0.005, 1.45, 180.0, 1.0, "defaults (dev machine; estimates)"),
    "production": ChunkFigures(
        "production", 16, 0.010, 2.9, 450.0, 6.0, "defaults (dev machine; RSS estimated)"
    ),
}


@dataclass(frozen=True)
class Plan:
    accounts: int
    workers: int
    chunks: int
    rounds: int
    seconds: float
    worker_memory_mb: float
    operator_inputs_mb: float
    figures: ChunkFigures

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["figures"] = asdict(self.figures)
        return out

    def render(self) -> str:
        f = self.figures
        hours = self.seconds / 3600
        return "\n".join(
            [
                f"solvency plan: {self.accounts:,} accounts on {self.workers} worker(s), "
                f"profile {f.profile} ({f.chunk_accounts} accounts per chunk)",
                f"  chunks             {self.chunks:,} ({self.rounds:,} rounds of {self.workers})",
                f"  per chunk          prove {f.prove_s:.2f} s, witness build {f.witness_build_s:.3f} s"
                f" [{f.source}]",
                f"  expected time      {self.seconds:,.0f} s ({hours:.2f} h)",
                f"  worker memory      {self.worker_memory_mb:,.0f} MB "
                f"({self.workers} x {f.worker_rss_mb:.0f} MB peak per proving process)",
                f"  operator inputs    {self.operator_inputs_mb:,.0f} MB of circuit inputs in flight",
            ]
        )


def load_figures(profile: str, results: Path = RESULTS) -> ChunkFigures:
    """This machine's measured figures for ``profile`` if benchmarked, else the defaults."""
    try:
        data = json.loads(results.read_text())
        row = data["solvency_walk"][profile]
        return ChunkFigures(
            profile=profile,
            chunk_accounts=int(row["chunk_accounts"]),
            witness_build_s=float(row["witness_build_s"]),
            prove_s=float(row["prove_s"]),
            worker_rss_mb=float(row["worker_rss_mb"]),
            inputs_kb=float(row["inputs_kb"]),
            source=f"measured {data.get('measured_at', '?')} ({data.get('prover', '?')})",
        )
    except (OSError, ValueError, KeyError, TypeError):
        if profile not in DEFAULT_FIGURES:
            raise ValueError(f"no figures for profile {profile!r}") from None
        return DEFAULT_FIGURES[profile]


def plan_solvency(accounts: int, workers: int, figures: ChunkFigures) -> Plan:
    """The plan for ``accounts`` accounts on ``workers`` workers. Raises ValueError on bad counts."""
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    chunks = math.ceil(accounts / figures.chunk_accounts)
    rounds = math.ceil(chunks / workers)
    start = DASK_START_S if workers > 1 else 0.0
    seconds = (
        start
        + chunks * figures.witness_build_s
        + rounds * (figures.prove_s + (TASK_OVERHEAD_S if workers > 1 else 0.0))
    )
    return Plan(
        accounts=accounts,
        workers=workers,
        chunks=chunks,
        rounds=rounds,
        seconds=seconds,
        worker_memory_mb=workers * figures.worker_rss_mb,
        operator_inputs_mb=chunks * figures.inputs_kb / 1024,
        figures=figures,
    )
