"""Which pairing backend the Groth16 verifier uses: py_ecc (``python``, the trust root) or mcl (``native``).

The choice is per process: ``set_backend`` (the CLI's ``--backend``), else the
``DARKPOOL_VERIFY_BACKEND`` environment variable (inherited by worker
processes), else ``python``. ``native`` needs the optional ``darkpool[native]``
extra (``verifier.groth16_native``); choosing it without the extra raises
``BackendError`` with the install hint. Parsing and strict checks never
depend on the backend (``verifier.groth16``).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "BackendError",
    "check_backend_name",
    "current_backend",
    "native",
    "set_backend",
    "using_backend",
]


class BackendError(ValueError):
    """An unknown backend name, or the native backend is not installed here."""


BACKENDS: tuple[str, ...] = ("python", "native")
"""Pairing backends: ``python`` (py_ecc, the default trust root) and ``native`` (mcl)."""

BACKEND_ENV = "DARKPOOL_VERIFY_BACKEND"
_backend_choice: str | None = None


def check_backend_name(name: str) -> str:
    if name not in BACKENDS:
        raise BackendError(
            f"unknown verification backend {name!r} (choose {' or '.join(BACKENDS)})"
        )
    if name == "native":
        native()  # fail now, with the install hint, rather than mid-replay
    return name


def set_backend(name: str) -> None:
    """Use ``name`` for every later check in this process. Raises BackendError.

    Also exports ``DARKPOOL_VERIFY_BACKEND`` so that worker processes started
    afterwards (``darkpool-verify --jobs N`` uses spawn) make the same choice.
    """
    global _backend_choice
    _backend_choice = check_backend_name(name)
    os.environ[BACKEND_ENV] = name


@contextmanager
def using_backend(name: str) -> Iterator[None]:
    """Use ``name`` inside the ``with`` block only (this process; the environment is untouched)."""
    global _backend_choice
    previous = _backend_choice
    _backend_choice = check_backend_name(name)
    try:
        yield
    finally:
        _backend_choice = previous


def current_backend() -> str:
    """The chosen backend: ``set_backend``'s, else ``$DARKPOOL_VERIFY_BACKEND``, else python."""
    if _backend_choice is not None:
        return _backend_choice
    return check_backend_name(os.environ.get(BACKEND_ENV, "") or "python")


def native() -> Any:
    """The native module, loaded (BackendError if the extra is not installed)."""
    from verifier import groth16_native

    try:
        groth16_native.load()
    except groth16_native.NativeUnavailableError as exc:
        raise BackendError(str(exc)) from None
    return groth16_native
