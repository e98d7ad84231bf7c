"""Annotated dependencies: the running service, the authenticated account, the operator token.

Request authentication is ``verifier.auth`` (signature over method, path with
query, body and a timestamp); this module only feeds it the raw request. The
three auth headers are declared so the OpenAPI spec lists them.
Never logs headers or bodies.
"""

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from exchange.errors import Forbidden, Unauthenticated
from exchange.service import Service


def any_service(request: Request) -> Service:
    """The service in whatever state it is (health only)."""
    service: Service = request.app.state.service
    return service


def get_service(request: Request) -> Service:
    """The service once it is ready; ``Unavailable`` (503) while it sets up or stops."""
    service = any_service(request)
    service.require_ready()
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
AnyServiceDep = Annotated[Service, Depends(any_service)]


def request_target(request: Request) -> str:
    """Path plus query string, exactly as signed by the client."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def authenticated_account(
    request: Request,
    service: ServiceDep,
    x_darkpool_account: Annotated[str | None, Header(description="account index (decimal)")] = None,
    x_darkpool_timestamp: Annotated[
        str | None, Header(description="signing time (see docs/wire-protocol.md)")
    ] = None,
    x_darkpool_signature: Annotated[
        str | None, Header(description="EdDSA-Poseidon signature: 128 hex digits or JSON")
    ] = None,
) -> int:
    body = await request.body()
    return await run_in_threadpool(
        service.authenticate,
        account=x_darkpool_account,
        timestamp=x_darkpool_timestamp,
        signature=x_darkpool_signature,
        method=request.method,
        target=request_target(request),
        body=body,
    )


AuthAccount = Annotated[int, Depends(authenticated_account)]


def client_rate_limit(request: Request, service: ServiceDep) -> None:
    """429 when the client IP exceeds its intake rate (mutating trader routes)."""
    service.check_client_rate(request.client.host if request.client else "unknown")


RateLimitedClient = Depends(client_rate_limit)


def require_operator(
    service: ServiceDep,
    authorization: Annotated[str | None, Header(description="Bearer <operator token>")] = None,
) -> None:
    if authorization is None or not authorization.startswith("Bearer "):
        raise Unauthenticated("operator token required (Authorization: Bearer <token>)")
    given = authorization.removeprefix("Bearer ").strip().encode()
    if not hmac.compare_digest(given, service.keys.operator_token.encode()):
        raise Forbidden("wrong operator token")


OperatorAuth = Depends(require_operator)
