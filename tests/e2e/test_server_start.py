"""``demo.server.wait_ready``, the server start waiter, against a fake ``/v1/health``.

Fast (no circuits, no server process): a FastAPI app in a thread plays a
server's start. The waiter keeps waiting while the 503 body's ``setup``
progress moves (longer, in total, than its stall bound), fails fast with one
line when the progress stalls, when setup reports a failure, or when the
process exits.
"""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from demo.server import DemoError, wait_ready
from tests.live_server import serve_app

STALL_S = 1.0


class FakeStart:
    """A server's start: ``steps`` setup states, the next one every ``step_s`` seconds."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.step_s = 0.0
        self.steps: list[dict[str, Any] | None] = []  # None = ready (200)
        self.status = "setting_up"

    def body(self) -> tuple[int, dict[str, Any]]:
        at = int((time.monotonic() - self.t0) / self.step_s) if self.step_s else 0
        setup = self.steps[min(at, len(self.steps) - 1)]
        if setup is None:
            return 200, {"status": "ok"}
        return 503, {"status": self.status, "setup": setup}

    def play(self, steps: list[dict[str, Any] | None], step_s: float, status: str) -> None:
        self.t0, self.steps, self.step_s, self.status = time.monotonic(), steps, step_s, status


class _Alive:
    returncode = None

    def poll(self) -> int | None:
        return None


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeStart, str]]:
    start = FakeStart()
    start.play([None], 0, "setting_up")  # ready while serve_app waits for it
    app = FastAPI()

    @app.get("/v1/health")
    def health() -> JSONResponse:
        status, body = start.body()
        return JSONResponse(body, status_code=status)

    with serve_app(app) as url:
        yield start, f"{url}/v1/health"


def _setup(
    done: int, current: str | None = "order_ops", error: str | None = None
) -> dict[str, Any]:
    return {"done": done, "total": 7, "current": current, "elapsed_s": 1.0, "error": error}


def test_waits_while_setup_progresses(fake: tuple[FakeStart, str]) -> None:
    start, url = fake
    # 6 steps of 0.6 s: 3.6 s in all, over three times the stall bound, each under it.
    start.play([_setup(i) for i in range(6)] + [None], 0.6, "setting_up")
    t0 = time.monotonic()
    wait_ready(_Alive(), url, "server", STALL_S, poll_s=0.05)
    assert time.monotonic() - t0 > 3 * STALL_S


def test_a_stalled_setup_fails_fast_naming_where_it_stood(fake: tuple[FakeStart, str]) -> None:
    start, url = fake
    start.play([_setup(3, "deleverage")], 0, "setting_up")
    t0 = time.monotonic()
    with pytest.raises(DemoError) as err:
        wait_ready(_Alive(), url, "server", STALL_S, poll_s=0.05)
    assert time.monotonic() - t0 < 10 * STALL_S
    message = str(err.value)
    assert "\n" not in message
    assert "no progress for 1s (setup 3/7, building deleverage)" in message


def test_a_failed_setup_and_an_exited_process_fail_at_once(fake: tuple[FakeStart, str]) -> None:
    start, url = fake
    start.play([_setup(2, None, "ptau missing")], 0, "failed")
    with pytest.raises(DemoError, match="failed to set up: ptau missing"):
        wait_ready(_Alive(), url, "server", 60, poll_s=0.05)

    class Exited:
        returncode = 2

        def poll(self) -> int | None:
            return 2

    with pytest.raises(DemoError, match="exited during start \\(code 2\\)"):
        wait_ready(Exited(), url, "server", 60)


def test_no_answer_at_all_fails_after_the_stall_bound() -> None:
    from demo.server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1/health"  # nobody listens there
    with pytest.raises(DemoError, match=r"did not answer .* within 1s"):
        wait_ready(_Alive(), url, "server", STALL_S, poll_s=0.05)
