"""The operator's long-lived secrets, created on first start in ``key_dir`` and reloaded after.

* ``operator_x25519.key`` — 32 bytes: the X25519 key that traders seal orders
  to (libsodium sealed boxes, ``nacl.public.SealedBox``);
* ``insurance_eddsa.key`` — 32-byte seed of the insurance / fee account key;
* ``operator_eddsa.key`` — 32-byte seed of the key that signs every ledger entry
  (its public key is ``operator_pubkey`` in genesis);
* ``operator_token`` — the bearer token of operator-only endpoints (only
  written when ``DARKPOOL_OPERATOR_TOKEN`` is not set).

The oracle's key is never here: the oracle is its own process with its own
key directory (``darkpool oracle serve``, ``oracle.service``); the service's
development oracle keeps its key in ``Settings.oracle_key_dir``.

Files are created exclusively with mode 0600 (a directory 0700) so a second
process racing the first can never overwrite a key. This module never logs,
prints or returns a key in a repr; the one exception is the freshly generated
operator token, which the caller prints once to stderr on first start.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey as X25519PrivateKey

from verifier.eddsa import PrivateKey

KEY_BYTES = 32


class KeyFileError(OSError):
    """A key file is unreadable or has the wrong size."""


@dataclass(frozen=True, repr=False)
class OperatorKeys:
    """Secrets of one operator (repr hides them)."""

    box: X25519PrivateKey
    insurance: PrivateKey
    ledger: PrivateKey
    operator_token: str
    token_generated: bool

    def __repr__(self) -> str:
        return "OperatorKeys(<secret>)"


def _write_new(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` (0600) unless it exists; True if this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _load_or_create(path: Path, make: bytes) -> tuple[bytes, bool]:
    created = _write_new(path, make)
    data = path.read_bytes()
    return data, created


def _secret_bytes(path: Path) -> bytes:
    data, _ = _load_or_create(path, os.urandom(KEY_BYTES))
    if len(data) != KEY_BYTES:
        raise KeyFileError(f"{path} must hold exactly {KEY_BYTES} bytes")
    return data


def load_or_create(key_dir: Path, operator_token: str | None = None) -> OperatorKeys:
    """Load the operator's keys from ``key_dir``, generating any that are missing."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    box = X25519PrivateKey(_secret_bytes(key_dir / "operator_x25519.key"))
    insurance = PrivateKey(_secret_bytes(key_dir / "insurance_eddsa.key"))
    ledger = PrivateKey(_secret_bytes(key_dir / "operator_eddsa.key"))
    generated = False
    if operator_token is None:
        raw, generated = _load_or_create(
            key_dir / "operator_token", secrets.token_urlsafe(32).encode()
        )
        operator_token = raw.decode().strip()
        if len(operator_token) < 16:
            raise KeyFileError(f"{key_dir / 'operator_token'} holds a token shorter than 16 chars")
    return OperatorKeys(box, insurance, ledger, operator_token, generated)
