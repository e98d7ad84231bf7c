"""schemathesis against ``/openapi.json`` of a live server: no 5xx, every response as declared,
and nothing a fuzzer sends changes the ledger.

Bounded: ``CASES_PER_OPERATION`` generated requests per operation (a few
hundred in all) and ``TIME_CAP_S`` wall seconds for the whole run. The
checks are schemathesis's ``not_a_server_error``, ``status_code_conformance``,
``content_type_conformance``, ``response_schema_conformance`` and
``response_headers_conformance``: a status the spec does not declare for the
operation, or a body that does not match its declared schema (``ErrorBody``
for errors), fails the test.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.live_server import serve_app

pytestmark = pytest.mark.slow
TOKEN = "fuzz-operator-token-0123456789"
CASES_PER_OPERATION = 12  # per operation and mode (positive, negative)
TIME_CAP_S = 240.0
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from client.sdk import DarkpoolClient
    from exchange.api.main import create_app
    from exchange.core.config import Settings
    from verifier.eddsa import PrivateKey

    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("fuzz")),
        batch_interval_s=0,
        operator_token=TOKEN,
        oracle_step_bps=0,
    )
    with serve_app(create_app(settings)) as url:
        client = DarkpoolClient(url)
        client.open_account(PrivateKey.generate(), 1_000)  # account 1 exists: more paths to reach
        client.close()
        yield url


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    label: str,
    started: float,
    tally: dict[str, Any],
    base_url: str,
) -> Any:
    """One bounded hypothesis run over ``operation`` (checks raise on any violation)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        if time.monotonic() - started > TIME_CAP_S:
            return
        response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=60)
        tally["calls"][label] = tally["calls"].get(label, 0) + 1
        status = response.status_code
        tally["statuses"][status] = tally["statuses"].get(status, 0) + 1

    return run


def _state(url: str) -> tuple[Any, ...]:
    roots = httpx.get(f"{url}/v1/roots").json()
    health = httpx.get(f"{url}/v1/health").json()
    return (
        roots["ledger_index"],
        roots["roots"],
        roots["total_collateral"],
        health["pending_orders"],
    )


def test_fuzz_openapi_no_5xx_conforming_and_nothing_changes(server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 17
    before = _state(server)
    started = time.monotonic()
    tally: dict[str, dict[Any, int]] = {"calls": {}, "statuses": {}}
    calls, statuses = tally["calls"], tally["statuses"]

    cases = [
        (operation, mode)
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    for operation, mode in cases:
        if time.monotonic() - started > TIME_CAP_S:
            break
        run = _fuzz(operation, mode, f"{operation.label} [{mode.value}]", started, tally, server)
        try:
            run()
        except Unsatisfiable:
            # nothing to make invalid (no parameters, no body): only positive cases exist
            if mode is not GenerationMode.NEGATIVE:
                raise

    total = sum(calls.values())
    print(
        f"\nschemathesis: {total} requests over {len(calls)} operations in "
        f"{time.monotonic() - started:.0f}s; statuses {dict(sorted(statuses.items()))}"
    )
    assert total >= 100, calls
    assert not any(s >= 500 for s in statuses)
    assert _state(server) == before  # no fuzzed request changed the ledger
