"""The oracle as its own component: feed, signer, key directory, HTTP API and process.

The signer signs at its own clock and refuses requests far from it; the key
lives in the oracle's own directory (0600) and survives restarts; the HTTP
client checks every report against the key it pinned at start; and
``darkpool oracle serve`` runs as a separate process the operator reaches over
HTTP.
"""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from demo.server import free_port
from oracle.app import create_app
from oracle.client import HttpOracle
from oracle.feed import FeedError, Quote, SimulatedFeed
from oracle.service import KEY_FILE, OracleService, load_or_create_key
from oracle.signer import OracleError, OracleReport, OracleSigner
from tests.clock import ManualClock
from verifier.oracle import OracleFormatError, key_hex
from verifier.params import domain_tag

EXCHANGE = "darkpool-oracle-test"
TAG = domain_tag("oracle", EXCHANGE)


def test_simulated_feed_is_reproducible_and_integer() -> None:
    a = SimulatedFeed([60_000, 3_000], seed=5, max_step_bps=40)
    b = SimulatedFeed([60_000, 3_000], seed=5, max_step_bps=40)
    assert a.prices_at(7) == b.prices_at(7)  # asked in another order than b
    assert [a.prices_at(i) for i in range(8)] == [b.prices_at(i) for i in range(8)]
    assert a.prices_at(0) == (60_000, 3_000) and a.markets == 2
    assert all(isinstance(p, int) and p >= 1 for i in range(8) for p in a.prices_at(i))
    with pytest.raises(FeedError):
        SimulatedFeed([0])
    quote = SimulatedFeed([10_000, 3], premium_bps=25).quote(0, 0)
    assert quote.marks == (10_000, 3) and quote.index == (9_975, 3)  # 0.25% under, floored
    assert a.quote(7, 0).index == a.quote(7, 0).marks  # no premium: index = mark
    with pytest.raises(FeedError, match="one mark and one index"):
        Quote((1, 2), (1,))


def test_signer_signs_at_its_own_clock_and_refuses_far_times() -> None:
    clock = ManualClock(1_700_000_000)
    signer = OracleSigner(SimulatedFeed([100, 200]), TAG, clock=clock, max_skew_s=30)
    report = signer.report(1, clock.now + 30)  # at the limit: accepted, signed at its own time
    assert report.timestamp == clock.now
    assert report.verify(TAG, signer.public_key)
    with pytest.raises(OracleError, match="31s from the oracle's clock"):
        signer.report(2, clock.now - 31)
    with pytest.raises(OracleError, match="from the oracle's clock"):
        signer.report(2, clock.now + 10_000)
    clock.now -= 5  # the machine clock steps back: reports never do
    assert signer.report(2, clock.now).timestamp == report.timestamp


def test_key_lives_in_the_oracles_own_directory(tmp_path: Path) -> None:
    key_dir = tmp_path / "oracle-keys"
    first = load_or_create_key(key_dir)
    path = key_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert load_or_create_key(key_dir).public_key() == first.public_key()  # a restart
    path.write_bytes(b"short")
    with pytest.raises(OracleError, match="32 bytes"):
        load_or_create_key(key_dir)


@pytest.fixture
def served(tmp_path: Path) -> tuple[TestClient, OracleService, ManualClock]:
    clock = ManualClock()
    service = OracleService.open(
        tmp_path / "oracle", EXCHANGE, SimulatedFeed([60_000, 3_000], seed=1), clock=clock
    )
    return TestClient(create_app(service)), service, clock


def test_http_reports_verify_against_the_pinned_key(
    served: tuple[TestClient, OracleService, ManualClock],
) -> None:
    http, service, clock = served
    oracle = HttpOracle("http://oracle", exchange_id=EXCHANGE, markets=2, http=http)
    assert oracle.public_key == service.signer.public_key
    report = oracle.report(3, clock.now)
    assert report.prices == SimulatedFeed([60_000, 3_000], seed=1).prices_at(3)
    assert report.verify(TAG, oracle.public_key) and report.timestamp == clock.now
    with pytest.raises(OracleError, match="HTTP 422: requested time"):
        oracle.report(4, clock.now - 3_600)
    assert http.get("/v1/oracle/report", params={"batch_id": -1, "at": 0}).status_code == 422
    info = http.get("/v1/oracle/info").json()
    assert "private" not in json.dumps(info) and set(info["public_key"]) == {"x", "y"}


def test_http_client_refuses_another_exchange_and_forged_reports(
    served: tuple[TestClient, OracleService, ManualClock],
) -> None:
    http, _, clock = served
    with pytest.raises(OracleError, match="signs for exchange"):
        HttpOracle("http://oracle", exchange_id="another", markets=2, http=http)
    with pytest.raises(OracleError, match="prices 2 markets, not 3"):
        HttpOracle("http://oracle", exchange_id=EXCHANGE, markets=3, http=http)
    oracle = HttpOracle("http://oracle", exchange_id=EXCHANGE, markets=2, http=http)
    good = oracle.report(1, clock.now).to_json()

    def forged(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/info"):
            return httpx.Response(200, json=http.get("/v1/oracle/info").json())
        return httpx.Response(200, json={**good, "marks": ["1", "1"]})

    fake = httpx.Client(base_url="http://oracle", transport=httpx.MockTransport(forged))
    tampered = HttpOracle("http://oracle", exchange_id=EXCHANGE, markets=2, http=fake)
    with pytest.raises(OracleError, match="signature does not verify"):
        tampered.report(1, clock.now)
    with pytest.raises(OracleFormatError, match="marks"):
        OracleReport.from_json({**good, "marks": []}, 2)


def test_oracle_serve_is_a_separate_process(tmp_path: Path) -> None:
    port = free_port()
    key_dir = tmp_path / "oracle"
    env = {**os.environ, "DARKPOOL_ORACLE_KEY_DIR": str(key_dir)}
    cmd = [sys.executable, "-m", "darkpool.cli", "oracle"]
    serve = [*cmd, "serve", "--port", str(port), "--exchange-id", EXCHANGE]
    proc = subprocess.Popen(
        [*serve, "--start-prices", "60000,3000"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/oracle/info", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the oracle did not start"
                time.sleep(0.2)
        oracle = HttpOracle(url, exchange_id=EXCHANGE, markets=2)
        report = oracle.report(1, int(time.time()))
        assert report.verify(TAG, oracle.public_key)
        pubkey = subprocess.run(
            [*cmd, "pubkey"], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert json.loads(pubkey) == {"x": str(oracle.public_key.x), "y": str(oracle.public_key.y)}
        pin = subprocess.run(
            [*cmd, "pubkey", "--hex"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        assert pin == key_hex(oracle.public_key)  # what darkpool-verify --oracle-key takes
        oracle.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    bad = subprocess.run(
        [*serve, "--start-prices", "x"], env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "comma-separated integers" in bad.stderr.strip().splitlines()[-1]


def test_the_operator_key_dir_never_holds_the_oracle_key(tmp_path: Path) -> None:
    from exchange.core.config import Settings
    from exchange.errors import Unavailable
    from exchange.service import Service

    svc = Service(Settings(data_dir=tmp_path, operator_token="t" * 20))
    svc.open()  # the development oracle: its key in data_dir/oracle, not data_dir/keys
    assert (tmp_path / "oracle" / KEY_FILE).is_file()
    assert not any(p.name == KEY_FILE for p in (tmp_path / "keys").iterdir())
    assert svc.oracle.public_key == load_or_create_key(tmp_path / "oracle").public_key()
    same = Settings(data_dir=tmp_path / "b", oracle_key_dir=tmp_path / "b" / "keys" / "o")
    with pytest.raises(Unavailable, match="must not be the operator's key dir"):
        Service(same).open()


def test_the_service_fetches_reports_from_the_oracle_process(tmp_path: Path) -> None:
    from demo import local_oracle
    from exchange.core.config import DEFAULT_MARKETS, Settings
    from exchange.service import Service
    from verifier.protocol import DEFAULT_EXCHANGE_ID, Tags

    with local_oracle(
        tmp_path / "oracle", exchange_id=DEFAULT_EXCHANGE_ID, markets=DEFAULT_MARKETS
    ) as url:
        settings = Settings(data_dir=tmp_path / "op", operator_token="t" * 20, oracle_url=url)
        svc = Service(settings)
        svc.open()
        assert isinstance(svc.oracle, HttpOracle)
        report = svc.oracle.report(1, int(time.time()))
        assert report.verify(Tags.for_exchange(DEFAULT_EXCHANGE_ID).oracle, svc.oracle.public_key)
        assert svc.oracle.public_key == load_or_create_key(tmp_path / "oracle").public_key()
        assert not (tmp_path / "op" / "oracle").exists()  # no development oracle, no key
