"""One expiry rule, the circuit's, through the API: an order is live up to and including its expiry.

settle_fills accepts a fill at batch timestamp ``t`` iff ``t <= expiry``
(``verifier.protocol.is_expired``). Intake, ``GET /v1/orders/{h}`` and the
matcher must agree with it at the boundary second: at ``now == expiry`` an
order is accepted, shown open and filled by a batch at that second; one
second later it is refused at intake, shown expired and never filled.
"""

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from client import sdk
from client.sdk import ClientError, DarkpoolClient
from exchange.api.main import create_app
from exchange.core.config import Settings
from exchange.service import Service
from tests.clock import ManualClock
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.protocol import is_expired

pytestmark = pytest.mark.slow
TOKEN = "test-operator-token-expiry-0123456789"


def test_the_rule_is_the_circuits() -> None:
    assert not is_expired(100, 99)
    assert not is_expired(100, 100)  # the expiry second itself is live
    assert is_expired(100, 101)


@pytest.fixture
def api(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DarkpoolClient, ManualClock]]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("darkpool-expiry"),
        batch_interval_s=0,
        operator_token=TOKEN,
        oracle_step_bps=0,
    )
    clock = ManualClock()
    monkeypatch.setattr(
        sdk, "time", SimpleNamespace(time=clock, time_ns=lambda: clock() * 1_000_000_000)
    )
    with TestClient(create_app(service=Service(settings, clock=clock))) as http:
        yield DarkpoolClient(http=http), clock


def test_expiry_boundary_through_the_api(api: tuple[DarkpoolClient, ManualClock]) -> None:
    c, clock = api
    alice, bob = PrivateKey.generate(), PrivateKey.generate()
    a = c.open_account(alice, 1_000_000)
    b = c.open_account(bob, 1_000_000)
    t = clock.now + 3

    def status(key: PrivateKey, account: int, h: int) -> tuple[str, int]:
        view = c.order_status(key, account, h)
        return view["status"], int(view["filled"])

    buy = int(c.submit_order(alice, a, 0, BUY, 2, 61_000, t)["commitment"])
    clock.now = t  # the expiry second itself: still live everywhere
    assert status(alice, a, buy) == ("open", 0)
    sell = int(c.submit_order(bob, b, 0, SELL, 2, 59_000, t)["commitment"])  # expiry == now
    assert status(bob, b, sell) == ("open", 0)
    assert c.admin_batch(TOKEN)["fills"] == 1  # the batch runs at timestamp t
    assert status(alice, a, buy) == ("filled", 2)
    assert status(bob, b, sell) == ("filled", 2)

    late = int(c.submit_order(alice, a, 0, BUY, 1, 61_000, t)["commitment"])
    clock.now = t + 1  # one second after expiry: expired everywhere
    assert status(alice, a, late) == ("expired", 0)
    with pytest.raises(ClientError) as refused:
        c.submit_order(alice, a, 0, BUY, 1, 61_000, t)
    assert refused.value.status == 422 and "expired" in refused.value.detail
    c.submit_order(bob, b, 0, SELL, 1, 59_000, t + 3600)  # a crossing order that would fill it
    assert c.admin_batch(TOKEN)["fills"] == 0
    assert status(alice, a, late) == ("expired", 0)
