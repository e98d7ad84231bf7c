"""Annotated dependencies: the running service, the authenticated account, the operator token.

Request authentication is ``verifier.auth`` (signature over method, path with
query, body and a timestamp); this module only feeds it the raw request.
Never logs headers or bodies.
"""

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from exchange.service import Service, ServiceError
from verifier.auth import HEADER_ACCOUNT, HEADER_SIGNATURE, HEADER_TIMESTAMP


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def request_target(request: Request) -> str:
    """Path plus query string, exactly as signed by the client."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def authenticated_account(request: Request, service: ServiceDep) -> int:
    body = await request.body()
    return await run_in_threadpool(
        service.authenticate,
        account=request.headers.get(HEADER_ACCOUNT),
        timestamp=request.headers.get(HEADER_TIMESTAMP),
        signature=request.headers.get(HEADER_SIGNATURE),
        method=request.method,
        target=request_target(request),
        body=body,
    )


AuthAccount = Annotated[int, Depends(authenticated_account)]


def require_operator(
    service: ServiceDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    if authorization is None or not authorization.startswith("Bearer "):
        raise ServiceError(401, "operator token required (Authorization: Bearer <token>)")
    given = authorization.removeprefix("Bearer ").strip().encode()
    if not hmac.compare_digest(given, service.keys.operator_token.encode()):
        raise ServiceError(403, "wrong operator token")


OperatorAuth = Depends(require_operator)
