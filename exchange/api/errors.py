"""The one table from domain errors to HTTP, and the error responses the OpenAPI spec declares.

Every refused request is answered ``{"detail": "<one line>"}`` (``ErrorBody``)
with the status below. Two refusals do not come from the service: a request
the schema rejects (422, ``VALIDATION``) and a body over the size limit (413,
``TOO_LARGE``, from ``exchange.api.main.BodyLimit``).
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from exchange.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Internal,
    Malformed,
    NotFound,
    Rejected,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="one line saying what was refused and why")


@dataclass(frozen=True)
class HttpError:
    status: int
    description: str


ERROR_TABLE: dict[type[DomainError], HttpError] = {
    Malformed: HttpError(400, "malformed input: a value that cannot be decoded"),
    Unauthenticated: HttpError(401, "missing, invalid, stale or replayed authentication"),
    Forbidden: HttpError(403, "authenticated, but not allowed to act on this resource"),
    NotFound: HttpError(404, "no such account, order, entry, statement, root or job"),
    Conflict: HttpError(409, "conflicts with current state (duplicate, replay, batch running)"),
    Rejected: HttpError(422, "refused by a rule (margin, ranges, expiry) or the request schema"),
    TooManyRequests: HttpError(429, "over an intake rate limit (per client IP or per account)"),
    Internal: HttpError(500, "the operator failed (a batch could not be proven); nothing changed"),
    Unavailable: HttpError(503, "setting up, stopping, or the change could not be stored"),
}
VALIDATION = HttpError(422, ERROR_TABLE[Rejected].description)
TOO_LARGE = HttpError(413, "request body over the size limit (declared or streamed)")


def http_error(exc: DomainError) -> HttpError:
    """The table row for ``exc`` (by its class, then its bases); unknown kinds are 500."""
    for cls in type(exc).__mro__:
        row = ERROR_TABLE.get(cls)
        if row is not None:
            return row
    return ERROR_TABLE[Internal]


def responses(*kinds: type[DomainError], body: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route that may raise ``kinds``.

    Every route may answer 503 (setting up) and 422 (schema); a route with a
    request body may also answer 413 (too large) and 400 (a body that is not
    UTF-8 JSON at all).
    """
    rows = {ERROR_TABLE[k].status: ERROR_TABLE[k] for k in (*kinds, Unavailable)}
    rows[422] = VALIDATION
    if body:
        rows[413] = TOO_LARGE
        rows.setdefault(400, ERROR_TABLE[Malformed])
    return {
        status: {"model": ErrorBody, "description": row.description}
        for status, row in sorted(rows.items())
    }
