"""``darkpool plan-solvency``: chunk count, time and memory from per-chunk figures."""

import json
from pathlib import Path

import pytest

from darkpool.cli import main
from prover import plan

FIG = plan.ChunkFigures("production", 32, 0.01, 4.0, 500.0, 6.0, "test")


def test_two_to_the_twenty_accounts() -> None:
    p = plan.plan_solvency(2**20, 64, FIG)
    assert p.chunks == 32_768 and p.rounds == 512
    expected = plan.DASK_START_S + 32_768 * 0.01 + 512 * (4.0 + plan.TASK_OVERHEAD_S)
    assert p.seconds == pytest.approx(expected)
    assert p.worker_memory_mb == 64 * 500.0
    assert p.operator_inputs_mb == pytest.approx(32_768 * 6.0 / 1024)


def test_serial_has_no_cluster_start_and_partial_rounds_round_up() -> None:
    p = plan.plan_solvency(33, 1, FIG)
    assert (p.chunks, p.rounds) == (2, 2)
    assert p.seconds == pytest.approx(2 * 0.01 + 2 * 4.0)
    assert plan.plan_solvency(32 * 5, 2, FIG).rounds == 3
    with pytest.raises(ValueError, match="workers must be at least 1"):
        plan.plan_solvency(10, 0, FIG)


def test_measured_figures_replace_the_defaults(tmp_path: Path) -> None:
    results = tmp_path / "dask_proofs.json"
    assert plan.load_figures("production", results) == plan.DEFAULT_FIGURES["production"]
    row = {"chunk_accounts": 4, "witness_build_s": 0.1, "prove_s": 2.5}
    results.write_text(json.dumps({"solvency_walk": {"test": {**row}}}))
    assert plan.load_figures("test", results) == plan.DEFAULT_FIGURES["test"]  # incomplete row
    full = {**row, "worker_rss_mb": 99.0, "inputs_kb": 1.5}
    results.write_text(json.dumps({"measured_at": "now", "solvency_walk": {"test": full}}))
    figures = plan.load_figures("test", results)
    assert (figures.prove_s, figures.worker_rss_mb, figures.chunk_accounts) == (2.5, 99.0, 4)
    assert figures.source.startswith("measured now")


def test_cli_prints_the_plan_and_refuses_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-solvency", "--accounts", "1048576", "--workers", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # production solvency_walk chunks hold 4^2 = 16 accounts
    assert out["chunks"] == 65_536 and out["rounds"] == 8_192 and out["workers"] == 8
    assert main(["plan-solvency", "--accounts", "100", "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == "darkpool: workers must be at least 1"
