"""Where ``darkpool-verify`` reads a ledger from: an export directory or a server URL.

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

``HttpSource`` reads the same pieces from a running exchange's public API
(``http(s)://HOST:PORT``, with or without a trailing ``/v1``) using only
``urllib``: the entry count from ``GET /v1/info`` (``ledger_entries``),
entries by paging ``GET /v1/ledger?start=&limit=`` (entry 0 is genesis), and
keys from ``GET /v1/vkeys/{statement}``. The count is fixed when the source
is opened, so a ledger that grows while it is being replayed is checked as
the prefix that existed then (entries past it read as absent). Connection
failures, timeouts, HTTP errors and non-JSON answers are InputErrors (exit 2).
A server answering 404 for an entry inside the count is a hole, like a
missing file.

``replay_source`` replays everything a source holds (``verifier.ledger.replay``
over its manifest, genesis, entries and shipped keys). This module only
reads; it never imports prover or exchange, never runs node, and never uses a third-party HTTP client (the verifier is stdlib + py_ecc).
"""

import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from verifier.ledger import LEDGER_FORMAT, ReplayReport, replay
from verifier.protocol import STATEMENTS

__all__ = [
    "DirectorySource",
    "HttpSource",
    "InputError",
    "LedgerSource",
    "entry_file_name",
    "load_json_file",
    "load_vkey_dir",
    "open_source",
    "read_manifest_count",
]

_MAX_JSON_BYTES = 64 * 1024 * 1024  # far above any honest entry; stops a memory bomb early


JSON_MAX_DEPTH = 1000
"""Deepest JSON nesting ``parse_json`` accepts (darkpool's own files nest at most ~6 levels)."""


def parse_json(text: str) -> object:
    """``json.loads`` that fails cleanly on hostile input; raises ``ValueError`` with a reason.

    py_ecc raises the interpreter's recursion limit to 100,000, at which the C
    JSON parser overflows the stack (a segfault, not an exception) on
    ~70,000 nested brackets; the limit is lowered to ``JSON_MAX_DEPTH`` while
    parsing. Numbers beyond Python's 4,300-digit conversion limit and invalid
    JSON raise ``ValueError`` too (``json.JSONDecodeError`` is one).
    """
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(min(old, JSON_MAX_DEPTH + 50))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ValueError(f"nested deeper than {JSON_MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer literal over the digit limit
        raise ValueError(str(exc).split(";")[0]) from None
    finally:
        sys.setrecursionlimit(old)


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
        return parse_json(text)
    except ValueError as exc:
        raise InputError(f"{what}: {path} is not valid JSON ({exc})") from None


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


def replay_source(src: LedgerSource, **options: Any) -> ReplayReport:
    """Replay the manifest, genesis, entries and shipped keys of ``src``.

    ``options`` are ``verifier.ledger.replay``'s other keywords (checker,
    state, pinned_vkeys, pinned_genesis, pinned_oracle_key, progress).
    """
    return replay(
        manifest=src.manifest(),
        genesis=src.genesis(),
        entries=src.entry,
        vkeys=src.vkeys(),
        **options,
    )


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


HTTP_TIMEOUT_S = 30.0
HTTP_PAGE = 500  # the API's largest page (GET /v1/ledger limit <= 500)


class HttpSource:
    """A running exchange's public ledger API, read with urllib.

    Pages of entries are fetched as the replay asks for them, and only the
    current page is kept, so memory stays bounded by one page.
    """

    def __init__(
        self, url: str, *, timeout: float = HTTP_TIMEOUT_S, page_size: int = HTTP_PAGE
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise InputError(f"not an http(s) URL: {url}")
        if parts.query or parts.fragment:
            raise InputError(f"the ledger URL takes no query or fragment: {url}")
        path = parts.path.rstrip("/")
        if path.endswith("/v1"):
            path = path[: -len("/v1")]
        self.base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self.timeout = timeout
        self.page_size = max(1, min(HTTP_PAGE, page_size))
        self._count: int | None = None
        self._page_start = 0
        self._page: list[object] = []

    @property
    def description(self) -> str:
        return self.base

    def _get(self, path: str, what: str, *, missing_ok: bool = False) -> object | None:
        url = f"{self.base}/v1{path}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(_MAX_JSON_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code == 404:
                return None
            raise InputError(f"{what}: {url} answered HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = getattr(reason, "strerror", None) or str(reason)
            raise InputError(f"{what}: cannot reach {url}: {text}") from None
        except TimeoutError:
            raise InputError(f"{what}: {url} did not answer within {self.timeout:g} s") from None
        except (OSError, ValueError) as exc:
            # ValueError: http.client rejects a malformed status line or header.
            raise InputError(f"{what}: reading {url} failed: {exc}") from None
        if len(body) > _MAX_JSON_BYTES:
            raise InputError(f"{what}: {url} answered more than {_MAX_JSON_BYTES} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{what}: {url} did not answer UTF-8 text") from None
        try:
            return parse_json(text)
        except ValueError as exc:
            raise InputError(f"{what}: {url} did not answer JSON ({exc})") from None

    def _entry_count(self) -> int:
        if self._count is None:
            info = self._get("/info", "ledger info")
            count = info.get("ledger_entries") if isinstance(info, Mapping) else None
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise InputError(
                    f"ledger info: {self.base}/v1/info has no positive 'ledger_entries' "
                    "(is this a darkpool exchange?)"
                )
            self._count = count
        return self._count

    def manifest(self) -> object:
        # The API has no ledger.json; this is the one an export of it would hold.
        return {"format": LEDGER_FORMAT, "entries": self._entry_count()}

    def _fetch_page(self, start: int) -> None:
        query = urllib.parse.urlencode({"start": start, "limit": self.page_size})
        page = self._get(f"/ledger?{query}", f"ledger page at {start}")
        if not isinstance(page, Mapping) or not isinstance(page.get("entries"), list):
            raise InputError(f"ledger page at {start}: the answer has no 'entries' list")
        self._page_start = start
        self._page = list(page["entries"])

    def _lookup(self, index: int) -> object | None:
        if index < 0 or index >= self._entry_count():
            return None
        offset = index - self._page_start
        if not 0 <= offset < len(self._page):
            self._fetch_page(index)
            offset = 0
        if offset >= len(self._page):
            return None  # the server lists fewer entries than it counted: a hole
        return self._page[offset]

    def genesis(self) -> object:
        found = self._lookup(0)
        if found is None:
            raise InputError(f"genesis: {self.base}/v1/ledger lists no entry 0")
        return found

    def entry(self, index: int) -> object | None:
        return self._lookup(index)

    def vkeys(self) -> dict[str, object]:
        keys: dict[str, object] = {}
        for statement in STATEMENTS:
            found = self._get(
                f"/vkeys/{statement}", f"verification key {statement}", missing_ok=True
            )
            if found is not None:
                keys[statement] = found
        return keys


def open_source(spec: str) -> LedgerSource:
    """A source for ``spec``: an ``http(s)://`` server URL or an export directory path."""
    if re.match(r"(?i)https?://", spec):
        return HttpSource(spec)
    return DirectorySource(Path(spec))


def read_manifest_count(manifest: object) -> int:
    """``entries`` of ``ledger.json`` (raises InputError if it is not a count)."""
    if not isinstance(manifest, Mapping):
        raise InputError("ledger manifest: ledger.json is not a JSON object")
    count = manifest.get("entries")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError("ledger manifest: 'entries' must be a positive integer")
    return count
