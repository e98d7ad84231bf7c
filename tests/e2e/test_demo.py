"""End to end: ``darkpool demo`` runs the scripted market and its export replays clean."""

import json
from pathlib import Path

import pytest

from exchange import demo
from verifier.ledger import replay
from verifier.source import DirectorySource


@pytest.mark.slow
def test_demo_runs_and_its_export_verifies(tmp_path: Path) -> None:
    out = tmp_path / "ledger"
    assert demo.run(profile="test", ledger_out=out) == 0
    manifest = json.loads((out / "ledger.json").read_text())
    entries = sorted((out / "entries").glob("*.json"))
    assert manifest["entries"] == len(entries) + 1
    kinds = {json.loads(p.read_text())["kind"] for p in entries}
    assert kinds == {"account_op", "order", "batch", "solvency"}
    source = DirectorySource(out)
    report = replay(
        manifest=source.manifest(),
        genesis=source.genesis(),
        entries=source.entry,
        vkeys=source.vkeys(),
    )
    assert report.ok, [str(f) for f in report.failures]
