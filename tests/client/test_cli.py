"""``darkpool trader`` against a real ``darkpool serve`` subprocess (test profile, temp data dir).

The happy path (keygen, open, deposit, order, status, cancel, withdraw after a
batch, verify-inclusion for the latest and an older root) and bad input that
must give exactly one line on stderr and exit code 2: missing key file, bad
or unreachable URL, bad numbers, unknown market, and 4xx reasons from the API.
"""

import json
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.sdk import DarkpoolClient
from darkpool import cli
from demo import LocalServer, free_port, local_oracle, local_server, profile_markets, server_env
from verifier.protocol import DEFAULT_EXCHANGE_ID

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    data = tmp_path_factory.mktemp("trader-server")
    markets = profile_markets("test")
    with local_oracle(data / "oracle", exchange_id=DEFAULT_EXCHANGE_ID, markets=markets) as url:
        env = server_env(
            data / "server",
            profile="test",
            exchange_id=DEFAULT_EXCHANGE_ID,
            markets=markets,
            oracle_url=url,
        )
        with local_server(data / "server", env) as s:
            yield s


def trader(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = cli.main(["trader", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


def test_trader_happy_path(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "alice.key"
    rc, out, _ = trader(capsys, "keygen", "--out", str(key))
    assert rc == 0 and "public key" in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "seed" in json.loads(key.read_text())
    rc, _, err = trader(capsys, "keygen", "--out", str(key))
    assert_one_line_error(rc, err, "already exists")

    rc, out, err = trader(
        capsys, "open", "--url", server.url, "--key", str(key), "--amount", "1000000"
    )
    assert rc == 0, err
    index = int(out.strip())
    profile = json.loads((tmp_path / "alice.key.profile.json").read_text())
    assert profile == {"url": server.url, "account": index}

    public = DarkpoolClient(server.url)
    root_after_open = public.roots()["roots"]["account"]

    # From here on the URL and account come from the profile.
    rc, out, err = trader(capsys, "deposit", "--key", str(key), "--amount", "5000")
    assert rc == 0, err
    assert f"account {index}: balance 1005000" in out

    rc, out, err = trader(
        capsys, "order", "--key", str(key), "--market", "BTC-PERP", "--side", "buy",
        "--size", "3", "--limit", "59000", "--ttl", "600",
    )  # fmt: skip
    assert rc == 0, err
    m = re.search(r"commitment (\d+)\nstatus listed \(order #(\d+)\)", out)
    assert m, out
    resting = m.group(1)

    # The server runs the serve default, the slots state: the SDK picked the order id.
    order_id = int(re.search(r"order id (\d+)", out).group(1))  # type: ignore[union-attr]
    rc, out, err = trader(capsys, "status", "--key", str(key), resting)
    assert rc == 0, err
    assert f"open: buy 3 BTC-PERP @ 59000, filled 0, order #{m.group(2)}, id {order_id}," in out

    # An explicit id and the reduce-only flag travel in the signed order.
    rc, out, err = trader(
        capsys, "order", "--key", str(key), "--market", "BTC-PERP", "--side", "sell",
        "--size", "1", "--limit", "61000", "--order-id", str(order_id + 1), "--reduce-only",
    )  # fmt: skip
    assert rc == 0 and f"order id {order_id + 1}" in out, err
    reduce_h = re.search(r"commitment (\d+)", out).group(1)  # type: ignore[union-attr]
    rc, out, err = trader(capsys, "status", "--key", str(key), reduce_h)
    assert rc == 0 and f"id {order_id + 1}, reduce-only" in out, err
    # An id at or below the slot's newest can never enter it: the API's reason, one line.
    rc, _, err = trader(
        capsys, "order", "--key", str(key), "--market", "0", "--side", "buy",
        "--size", "1", "--limit", "59000", "--order-id", str(order_id + 1 - 4),
    )  # fmt: skip
    assert_one_line_error(rc, err, "HTTP 422", "can never enter")

    rc, out, err = trader(capsys, "status", "--key", str(key))
    assert rc == 0, err
    assert f"account {index}: balance 1005000" in out
    assert "positions: BTC-PERP 0, ETH-PERP 0" in out and "orders: 2" in out

    rc, out, err = trader(capsys, "cancel", "--key", str(key), resting)
    assert rc == 0, err
    assert f"({resting})" in out
    rc, out, err = trader(capsys, "status", "--key", str(key), resting)
    assert rc == 0 and "cancelled: buy 3" in out, err
    rc, _, err = trader(capsys, "cancel", "--key", str(key), resting)
    assert_one_line_error(rc, err, "HTTP 409")

    # No oracle marks before the first batch: the service runs that batch first (its
    # marks price the withdrawal's margin check), then withdraws.
    entries = public.roots()["ledger_index"]
    rc, out, err = trader(capsys, "withdraw", "--key", str(key), "--amount", "100")
    assert rc == 0, err
    assert f"account {index}: balance 1004900" in out
    assert public.roots()["ledger_index"] >= entries + 2  # the batch, then the withdrawal

    rc, out, err = trader(capsys, "verify-inclusion", "--key", str(key))
    assert rc == 0, err
    latest = public.roots()["roots"]["account"]
    assert f"included under account root {latest}" in out and "balance 1004900" in out
    rc, out, err = trader(capsys, "verify-inclusion", "--key", str(key), "--root", root_after_open)
    assert rc == 0, err
    assert f"root {root_after_open}" in out and "balance 1000000" in out
    assert f"is not the latest account root ({latest})" in out  # a stale opening is named
    public.close()

    # Bad input that needs a live account: a margin refusal and an unknown market.
    rc, _, err = trader(
        capsys, "order", "--key", str(key), "--market", "0", "--side", "buy",
        "--size", "100000", "--limit", "60000",
    )  # fmt: skip
    assert_one_line_error(rc, err, "HTTP 422", "insufficient margin")
    rc, _, err = trader(
        capsys, "order", "--key", str(key), "--market", "XRP-PERP", "--side", "buy",
        "--size", "1", "--limit", "1",
    )  # fmt: skip
    assert_one_line_error(rc, err, "unknown market", "BTC-PERP")
    rc, _, err = trader(capsys, "status", "--key", str(key), "12345")
    assert_one_line_error(rc, err, "HTTP 404")


def test_trader_bad_input_is_one_line(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.key"
    rc, _, err = trader(capsys, "deposit", "--key", str(missing), "--amount", "5")
    assert_one_line_error(rc, err, "does not exist", "keygen")

    key = tmp_path / "bob.key"
    assert trader(capsys, "keygen", "--out", str(key))[0] == 0
    rc, _, err = trader(capsys, "deposit", "--key", str(key), "--amount", "5")
    assert_one_line_error(rc, err, "no server URL")
    rc, _, err = trader(capsys, "deposit", "--key", str(key), "--url", server.url, "--amount", "5")
    assert_one_line_error(rc, err, "no account")
    rc, _, err = trader(capsys, "open", "--url", "ftp://x", "--key", str(key), "--amount", "5")
    assert_one_line_error(rc, err, "bad URL")
    rc, _, err = trader(capsys, "open", "--url", "not a url", "--key", str(key), "--amount", "5")
    assert_one_line_error(rc, err, "bad URL")
    dead = f"http://127.0.0.1:{free_port()}"
    rc, _, err = trader(capsys, "open", "--url", dead, "--key", str(key), "--amount", "5")
    assert_one_line_error(rc, err, "cannot reach")
    rc, _, err = trader(capsys, "open", "--url", server.url, "--key", str(key), "--amount", "1.5")
    assert_one_line_error(rc, err, "whole number")
    rc, _, err = trader(
        capsys, "order", "--key", str(key), "--url", server.url, "--market", "0",
        "--side", "up", "--size", "1", "--limit", "1",
    )  # fmt: skip
    assert_one_line_error(rc, err, "buy or sell")

    key.chmod(0o644)
    rc, _, err = trader(capsys, "status", "--key", str(key))
    assert_one_line_error(rc, err, "readable by others")
    garbage = tmp_path / "garbage.key"
    garbage.write_text("{not json")
    garbage.chmod(0o600)
    rc, _, err = trader(capsys, "status", "--key", str(garbage))
    assert_one_line_error(rc, err, "not a darkpool key file")

    # A real process: one line on stderr, exit 2, no traceback.
    proc = subprocess.run(
        [sys.executable, "-m", "darkpool.cli", "trader", "status", "--key", str(missing)],
        capture_output=True,
        text=True,
    )
    assert_one_line_error(proc.returncode, proc.stderr, "does not exist")


def test_a_server_on_the_list_state_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server whose /v1/info names the retired list state: one line, exit 2, nothing sent."""
    from fastapi import FastAPI

    from tests.live_server import serve_app

    app, seen = FastAPI(), []

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/info")
    def info() -> dict[str, str]:
        seen.append("info")
        return {"exchange_id": DEFAULT_EXCHANGE_ID, "state": "list"}

    key = tmp_path / "carol.key"
    assert trader(capsys, "keygen", "--out", str(key))[0] == 0
    with serve_app(app) as url:
        rc, _, err = trader(capsys, "open", "--url", url, "--key", str(key), "--amount", "5")
    assert_one_line_error(rc, err, "'list' ledger state", "no longer supported")
    assert seen == ["info"]
