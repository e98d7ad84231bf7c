"""The FastAPI application: routers under /v1, error shape, body-size limit, service lifespan.

Every refused request is answered ``{"detail": "<one line>"}`` with the status
of ``exchange.api.errors.ERROR_TABLE`` (validation errors included, flattened
to one line, 422); a body larger than ``max_body_bytes`` is refused with 413,
whether its length is declared or it is streamed (chunked). The service is
started in the lifespan — with ``setup_in_background`` its circuit setup runs
in a thread, so ``/v1/health`` answers at once — and stopped after (which
kills node children of a build or proof in flight); nothing here touches
state itself.
"""

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.api import explorer
from exchange.api.errors import ErrorBody, http_error
from exchange.api.routes import accounts, admin, batches, info, ledger, orders, solvency
from exchange.core.config import Settings
from exchange.errors import DomainError
from exchange.service import Service

BATCH_BODY_FACTOR = 4


class BodyLimit:
    """Pure ASGI middleware: 413 for a body above ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int, per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.per_path = dict(per_path or {})  # exact path -> its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.default)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await _too_large(send, limit)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, limit)


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit.

    An ``HTTPException`` because FastAPI turns any other error while it reads
    a body into "400 There was an error parsing the body"; this one it
    re-raises, and its handler answers ``{"detail": ...}`` with 413.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


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


def create_app(
    settings: Settings | None = None,
    *,
    service: Service | None = None,
    setup_in_background: bool = False,
) -> FastAPI:
    """The app; it starts (and stops) ``service`` — or one built from ``settings`` — in its lifespan.

    With ``setup_in_background`` the app serves at once and ``/v1/health``
    reports ``setting_up`` (503) until the circuits are built and the state is
    loaded; other routes answer 503 until then.
    """
    settings = settings if settings is not None else Settings()
    svc = service if service is not None else Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start_service(app, svc, setup_in_background=setup_in_background)
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
    # A batch of sealed orders may be BATCH_BODY_FACTOR times the usual body
    # (an honest sealed order is ~0.7 KB: 64 of them fit 4 x the 16 KiB default).
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        per_path={"/v1/orders/batch": BATCH_BODY_FACTOR * settings.max_body_bytes},
    )

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=http_error(exc).status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    for router in (
        info.router,
        accounts.router,
        orders.router,
        ledger.router,
        batches.router,
        solvency.router,
    ):
        app.include_router(router, prefix="/v1")
    app.include_router(admin.router, prefix="/v1")
    app.include_router(explorer.router)  # read-only HTML pages under /explorer
    _declare_error_body(app)
    return app


def start_service(app: FastAPI, svc: Service, *, setup_in_background: bool) -> None:
    """Start ``svc`` and serve it from ``app``: the lifespan's start.

    ``darkpool serve`` calls it itself, after importing the app in the
    background (``darkpool.serve``), and stops the service itself.
    """
    svc.start(setup_in_background=setup_in_background)
    if svc.keys.token_generated:
        # Printed once, on the start that created it; afterwards it is in key_dir only.
        print(f"darkpool: operator token: {svc.keys.operator_token}", file=sys.stderr)
    app.state.service = svc


def _declare_error_body(app: FastAPI) -> None:
    """Make the OpenAPI spec describe the real 422 body, ``ErrorBody``, never FastAPI's list.

    Routes declare their error responses (``exchange.api.errors.responses``);
    this also replaces FastAPI's default validation-error schema wherever a
    route still carries it, so the spec and the bodies agree.
    """
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas["ErrorBody"] = ErrorBody.model_json_schema()
            ref = {"$ref": "#/components/schemas/ErrorBody"}
            for path in spec.get("paths", {}).values():
                for op in path.values():
                    for response in op.get("responses", {}).values():
                        for media in response.get("content", {}).values():
                            if "HTTPValidationError" in str(media.get("schema")):
                                media["schema"] = ref
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
