"""``darkpool serve`` listens before importing the exchange (``darkpool.serve``); cheap checks.

The subprocess timing on a cold cache is in ``test_serve.py``; here: the
modules loaded up to the listener exclude every heavy dependency (so the
listener's start does not grow with them), the placeholder health body has
the real ``Health`` shape, and bad settings found while loading make health
say ``failed`` and stop the server with one line.
"""

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from darkpool.serve import LazyExchange
from exchange.models import Health
from verifier.protocol import STATEMENTS

HEAVY = (
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "sqlmodel",
    "py_ecc",
    "nacl",
    "httpx",
    "exchange",
    "client",
    "oracle",
    "prover.circuits",
    "prover.toolchain",
)


def test_the_serve_path_imports_nothing_heavy_before_listening() -> None:
    code = (
        "import sys, darkpool.cli as c, darkpool.serve as s\n"
        "c.serve_parser().parse_args(['serve', '--port', '1'])\n"
        "s.LazyExchange()\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "uvicorn" in out and "darkpool.serve" in out
    loaded = [m for m in out if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


def _call(app: LazyExchange, path: str) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start"
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_placeholder_answers_like_the_real_health_until_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DARKPOOL_STATE", raising=False)
    app = LazyExchange()
    status, body = _call(app, "/v1/health")
    assert status == 503
    health = Health.model_validate(body)  # the real route's response model
    assert health.status == "setting_up" and health.ledger_entries is None
    # setup total: the statements of the slots state
    assert health.setup.done == 0 and health.setup.total == len(STATEMENTS)
    status, body = _call(app, "/v1/info")
    assert status == 503 and "setting up" in body["detail"]


def test_bad_settings_while_loading_fail_health_and_stop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DARKPOOL_MAX_BODY_BYTES", "lots")
    app = LazyExchange()
    stopped: list[bool] = []
    app.on_failure = lambda: stopped.append(True)
    app.load()
    assert stopped == [True]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("darkpool: ") and "DARKPOOL_MAX_BODY_BYTES" in err[0]
    status, body = _call(app, "/v1/health")
    assert status == 503 and body["status"] == "failed" and body["setup"]["error"]
    status, body = _call(app, "/v1/orders")
    assert status == 503 and "failed to set up" in body["detail"]


def test_the_list_state_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``DARKPOOL_STATE=list`` fails the server's load in one line; ``Settings(state="list")``
    is a validation error; a database whose genesis is a list-state ledger (no ``state``) is
    refused when the service opens it, before any setup."""
    from pydantic import ValidationError

    from exchange.core.config import LIST_STATE_REFUSAL, Settings
    from exchange.service import Service
    from exchange.store import Store

    monkeypatch.setenv("DARKPOOL_STATE", "list")
    app = LazyExchange()
    app.on_failure = lambda: None
    app.load()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DARKPOOL_STATE" in err[0] and LIST_STATE_REFUSAL in err[0]
    monkeypatch.delenv("DARKPOOL_STATE")
    with pytest.raises(ValidationError, match="list-state ledgers are no longer supported"):
        Settings(state="list")  # type: ignore[arg-type]

    url = f"sqlite:///{(tmp_path / 'old.sqlite3').resolve()}"
    store = Store(url)
    store.write(entries=[{"index": 0, "kind": "genesis", "exchange_id": "darkpool-dev"}])
    store.close()
    svc = Service(Settings(data_dir=tmp_path, database_url=url, operator_token="t" * 20))
    with pytest.raises(ValueError) as refused:
        svc.open()
    message = str(refused.value)
    assert "\n" not in message and "genesis names the list state" in message
    assert LIST_STATE_REFUSAL in message


def test_serve_turns_the_risk_rules_on_unless_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`darkpool serve` genesis: health sweeps and funding required by default (issue 11);
    a variable set to 0 turns one rule off; ``Settings()`` built in code keeps them off."""
    from exchange.core.config import SERVE_RISK_DEFAULTS, Settings, serve_settings

    for name in ("SWEEP_INTERVAL_BATCHES", "SWEEP_INTERVAL_S", "FUNDING_INTERVAL_S"):
        monkeypatch.delenv(f"DARKPOOL_{name}", raising=False)
    s = serve_settings()
    rules = (s.sweep_interval_batches, s.sweep_interval_s, s.funding_interval_s)
    assert rules == (10, 300, 3600) == tuple(SERVE_RISK_DEFAULTS.values())
    plain = Settings()
    assert (plain.sweep_interval_batches, plain.sweep_interval_s, plain.funding_interval_s) == (
        0,
        0,
        0,
    )
    monkeypatch.setenv("DARKPOOL_SWEEP_INTERVAL_BATCHES", "0")
    monkeypatch.setenv("DARKPOOL_FUNDING_INTERVAL_S", "60")
    s = serve_settings()
    assert (s.sweep_interval_batches, s.sweep_interval_s, s.funding_interval_s) == (0, 300, 60)


def test_serve_defaults_to_the_slots_state_at_production_with_four_markets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`darkpool serve` (issue 12): production profile, 4 default markets (BTC, ETH, SOL,
    DOGE; integer parameters), state slots; the environment overrides each; ``Settings()``
    in code stays at the test profile with 2 markets."""
    from exchange.core.config import SERVE_DEFAULTS, Settings, default_markets, serve_settings

    for name in ("PROFILE", "STATE", "MARKETS"):
        monkeypatch.delenv(f"DARKPOOL_{name}", raising=False)
    assert SERVE_DEFAULTS == {"profile": "production"}
    s = serve_settings()
    assert (s.profile, s.state) == ("production", "slots")
    assert [m.symbol for m in s.markets] == ["BTC-PERP", "ETH-PERP", "SOL-PERP", "DOGE-PERP"]
    assert all(isinstance(v, int) for m in s.markets for v in (m.imf_bps, m.mmf_bps, m.fee_bps))
    plain = Settings()
    assert plain.profile == "test" and len(plain.markets) == 2
    monkeypatch.setenv("DARKPOOL_PROFILE", "test")
    s = serve_settings()
    assert s.profile == "test" and [m.symbol for m in s.markets] == ["BTC-PERP", "ETH-PERP"]
    monkeypatch.setenv("DARKPOOL_PROFILE", "production")
    monkeypatch.setenv("DARKPOOL_MARKETS", json.dumps([m.model_dump() for m in default_markets(4)]))
    assert len(serve_settings().markets) == 4
    with pytest.raises(ValueError, match="no default markets for 9"):
        default_markets(9)


def test_setup_and_export_refuse_the_list_state(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`darkpool setup` builds the slots state's statements only: ``DARKPOOL_STATE=list``
    (or any state but slots) is one line and exit 2 before anything is built, and
    ``--state`` is gone; a genesis without ``state`` (a list ledger) is refused the same way."""
    from darkpool.cli import build_parser, main
    from exchange.core.config import LIST_STATE_REFUSAL, refuse_other_state

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a refused setup built a circuit")

    monkeypatch.setattr("prover.circuits.build_statement", boom)
    for state, needle in (("list", LIST_STATE_REFUSAL), ("trees", "unknown ledger state 'trees'")):
        monkeypatch.setenv("DARKPOOL_STATE", state)
        assert main(["setup"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err and err.startswith("darkpool: ")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["setup", "--state", "slots"])
    capsys.readouterr()
    refuse_other_state("slots", where="genesis")
    refuse_other_state(None)  # DARKPOOL_STATE unset: the slots default
    for genesis_state in (None, "list"):
        with pytest.raises(ValueError, match="genesis names the list state: list-state ledgers"):
            refuse_other_state(genesis_state, where="genesis")


def test_serve_help_lists_the_environment_it_reads(capsys: pytest.CaptureFixture[str]) -> None:
    """`darkpool serve --help` (HN6): each variable of its epilog is one a part of darkpool
    reads, with the default `darkpool serve` really uses; the profile warns of key setup."""
    import inspect

    from darkpool.cli import SERVE_ENVIRONMENT, main
    from exchange.core.config import SERVE_DEFAULTS, SERVE_RISK_DEFAULTS, Settings
    from prover import jobs
    from prover.toolchain import cache, ptau

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for name, default, _ in SERVE_ENVIRONMENT:
        assert name in out and f"default: {default}" in out
    assert "key setup" in out and "DATABASE_URL" in out
    toolchain = {
        "DARKPOOL_PTAU": inspect.getsource(ptau),
        "DARKPOOL_CACHE": inspect.getsource(cache),
        "DARKPOOL_PROOF_WORKERS": jobs.PROOF_WORKERS_ENV,
    }
    for name, default, _ in SERVE_ENVIRONMENT:
        if name in toolchain:
            assert name in toolchain[name]
            continue
        field = name.removeprefix("DARKPOOL_").lower()
        assert field in Settings.model_fields, name
        if field in SERVE_DEFAULTS or field in SERVE_RISK_DEFAULTS:
            assert default == str({**SERVE_RISK_DEFAULTS, **SERVE_DEFAULTS}[field]), name
        elif default[0].isdigit() or default.startswith("."):
            assert default == str(Settings.model_fields[field].default), name
    assert not Settings.model_fields["database_url"].is_required()


def test_export_from_an_unreachable_url_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`darkpool export DIR --url ...` (HN6): no httpx traceback; one line, exit 2, no export."""
    from darkpool.cli import main

    for url, needle in (
        ("http://127.0.0.1:1", "cannot reach the server at http://127.0.0.1:1"),
        ("nope://x", "bad URL 'nope://x'"),
    ):
        assert main(["export", str(tmp_path / "out"), "--url", url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"darkpool: {needle}"), err
    assert not (tmp_path / "out").exists()
