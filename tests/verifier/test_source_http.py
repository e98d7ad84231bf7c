"""``darkpool-verify http://HOST:PORT`` (verifier.source.HttpSource).

The session's honest slots export (``slots_ledger``, tests/exchange/slots_ledger.py) is served by a small
stdlib ``http.server`` on 127.0.0.1 that answers the public ledger routes the
way ``exchange/api/routes`` does (``/v1/info`` with ``ledger_entries``,
``/v1/ledger?start=&limit=`` pages of ``{start, total, entries}``,
``/v1/ledger/{i}``, ``/v1/vkeys/{statement}``; 404 with ``{"detail"}`` for
what does not exist). Replaying the URL must give the same report as
replaying the directory, in small pages too; a server that is down, answers
an error status, or answers something other than JSON is an unreadable input
(exit 2, one line).
"""

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.slots_ledger import SlotsLedger
from tests.live_server import free_port
from verifier.cli import main as cli_main
from verifier.source import DirectorySource, HttpSource, InputError, open_source, replay_source

pytestmark = pytest.mark.slow


class _Api:
    """The JSON the exchange's public routes would answer for an export directory."""

    def __init__(self, export: Path) -> None:
        src = DirectorySource(export)
        count = int(src.manifest()["entries"])  # type: ignore[index]
        self.entries: list[Any] = [src.genesis()] + [src.entry(i) for i in range(1, count)]
        self.vkeys = src.vkeys()
        self.mode = "ok"  # "ok" | "500" | "html"
        self.requests: list[str] = []

    def answer(self, target: str) -> tuple[int, bytes, str]:
        self.requests.append(target)
        if self.mode == "500":
            return 500, b'{"detail": "internal error"}', "application/json"
        if self.mode == "html":
            return 200, b"<html>maintenance</html>", "text/html"
        url = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        body: object
        if parts == ["v1", "info"]:
            g = self.entries[0]
            body = {
                "exchange_id": g["exchange_id"],
                "params": g["params"],
                "markets": g["markets"],
                "vkey_hashes": g["vkey_hashes"],
                "roots": self.entries[-1].get("roots_after"),
                "ledger_entries": len(self.entries),
            }
        elif parts == ["v1", "ledger"]:
            start = int(query.get("start", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
            if not 1 <= limit <= 500:
                return 422, b'{"detail": "limit"}', "application/json"
            body = {
                "start": start,
                "total": len(self.entries),
                "entries": self.entries[start : start + limit],
            }
        elif len(parts) == 3 and parts[:2] == ["v1", "ledger"] and parts[2].isdigit():
            i = int(parts[2])
            if i >= len(self.entries):
                return 404, b'{"detail": "no such entry"}', "application/json"
            body = self.entries[i]
        elif len(parts) == 3 and parts[:2] == ["v1", "vkeys"] and parts[2] in self.vkeys:
            body = self.vkeys[parts[2]]
        else:
            return 404, b'{"detail": "Not Found"}', "application/json"
        return 200, json.dumps(body).encode(), "application/json"


@pytest.fixture(scope="module")
def served(slots_ledger: SlotsLedger) -> Iterator[tuple[str, _Api, Path]]:
    export = slots_ledger.export
    api = _Api(export)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, content_type = api.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", api, export
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _report_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    rc = cli_main(args)
    out = json.loads(capsys.readouterr().out)
    out.pop("source")
    out.pop("seconds")
    return rc, out


def test_url_replay_equals_directory_replay(
    served: tuple[str, _Api, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, api, export = served
    api.mode = "ok"
    rc_dir, from_dir = _report_json(["--json", "--quiet", str(export)], capsys)
    rc_url, from_url = _report_json(["ledger", "--json", "--quiet", url + "/v1/"], capsys)
    assert rc_dir == rc_url == 0
    assert from_url == from_dir
    assert from_url["entries"] == len(api.entries) and from_url["ok"] is True
    # One info, one page (the ledger is shorter than a page) and the keys.
    assert sum(r.startswith("/v1/ledger?") for r in api.requests) == 1


def test_small_pages_and_a_stale_count(served: tuple[str, _Api, Path]) -> None:
    url, api, export = served
    api.mode = "ok"
    src = HttpSource(url, page_size=3)
    directory = DirectorySource(export)
    for i in range(1, len(api.entries)):
        assert src.entry(i) == directory.entry(i)
    assert src.genesis() == directory.genesis()
    assert src.entry(len(api.entries)) is None
    report = replay_source(src)
    assert report.ok, report.first_failure
    # The ledger grows after the source was opened: the replay checks the prefix it counted.
    grown = HttpSource(url)
    grown.manifest()
    api.entries.append({"index": len(api.entries), "kind": "order"})
    try:
        assert grown.entry(len(api.entries) - 1) is None
        assert HttpSource(url).entry(len(api.entries) - 1) == api.entries[-1]
    finally:
        api.entries.pop()


@pytest.mark.parametrize("failure", ["refused", "500", "html", "not-darkpool"])
def test_unreadable_url_exits_2_with_one_line(
    served: tuple[str, _Api, Path], capsys: pytest.CaptureFixture[str], failure: str
) -> None:
    url, api, _ = served
    expected = {
        "refused": "cannot reach",
        "500": "answered HTTP 500",
        "html": "did not answer JSON",
        "not-darkpool": "answered HTTP 404",
    }[failure]
    if failure == "refused":
        url = f"http://127.0.0.1:{free_port()}"
    elif failure == "not-darkpool":
        url = url + "/elsewhere"
    else:
        api.mode = failure
    capsys.readouterr()
    try:
        rc = cli_main([url])
    finally:
        api.mode = "ok"
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and expected in captured.err, captured.err
    assert captured.err.startswith("darkpool-verify: ledger info: ")


def test_url_spellings() -> None:
    assert isinstance(open_source("HTTP://127.0.0.1:1/v1"), HttpSource)
    assert HttpSource("http://127.0.0.1:1/v1/").description == "http://127.0.0.1:1"
    assert HttpSource("https://example.invalid/api").description == "https://example.invalid/api"
    with pytest.raises(InputError, match="no query"):
        HttpSource("http://127.0.0.1:1/?x=1")


def test_inclusion_reads_the_url_too(
    served: tuple[str, _Api, Path],
    slots_ledger: SlotsLedger,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from prover.account_book import slots_opening

    url, api, _ = served
    api.mode = "ok"
    opening = tmp_path / "opening.json"
    opening.write_text(json.dumps(slots_opening(slots_ledger.operator.book, 2)))  # bob
    capsys.readouterr()
    rc = cli_main(["inclusion", "--quiet", "--ledger", url, "--opening", str(opening)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.splitlines()[-1] == "RESULT: INCLUDED"
