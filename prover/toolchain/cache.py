"""The content-addressed build cache: ``$DARKPOOL_CACHE`` entries built once under a lock.

Entries are built in a temp directory and renamed into place under an
``fcntl`` lock, so a crash never leaves a half entry and concurrent builders
of one key wait for each other.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prover.errors import ToolchainError
from prover.toolchain.tools import project_root

MANIFEST = "manifest.json"


def cache_dir() -> Path:
    """``$DARKPOOL_CACHE`` or ``<project root>/.cache/darkpool`` (gitignored)."""
    env = os.environ.get("DARKPOOL_CACHE")
    path = Path(env).expanduser().resolve() if env else project_root() / ".cache" / "darkpool"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolchainError(f"cannot create cache directory {path}: {exc.strerror}") from exc
    return path


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Exclusive inter-process lock ``<cache>/locks/<name>.lock`` (released on crash by the OS)."""
    locks = cache_dir() / "locks"
    locks.mkdir(exist_ok=True)
    fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _cache_entry(kind: str, entry: str, produce: Callable[[Path], None]) -> Path:
    """Directory ``<cache>/<kind>/<entry>``, produced once by ``produce(tmp_dir)``.

    ``produce`` fills a fresh temp directory and writes ``manifest.json`` last;
    the directory is then renamed into place, so an entry with a manifest is
    always complete. Builders of the same entry serialise on a lock; the loser
    finds the winner's entry and returns it.
    """
    final = cache_dir() / kind / entry
    if (final / MANIFEST).is_file():
        return final
    with _locked(f"{kind}-{entry}"):
        if (final / MANIFEST).is_file():
            return final
        tmp_root = cache_dir() / "tmp"
        tmp_root.mkdir(exist_ok=True)
        # Holding the lock, any temp dir for this entry is a crashed builder's leftover.
        for stale in tmp_root.glob(f"{kind}-{entry}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # an entry without manifest: not ours to trust
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{kind}-{entry}.", dir=tmp_root))
        try:
            produce(tmp)
            if not (tmp / MANIFEST).is_file():
                raise ToolchainError(f"internal: cache entry {kind}/{entry} has no manifest")
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def cached_build(
    kind: str, entry: str, build: Callable[[Path], Mapping[str, object]]
) -> tuple[Path, dict[str, Any]]:
    """``_cache_entry`` of a build step: ``build(tmp_dir)`` makes the files and returns
    the entry's manifest, written last. Returns the entry and its manifest."""

    def produce(tmp: Path) -> None:
        _write_json_atomic(tmp / MANIFEST, build(tmp))

    final = _cache_entry(kind, entry, produce)
    return final, _read_manifest(final)


def keyed_name(name: str, key: str) -> str:
    """Entry name of ``name`` built for cache key ``key`` (a hex digest)."""
    return f"{_safe_name(name)}-{key[:24]}"


def _write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _read_manifest(entry: Path) -> dict[str, Any]:
    try:
        data = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ToolchainError(f"corrupt cache entry {entry}: delete it and rebuild") from exc
    if not isinstance(data, dict):
        raise ToolchainError(f"corrupt cache entry {entry}: delete it and rebuild")
    return data


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return cleaned or "circuit"


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
