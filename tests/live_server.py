"""Test helpers for live HTTP servers: a free local port (``demo.server``'s), an ASGI app served in a thread.

Test code only: never imported by library code.
"""

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import uvicorn

from demo.server import free_port

__all__ = ["batch_in_flight", "free_port", "serve_app"]


@contextmanager
def serve_app(
    app: Any, *, ready: Literal["health", "started"] = "health", limit_s: float = 600
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread; yields its base URL, stops it afterwards.

    Waits until ``GET /v1/health`` answers 200 (``ready="health"``) or until
    uvicorn has started (``"started"``); fails the test if the server thread
    dies or ``limit_s`` seconds pass first.
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + limit_s
    while not _ready(server, url, ready):
        assert time.time() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05 if ready == "started" else 0.2)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _ready(server: uvicorn.Server, url: str, ready: str) -> bool:
    if ready == "started":
        return bool(server.started)
    try:
        return httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def batch_in_flight(url: str, token: str, *, timeout: float = 60) -> threading.Thread:
    """Trigger ``POST /v1/admin/batch`` in a daemon thread and return once it is proving.

    Returns when ``/v1/health`` says ``batch_in_progress`` (the batch holds the
    state lock: an order sent now is queued ``pending``); the thread ends with
    the request, or quietly when the server dies under it (a kill test). Fails
    if the batch has not started within ``timeout`` seconds.
    """

    def trigger() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server may die under it
            httpx.post(
                f"{url}/v1/admin/batch", headers={"Authorization": f"Bearer {token}"}, timeout=300
            )

    thread = threading.Thread(target=trigger, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not httpx.get(f"{url}/v1/health", timeout=10).json().get("batch_in_progress"):
        assert time.monotonic() < deadline, "the batch never started"
        assert thread.is_alive(), "the batch request ended before the batch was seen proving"
        time.sleep(0.02)
    return thread
