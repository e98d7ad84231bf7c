"""Where ``darkpool-verify`` reads a ledger from: an export directory (or, later, a URL).

An export directory (see docs/ledger.md) holds ``ledger.json``, ``genesis.json``,
``entries/NNNNNN.json`` and ``vkeys/<statement>.json``. ``DirectorySource``
reads those files lazily, one entry at a time, so a long ledger is never held
in memory as text. Everything it returns is plain parsed JSON; judging it is
``verifier.ledger``'s job.

Unreadable input (a missing or non-JSON ``ledger.json`` / ``genesis.json``, a
file that is not UTF-8 or not JSON) raises ``InputError`` with a one-line
message: the CLI maps it to exit code 2. A missing *entry* file is not an
input error but a hole in the ledger: ``entry`` returns ``None`` and the
replay reports it as a ledger failure.

Reading from an ``http(s)://`` base URL is not supported yet (``open_source``
raises InputError saying so). This module only reads; it never imports
prover or exchange and never runs node.
"""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

__all__ = [
    "STATEMENT_NAMES",
    "DirectorySource",
    "InputError",
    "LedgerSource",
    "entry_file_name",
    "load_json_file",
    "load_vkey_dir",
    "open_source",
    "read_manifest_count",
]

# The statements whose verification keys a ledger uses; a vkeys directory may
# hold others (ignored).
STATEMENT_NAMES: tuple[str, ...] = ("account_op", "settle_batch", "solvency_chunk")

_MAX_JSON_BYTES = 64 * 1024 * 1024  # far above any honest entry; stops a memory bomb early


class InputError(Exception):
    """The input could not be read (CLI exit code 2). The message is one line."""


def load_json_file(path: Path, what: str) -> object:
    """Read and parse one JSON file, raising InputError with a one-line reason."""
    try:
        size = path.stat().st_size
        if size > _MAX_JSON_BYTES:
            raise InputError(f"{what}: {path} is too large ({size} bytes)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what}: no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what}: {path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError(f"{what}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what}: {path} is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except RecursionError:
        raise InputError(f"{what}: {path} is nested too deeply") from None


def entry_file_name(index: int) -> str:
    """``entries/`` file name of entry ``index`` (6-digit zero-padded, wider if needed)."""
    return f"{index:06d}.json"


class LedgerSource(Protocol):
    """Parsed JSON pieces of one exported ledger."""

    @property
    def description(self) -> str: ...

    def manifest(self) -> object:
        """The ``ledger.json`` object."""
        ...

    def genesis(self) -> object:
        """Entry 0."""
        ...

    def entry(self, index: int) -> object | None:
        """Entry ``index`` (>= 1), or None if the export lacks it."""
        ...

    def vkeys(self) -> dict[str, object]:
        """Verification keys shipped with the ledger, by statement name."""
        ...


class DirectorySource:
    """An export directory on disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise InputError(f"no such ledger export: {self.root}")
        if not self.root.is_dir():
            raise InputError(f"{self.root} is not a directory (expected a ledger export)")

    @property
    def description(self) -> str:
        return str(self.root)

    def manifest(self) -> object:
        return load_json_file(self.root / "ledger.json", "ledger manifest")

    def genesis(self) -> object:
        return load_json_file(self.root / "genesis.json", "genesis")

    def entry(self, index: int) -> object | None:
        path = self.root / "entries" / entry_file_name(index)
        if not path.is_file():
            return None
        return load_json_file(path, f"entry {index}")

    def vkeys(self) -> dict[str, object]:
        directory = self.root / "vkeys"
        if not directory.is_dir():
            return {}
        return load_vkey_dir(directory, "ledger verification key")


_STATEMENT_FILE = re.compile(r"([a-z][a-z0-9_]*)\.json")


def load_vkey_dir(directory: Path, what: str = "pinned verification key") -> dict[str, object]:
    """``<statement>.json`` files of a directory, parsed, keyed by statement name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{what}s: {directory} is not a directory")
    keys: dict[str, object] = {}
    for path in sorted(directory.iterdir()):
        match = _STATEMENT_FILE.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        keys[match.group(1)] = load_json_file(path, f"{what} {path.name}")
    return keys


def open_source(spec: str) -> LedgerSource:
    """A source for ``spec``: an export directory path (URLs are not supported yet)."""
    if re.match(r"(?i)https?://", spec):
        raise InputError(
            f"reading a ledger from a URL is not supported yet ({spec}); "
            "export it with `darkpool export DIR` and verify the directory"
        )
    return DirectorySource(Path(spec))


def read_manifest_count(manifest: object) -> int:
    """``entries`` of ``ledger.json`` (raises InputError if it is not a count)."""
    if not isinstance(manifest, Mapping):
        raise InputError("ledger manifest: ledger.json is not a JSON object")
    count = manifest.get("entries")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError("ledger manifest: 'entries' must be a positive integer")
    return count
