"""Intake rate limits: per client IP and per account, 429 with a reason, nothing changed."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exchange.api.main import create_app
from exchange.core.config import Settings
from exchange.errors import TooManyRequests
from exchange.ratelimit import IntakeLimits


def test_limits_count_per_key_and_zero_disables() -> None:
    limits = IntakeLimits(per_ip_per_minute=3, orders_per_account_per_minute=2)
    for _ in range(3):
        limits.hit_ip("10.0.0.1")
    with pytest.raises(TooManyRequests, match="3 requests per minute"):
        limits.hit_ip("10.0.0.1")
    limits.hit_ip("10.0.0.2")  # another client has its own window
    limits.hit_account(5)
    limits.hit_account(5)
    with pytest.raises(TooManyRequests, match="account 5 may submit at most 2"):
        limits.hit_account(5)
    limits.hit_account(6)
    off = IntakeLimits(per_ip_per_minute=0, orders_per_account_per_minute=0)
    for _ in range(100):
        off.hit_ip("10.0.0.1")
        off.hit_account(1)


@pytest.mark.slow
def test_a_client_over_its_limit_gets_429_and_changes_nothing(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        batch_interval_s=0,
        operator_token="t" * 32,
        requests_per_ip_per_minute=2,
    )
    with TestClient(create_app(settings)) as http:
        ledger_before = http.get("/v1/ledger").json()
        bad = {"pubkey": {"x": "1", "y": "2"}, "amount": 5, "timestamp": 0, "signature": {}}
        for _ in range(2):
            assert http.post("/v1/accounts", json=bad).status_code in (400, 401, 422)
        refused = http.post("/v1/accounts", json=bad)
        assert refused.status_code == 429
        assert "requests per minute" in refused.json()["detail"]
        assert http.post("/v1/orders", json={}).status_code == 429
        assert http.get("/v1/ledger").json() == ledger_before  # reads are not limited
