"""Test helpers for live HTTP servers: a free local port (``demo.server``'s), an ASGI app served in a thread.

Test code only: never imported by library code.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import uvicorn

from demo.server import free_port

__all__ = ["free_port", "serve_app"]


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
