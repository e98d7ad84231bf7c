"""The FastAPI application: routers under /v1, error shape, body-size limit, service lifespan.

Every refused request is answered ``{"detail": "<one line>"}`` with a 4xx
status (validation errors included, flattened to one line); a body larger
than ``max_body_bytes`` is refused with 413 before it is read. The service is
started in the lifespan and stopped after; nothing here touches state itself.
"""

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.api.routes import accounts, admin, info, ledger, orders, solvency
from exchange.core.config import Settings
from exchange.service import Service, ServiceError


class BodyLimit:
    """Pure ASGI middleware: 413 for a body above ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await _too_large(send, self.limit)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, self.limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    response = JSONResponse({"detail": f"request body exceeds {limit} bytes"}, status_code=413)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """The app; it starts (and stops) ``service`` — or one built from ``settings`` — in its lifespan."""
    settings = settings if settings is not None else Settings()
    svc = service if service is not None else Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.start()
        if svc.keys.token_generated:
            # Printed once, on the start that created it; afterwards it is in key_dir only.
            print(f"darkpool: operator token: {svc.keys.operator_token}", file=sys.stderr)
        app.state.service = svc
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(
        title="darkpool exchange",
        version="1",
        description="Encrypted order intake, proven batches and solvency on demand.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    for router in (info.router, accounts.router, orders.router, ledger.router, solvency.router):
        app.include_router(router, prefix="/v1")
    app.include_router(admin.router, prefix="/v1")
    return app
