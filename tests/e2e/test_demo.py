"""End to end: ``darkpool demo`` runs the scripted market against a real server
subprocess; its export replays clean and a tampered copy is rejected by
``darkpool-verify`` naming the entry."""

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

import demo
from darkpool import cli
from tests.conftest import BACKENDS, REFERENCE_PROVER, fresh_database
from verifier.eddsa import public_key_from_dict
from verifier.ledger import genesis_hash
from verifier.oracle import key_hex
from verifier.source import DirectorySource, replay_source


@pytest.fixture(scope="module", autouse=True)
def reference_prover() -> Iterator[None]:
    """The demo as users run it: the default prover (snarkjs), not the session's groth16py."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in REFERENCE_PROVER.items():
            patch.setenv(name, value)
        yield


# The demo runs on SQLite only: the PostgreSQL path is covered by the store, API,
# bad-input and crash tests, and a second full demo costs minutes of the CI budget.
@pytest.fixture(scope="module", params=[b for b in BACKENDS if b == "sqlite"])
def demo_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """The demo on SQLite (the server's own file)."""
    base = tmp_path_factory.mktemp("demo")
    out = base / "ledger"
    console = Console(record=True, width=120)
    with fresh_database(request.param, base) as url:
        database_url = None if request.param == "sqlite" else url
        assert (
            demo.run(
                profile="test",
                ledger_out=out,
                console=console,
                database_url=database_url,
                work_dir=base / "work",
            )
            == 0
        )
        yield out, console.export_text()


@pytest.fixture(scope="module")
def demo_export(demo_run: tuple[Path, str]) -> Path:
    return demo_run[0]


def test_demo_cli_options_parse() -> None:
    args = cli.build_parser().parse_args(["demo", "--ledger-out", "/x", "--keep-server"])
    assert (args.profile, args.ledger_out, args.keep_server) == ("test", "/x", True)
    plain = cli.build_parser().parse_args(["demo", "--profile", "production"])
    assert (plain.keep_server, plain.profile) == (False, "production")
    with pytest.raises(SystemExit):  # the demo runs the slots state only
        cli.build_parser().parse_args(["demo", "--state", "list"])


@pytest.mark.slow
def test_demo_story_and_summary(demo_run: tuple[Path, str]) -> None:
    out, text = demo_run
    assert "listening on http://127.0.0.1:" in text
    # The margin refusal is the API's 4xx reason, not a local check.
    assert re.search(r"rejected dave buy 20 BTC-PERP @ \d+: HTTP 422: insufficient margin", text)
    assert "FAILED" not in text
    assert "ALL VERIFIED" in text
    assert f"darkpool-verify {out}" in text
    # The oracle is its own process; the replay pinned its key, and the genesis of
    # the export names that key (not one the operator generated).
    oracle_key = re.search(r"start `darkpool oracle serve`.*?\n.*?, key ([0-9a-f]{64})", text)
    assert oracle_key, "the oracle process's key is printed"
    assert "oracle key pinned to the oracle process's" in text
    genesis = json.loads((out / "genesis.json").read_text())
    assert key_hex(public_key_from_dict(genesis["oracle_pubkey"])) == oracle_key.group(1)
    pins = re.search(r"--genesis\s+([0-9a-f]{64})\s+--oracle-key\s+([0-9a-f]{64})", text)
    assert pins and pins.group(2) == oracle_key.group(1)
    assert pins.group(1) == genesis_hash(genesis)
    checks = re.search(r"checks passed\s*│\s*(\d+)/(\d+)", text)
    assert checks and checks.group(1) == checks.group(2) and int(checks.group(1)) >= 20
    fills = re.search(r"│ fills\s*│\s*(\d+)", text)
    assert fills and int(fills.group(1)) >= 4


def verify_cli(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifier.cli", str(directory), "--json"],
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_demo_runs_and_its_export_verifies(demo_export: Path) -> None:
    out = demo_export
    manifest = json.loads((out / "ledger.json").read_text())
    entries = sorted((out / "entries").glob("*.json"))
    assert manifest["entries"] == len(entries) + 1
    kinds = {json.loads(p.read_text())["kind"] for p in entries}
    # The demo runs the serve default, the recycling-order state: a cancel is its own
    # entry (executed, proven, by the next batch's order_ops).
    assert json.loads((out / "genesis.json").read_text())["state"] == "slots"
    assert kinds == {
        "account_op",
        "order",
        "cancel",
        "batch",
        "solvency",
        "sweep",
        "liquidation",
        "funding",
    }
    report = replay_source(DirectorySource(out))
    assert report.ok, [str(f) for f in report.failures]
    honest = verify_cli(out)
    assert honest.returncode == 0, honest.stderr
    assert json.loads(honest.stdout)["ok"] is True


@pytest.mark.slow
def test_tampered_demo_export_is_rejected_by_the_cli(demo_export: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(demo_export, tampered)
    batch_files = [
        p
        for p in sorted((tampered / "entries").glob("*.json"))
        if json.loads(p.read_text())["kind"] == "batch"
    ]
    victim = batch_files[0]
    entry = json.loads(victim.read_text())
    entry["oracle"]["marks"][0] = str(int(entry["oracle"]["marks"][0]) + 1)
    victim.write_text(json.dumps(entry))
    result = verify_cli(tampered)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["first_failure"]["entry"] == entry["index"]
    # Edited without the operator key: the entry's signature no longer verifies.
    assert "operator signature" in report["first_failure"]["reason"]


@pytest.mark.slow
def test_demo_export_without_its_liquidation_is_rejected(demo_export: Path, tmp_path: Path) -> None:
    """Issue 11: the operator (holding its signing key) drops the proven liquidation
    of erin, renumbers the later entries and re-links + re-signs the chain; the
    verifier rejects the copy at the entry that took the liquidation's place."""
    from verifier.eddsa import PrivateKey
    from verifier.ledger import entry_hash, entry_tag, sign_entry

    key_file = demo_export.parent / "work" / "server" / "keys" / "operator_eddsa.key"
    key = PrivateKey(key_file.read_bytes())
    copy = tmp_path / "noliquidation"
    shutil.copytree(demo_export, copy)
    files = sorted((copy / "entries").glob("*.json"))
    objs = [json.loads(p.read_text()) for p in files]
    removed = next(o["index"] for o in objs if o["kind"] == "liquidation")
    genesis = json.loads((copy / "genesis.json").read_text())
    tag = entry_tag(genesis["exchange_id"])
    for p in files:
        p.unlink()
    last = entry_hash(genesis)
    for o in objs:
        if o["index"] == removed:
            continue
        if o["index"] > removed:
            o["index"] -= 1
        o = sign_entry(key, tag, {**o, "prev_hash": last})
        last = entry_hash(o)
        (copy / "entries" / f"{o['index']:06d}.json").write_text(json.dumps(o))
    manifest = json.loads((copy / "ledger.json").read_text())
    manifest["entries"] -= 1
    (copy / "ledger.json").write_text(json.dumps(manifest))
    report = replay_source(
        DirectorySource(copy),
        # Every proof is the honest run's (verified above); the cheat is structural,
        # so re-checking the pairings would only cost CI time.
        checker=lambda vk, vk_json, items, progress: [],
    )
    failure = report.first_failure
    assert failure is not None, "the ledger without its liquidation was accepted"
    assert failure.entry_index == removed
    # The batch after it starts from the liquidated account root nobody published.
    assert failure.reason == "roots_before (account) differ from the previous entry's roots_after"
