"""``darkpool serve``: listen first, then import and set up the exchange in the background.

Importing the exchange (FastAPI, SQLModel, py_ecc, the prover and the
operator) takes seconds of CPU, tens of seconds on a loaded machine. So the
listener starts with nothing of that imported: until the exchange's app is
loaded, a tiny ASGI app answers ``GET /v1/health`` 503 with the same body
shape as the real one (``status`` ``setting_up``, ``setup`` progress with
``done`` 0) and every other route 503 ``{"detail": "the exchange is setting
up ..."}``. A daemon thread then imports ``exchange.api.main``, builds the
settings, the service and the app, starts the service (circuit setup in its
own thread, as before) and hands every later request to the real app.

Stopping: SIGTERM or Ctrl-C at any moment, while loading, during circuit
setup or a proof, ends the process within seconds (``ServiceCore.interrupt``
kills node children at once, ``stop`` follows). Bad settings, found while
loading, print one line (``darkpool: ...``) and exit 2.

When the listener is up, one log line gives the main thread's CPU time and
the wall time since the interpreter started (``LISTENING_LOG``); the CPU time
does not grow with the machine's load, so tests can bound it.
"""

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from socket import socket
from types import FrameType
from typing import Any, Protocol

import uvicorn

from verifier.protocol import STATEMENTS

log = logging.getLogger("darkpool.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

LISTENING_LOG = "darkpool: listening {cpu:.3f}s main-thread CPU, {wall:.3f}s wall after start"
_T0 = time.monotonic()


class _App(Protocol):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class _Service(Protocol):
    def interrupt(self) -> None: ...
    def stop(self) -> None: ...


class LazyExchange:
    """ASGI app: 503 placeholders until ``load()`` has built and started the exchange's app."""

    def __init__(self) -> None:
        self._app: _App | None = None
        self._service: _Service | None = None
        self._lock = threading.RLock()  # load vs interrupt/stop; re-entrant: signal handlers
        self._stopping = False
        self.error: str | None = None
        self.on_failure: Callable[[], None] = lambda: None

    # ------------------------------------------------------------ loading

    def start_loading(self) -> None:
        threading.Thread(target=self.load, name="darkpool-load", daemon=True).start()

    def load(self) -> None:
        """Import the exchange, build settings, service and app, start the service, hand over."""
        try:
            from darkpool.cli import development_oracle_warning
            from exchange.api.main import create_app, start_service
            from exchange.core.config import serve_settings
            from exchange.service import Service

            settings = serve_settings()
            warning = development_oracle_warning(settings.oracle_url)
            if warning is not None:
                print(warning, file=sys.stderr)
            service = Service(settings)
            app = create_app(settings, service=service, setup_in_background=True)
            with self._lock:
                if self._stopping:
                    return
                start_service(app, service, setup_in_background=True)
                self._service = service
                self._app = app
        except Exception as exc:
            text = _one_line(exc)
            self.error = text
            print(f"darkpool: {text}", file=sys.stderr)
            self.on_failure()

    def interrupt(self) -> None:
        """From the signal handler: no service starts after this; a running one is interrupted."""
        with self._lock:
            self._stopping = True
            if self._service is not None:
                self._service.interrupt()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self._service is not None:
                self._service.stop()

    # ------------------------------------------------------------ serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is not None:
            await app(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        if scope.get("path") == "/v1/health":
            body: dict[str, Any] = {
                "status": "failed" if self.error else "setting_up",
                "batch_in_progress": False,
                "ledger_entries": None,
                "pending_orders": None,
                "setup": {
                    "done": 0,
                    "total": _statement_count(),
                    "current": None,
                    "elapsed_s": round(time.monotonic() - _T0, 3),
                    "error": self.error,
                },
            }
        elif self.error:
            body = {"detail": f"the exchange failed to set up: {self.error}"}
        else:
            body = {"detail": "the exchange is setting up (loading the server)"}
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": data})


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, exchange: LazyExchange) -> None:
        super().__init__(config)
        self.exchange = exchange

    async def startup(self, sockets: list[socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:
            return
        print(
            LISTENING_LOG.format(cpu=time.thread_time(), wall=_since_process_start()),
            file=sys.stderr,
            flush=True,
        )
        self.exchange.start_loading()

    async def shutdown(self, sockets: list[socket] | None = None) -> None:
        await super().shutdown(sockets)
        self.exchange.stop()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.exchange.interrupt()  # a build or proof in flight ends now, not after it
        super().handle_exit(sig, frame)


def _one_line(exc: Exception) -> str:
    """The error in one line; a settings validation error names the variable and the problem."""
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic's ValidationError, duck-typed: pydantic loads lazily
        try:
            first = errors()[0]
            name = "_".join(str(part) for part in first["loc"])
            return f"bad setting DARKPOOL_{name.upper()}: {first['msg']}"
        except (TypeError, LookupError):
            pass
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _statement_count() -> int:
    """How many statements setup builds: the slots state's (``STATEMENTS``)."""
    return len(STATEMENTS)


def _since_process_start() -> float:
    """Wall seconds since this process started (Linux /proc; else since this module loaded)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _T0


def serve(host: str, port: int) -> int:
    """Run the server until SIGTERM/Ctrl-C; 2 if the exchange could not be loaded."""
    exchange = LazyExchange()
    config = uvicorn.Config(
        exchange,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=1,
        lifespan="off",  # the service starts after loading, stops in _Server.shutdown
    )
    server = _Server(config, exchange)

    def fail() -> None:
        server.should_exit = True

    exchange.on_failure = fail
    server.run()
    return 2 if exchange.error else 0
