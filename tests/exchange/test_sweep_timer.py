"""Health sweeps keep their own timer when nobody trades (issue 11).

With genesis ``risk.sweep_interval_s``, the batcher runs a batch without live
orders once a sweep is due (``Jobs.sweep_due_now``, ``SWEEP_MARGIN_S`` early),
so the proven sweep happens at fresh signed marks, and the ledger stays valid.
"""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exchange.api.main import create_app
from exchange.core.config import Settings
from exchange.service import Service
from exchange.service.jobs import SWEEP_MARGIN_S
from tests.clock import ManualClock
from verifier.source import DirectorySource, replay_source

pytestmark = pytest.mark.slow
INTERVAL_S = 60


def test_batcher_sweeps_on_its_own_timer_without_orders(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        batch_interval_s=0,  # the test turns the batcher's crank itself
        operator_token="t" * 24,
        oracle_step_bps=0,
        sweep_interval_s=INTERVAL_S,
    )
    clock = ManualClock()
    svc = Service(settings, clock=clock)
    with TestClient(create_app(service=svc)):
        assert not svc.sweep_due_now() and not svc.batcher_tick()  # no batch yet: no clock
        first = svc.run_batch()  # the sweep clock starts at the first batch
        assert first.fills == 0
        clock.now += INTERVAL_S - SWEEP_MARGIN_S - 1
        assert not svc.sweep_due_now() and not svc.batcher_tick()
        clock.now += 1
        assert svc.sweep_due_now()
        before = len(svc.op.ledger)
        assert svc.batcher_tick()  # no live order, but the sweep is due
        kinds = [e.kind for e in svc.op.ledger.entries[before:]]
        assert kinds == ["sweep", "batch"]
        assert not svc.sweep_due_now()
        out = svc.op.export(tmp_path / "export")
    report = replay_source(DirectorySource(Path(out)))
    assert report.ok, [str(f) for f in report.failures]
