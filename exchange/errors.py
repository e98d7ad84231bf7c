"""Typed domain errors: what the service refuses, by kind, never by HTTP status.

The service raises these; the API alone maps each kind to a status code
(``exchange.api.errors.ERROR_TABLE``). ``reason`` is one line for the caller
and is sent to it as ``{"detail": reason}``; it never holds a key or an
order plaintext.
"""


class DomainError(Exception):
    """A refused request or a change that could not be made; ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Malformed(DomainError):
    """The input cannot be decoded: bad base64, a ciphertext that does not open, bad encodings."""


class Unauthenticated(DomainError):
    """Missing or invalid request authentication: headers, signatures, stale or replayed."""


class Forbidden(DomainError):
    """Authenticated, but not allowed to act on this resource (another account's data)."""


class NotFound(DomainError):
    """The named account, order, ledger entry, statement, root or job does not exist."""


class Conflict(DomainError):
    """The request contradicts current state: duplicate, already cancelled, batch running."""


class Rejected(DomainError):
    """Well-formed but breaks a rule: margin, ranges, expiry, a field value out of range."""


class Unavailable(DomainError):
    """The change could not be stored, or the exchange is not ready yet; nothing changed."""


class TooManyRequests(DomainError):
    """Over an intake rate limit (per client IP or per account); nothing changed."""


class Internal(DomainError):
    """A failure of the operator itself (a batch that cannot be proven); nothing changed."""


__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "Internal",
    "Malformed",
    "NotFound",
    "Rejected",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
]
