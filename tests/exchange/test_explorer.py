"""The web explorer and the self-check page, against a live server with real proofs.

One module-scoped world on the recycling-order ("slots") state: ``darkpool serve``'s app under
uvicorn on a loopback port, two traders, two proven batches on two markets, a solvency proof and a
stress test. Plain-HTTP tests check the server-rendered pages (paging, empty
states, 400/404 pages, no private data). Browser tests drive Debian's
``chromium`` through Playwright (never Playwright's own browser download):
the explorer lists the batches with JavaScript disabled, a tampered ledger
shows a failed verification naming the entry, and the self-check accepts a
real opening (from a file, and fetched with a request signed in the browser)
and rejects one with a changed balance or funding checkpoint (the quaternary
opening of the slots state).
Screenshots go to ``test-artifacts/explorer/`` (gitignored).

Without ``/usr/bin/chromium`` the browser tests skip with the reason, except
in CI (``CI=true``), where they fail: ``.ci/run`` installs the package.
"""

import dataclasses
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from client.sdk import DarkpoolClient
from exchange.api.explorer import views
from exchange.api.explorer.verification import VerificationRunner
from exchange.api.main import create_app
from exchange.core.config import Settings
from exchange.service import Service
from tests.live_server import serve_app
from verifier.eddsa import PrivateKey, public_key_to_dict
from verifier.encoding import BUY, SELL
from verifier.ledger import entry_hash, entry_tag, sign_entry

pytestmark = pytest.mark.slow
TOKEN = "explorer-test-operator-token-0123"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "explorer"
CHROMIUM = Path(os.environ.get("DARKPOOL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclasses.dataclass
class World:
    url: str
    service: Service
    app: Any
    client: DarkpoolClient
    alice: PrivateKey
    bob: PrivateKey
    a: int
    b: int
    batch_entries: list[int]


def _wait_job(c: DarkpoolClient, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.time() + 180
    while job["status"] not in ("done", "failed") and time.time() < deadline:
        time.sleep(0.3)
        job = c.solvency_job(job["id"])
    assert job["status"] == "done", job
    return job


@contextmanager
def _opened_world(data: Path, seeds: tuple[bytes, bytes]) -> Iterator[World]:
    """A service under uvicorn with two accounts opened (1,000,000 each)."""
    settings = Settings(data_dir=data, batch_interval_s=0, operator_token=TOKEN, oracle_step_bps=0)
    service = Service(settings)
    app = create_app(settings, service=service)
    # the lifespan builds the circuits when the cache is cold
    with serve_app(app, ready="started", limit_s=1800) as url:
        client = DarkpoolClient(url)
        try:
            assert client.info()["state"] == "slots"
            alice, bob = PrivateKey(seeds[0]), PrivateKey(seeds[1])
            a = client.open_account(alice, 1_000_000)
            b = client.open_account(bob, 1_000_000)
            yield World(url, service, app, client, alice, bob, a, b, [])
        finally:
            client.close()


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Set up before the browser fixture, so that it stops after the module's browser:
    # Service.stop kills this process's children, which would include a running chromium.
    data = tmp_path_factory.mktemp("darkpool-explorer")
    with _opened_world(data, (b"\x11" * 32, b"\x12" * 32)) as world:
        client, alice, bob, a, b = world.client, world.alice, world.bob, world.a, world.b
        expiry = int(time.time()) + 3600
        client.submit_order(alice, a, 0, BUY, 3, 61_000, expiry)
        client.submit_order(bob, b, 0, SELL, 2, 59_000, expiry)
        world.batch_entries.append(client.admin_batch(TOKEN)["entry_index"])
        client.submit_order(alice, a, 1, SELL, 4, 2_900, expiry)
        client.submit_order(bob, b, 1, BUY, 4, 3_100, expiry)
        world.batch_entries.append(client.admin_batch(TOKEN)["entry_index"])
        _wait_job(client, client.start_solvency(TOKEN))
        _wait_job(client, client.start_solvency(TOKEN, shock_bps=2_000))
        yield world


def get(w: World, path: str) -> httpx.Response:
    return httpx.get(w.url + path, timeout=30)


# ---------------------------------------------------------------- server-rendered pages


def test_pages_render_public_data_without_javascript(w: World) -> None:
    overview = get(w, "/explorer")
    assert overview.status_code == 200 and "text/html" in overview.headers["content-type"]
    assert "<script" not in overview.text  # every page but the self-check is JS-free
    csp = overview.headers["content-security-policy"]
    assert "connect-src 'self'" in csp and "default-src 'none'" in csp
    latest = w.client.roots()["roots"]["account"]
    assert latest in overview.text
    ledger = get(w, "/explorer/ledger?kind=batch").text
    rows = re.findall(r'<tr class="entry kind-batch" data-index="(\d+)"', ledger)
    assert sorted(int(i) for i in rows) == sorted(w.batch_entries)
    entry = get(w, f"/explorer/ledger/{w.batch_entries[0]}").text
    assert "<code>order_ops</code>" in entry and "<code>settle_fills</code>" in entry
    assert "proven" in entry
    assert "BTC-PERP: 2" in entry  # volume of the first batch, market 0, in lots
    second = w.service.op.ledger.entries[w.batch_entries[1]]
    mark = views.oracle_marks(second.body["oracle"])[1]
    assert f"ETH-PERP: {mark:,}" in get(w, f"/explorer/ledger/{w.batch_entries[1]}").text
    solvency = get(w, "/explorer/solvency").text
    assert len(re.findall(r'class="solvency-row"', solvency)) == 2
    assert "stress (shocked marks)" in solvency and "current marks" in solvency
    charts = get(w, "/explorer/charts").text
    assert charts.count("<svg") == 4  # two mark charts, volume, solvency margin
    assert "<script" not in charts
    risk = get(w, "/explorer/risk").text
    assert "No liquidations entries on the ledger." in risk


def test_no_private_data_is_rendered(w: World) -> None:
    account = w.client.account(w.alice, w.a)
    secrets_ = {account["blinding"], account["leaf"]}
    pages = ["/explorer", "/explorer/ledger?limit=200", "/explorer/solvency", "/explorer/charts"]
    pages += [f"/explorer/ledger/{i}" for i in range(len(w.service.op.ledger))]
    for page in pages:
        text = get(w, page).text
        for s in secrets_:
            assert s not in text, page


def test_paging_and_bad_queries(w: World) -> None:
    total = len(w.service.op.ledger)
    first = get(w, "/explorer/ledger?limit=3").text
    shown = [int(i) for i in re.findall(r'data-index="(\d+)"', first)]
    assert shown == [total - 1, total - 2, total - 3]  # newest first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    last = get(w, f"/explorer/ledger?limit=3&offset={(total - 1) // 3 * 3}").text
    assert re.findall(r'data-index="(\d+)"', last)[-1] == "0"
    assert 'rel="next"' not in last
    for path, status in (
        ("/explorer/ledger?limit=abc", 400),
        ("/explorer/ledger?limit=0", 400),
        ("/explorer/ledger?offset=99999", 404),
        ("/explorer/ledger/99999", 404),
        ("/explorer/ledger/-1", 404),
        ("/explorer/ledger/x", 400),
        ("/explorer/charts?last=1", 400),
    ):
        r = get(w, path)
        assert r.status_code == status, path
        assert 'id="error"' in r.text and "Traceback" not in r.text
    unknown_kind = get(w, "/explorer/ledger?kind=nope").text
    assert "No entries of kind" in unknown_kind
    api = get(w, "/explorer/api/account-root?account=x&root=1")
    assert api.status_code == 400


def test_empty_exchange_shows_empty_states(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, batch_interval_s=0, operator_token=TOKEN)
    with TestClient(create_app(settings)) as http:
        for path, marker in (
            ("/explorer", 'id="no-batches"'),
            ("/explorer/solvency", 'id="no-solvency"'),
            ("/explorer/charts", 'id="no-batches"'),
            ("/explorer/verify", 'id="no-run"'),
        ):
            r = http.get(path)
            assert r.status_code == 200 and marker in r.text, path


def test_unknown_entry_kinds_are_shown_with_kind_and_roots(w: World) -> None:

    genesis = w.service.op.ledger.entries[0]
    fake = dataclasses.replace(
        genesis, index=99, kind="rebate", body={"account": 3, "proofs": [{"proof": {}}]}
    )
    row = views.entry_row(fake)
    assert (row.known, row.kind, row.proof.state) == (False, "rebate", "proven")
    assert ("account", "3") in row.details
    assert row.roots_after["account"] == str(genesis.roots_after.account)
    assert views.risk_entries([fake], "rebat")[0].index == 99


def test_slots_pages_without_javascript(w: World) -> None:
    overview = get(w, "/explorer").text
    assert re.search(r'id="ledger-state">slots', overview)
    assert 'id="slots-roots"' in overview and "<th>fill root</th>" not in overview
    opens = [e.index for e in w.service.op.ledger.entries if e.kind == "account_op"]
    entry = get(w, f"/explorer/ledger/{opens[-1]}").text  # the world's account ops are opens
    assert "<code>account_update</code>" in entry and "open account" in entry
    check = get(w, "/explorer/self-check").text
    levels = w.service.op.params.account_depth // 2
    assert 'data-state="slots"' in check and f'data-depth="{levels}"' in check


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_browser_explorer_lists_batches_without_javascript(w: World, browser: Any) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(w.url + "/explorer")
    assert page.locator("#entry-count").inner_text() == str(len(w.service.op.ledger))
    page.click("text=All batches")
    rows = page.locator("tr.kind-batch")
    assert rows.count() == len(w.batch_entries)
    page.screenshot(path=str(ARTIFACTS / "ledger-batches.png"), full_page=True)
    page.goto(w.url + "/explorer/charts")
    assert page.locator("svg.chart").count() == 4
    page.screenshot(path=str(ARTIFACTS / "charts.png"), full_page=True)
    page.goto(w.url + "/explorer/solvency")
    assert page.locator("tr.solvency-row").count() == 2
    page.screenshot(path=str(ARTIFACTS / "solvency.png"), full_page=True)
    ctx.close()


def _verify_in_browser(w: World, browser: Any, shot: str) -> str:
    ctx = browser.new_context(java_script_enabled=False)  # form POST + meta refresh only
    page = ctx.new_page()
    page.goto(w.url + "/explorer/verify")
    assert "not a reason to trust" in page.locator("#trust-note").inner_text()
    page.click("#run-verify")
    # The page refreshes itself (meta refresh, no JS) until the run has a result.
    done = page.locator(
        "#verify-status .badge.valid, #verify-status .badge.invalid, #verify-status .badge.error"
    )
    done.wait_for(timeout=180_000)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    text = page.locator("main").inner_text()
    ctx.close()
    return text


def _resign(export: Path, service: Service) -> None:
    """Re-link and re-sign the export with the operator's own key, as a cheating operator would,
    so the verifier has to find the lie in the content, not in a broken signature."""
    tag = entry_tag(service.op.exchange_id)
    key = service.keys.ledger
    genesis = sign_entry(key, tag, json.loads((export / "genesis.json").read_text()))
    (export / "genesis.json").write_text(json.dumps(genesis))
    last = entry_hash(genesis)
    for path in sorted((export / "entries").glob("*.json")):
        obj = sign_entry(key, tag, {**json.loads(path.read_text()), "prev_hash": last})
        path.write_text(json.dumps(obj))
        last = entry_hash(obj)


def test_browser_verification_valid_then_tampered(w: World, browser: Any) -> None:
    length = lambda: len(w.service.op.ledger)  # noqa: E731
    w.app.state.explorer_verifier = VerificationRunner(w.service.op.export, length, cooldown_s=0)
    text = _verify_in_browser(w, browser, "verify-valid.png")
    assert "VALID" in text and "INVALID" not in text

    # A cheating operator publishes (and signs) a batch whose volume is not what its proofs say.
    target = w.batch_entries[0]

    def tampered_export(directory: Path) -> None:
        w.service.op.export(directory)
        path = directory / "entries" / f"{target:06d}.json"
        entry = json.loads(path.read_text())
        entry["volume"][0] = str(int(entry["volume"][0]) + 1)
        path.write_text(json.dumps(entry))
        _resign(directory, w.service)

    w.app.state.explorer_verifier = VerificationRunner(tampered_export, length, cooldown_s=0)
    text = _verify_in_browser(w, browser, "verify-tampered.png")
    assert "INVALID" in text
    first = re.search(r"First failure: entry #(\d+): (.*)", text)
    assert first is not None, text
    assert int(first.group(1)) == target
    assert "volume" in first.group(2)


def _opening_file(w: World, tmp_path: Path, name: str, change: dict[str, Any] | None) -> Path:
    inclusion = w.client.inclusion(w.alice, w.a)
    if change:
        inclusion = dict(inclusion, opening=dict(inclusion["opening"], **change))
    path = tmp_path / name
    path.write_text(json.dumps(inclusion))
    return path


def _key_file(w: World, tmp_path: Path) -> Path:
    """Alice's key file as ``darkpool trader keygen`` writes it."""
    key = tmp_path / "alice.key"
    seed = w.alice.to_bytes().hex()
    pubkey = public_key_to_dict(w.alice.public_key())
    key.write_text(json.dumps({"kind": "darkpool-eddsa-key", "seed": seed, "pubkey": pubkey}))
    return key


def _self_check(page: Any, button: str) -> tuple[str, str]:
    page.click(button)
    page.wait_for_function(
        "() => ['accepted', 'rejected'].includes(document.getElementById('verdict').dataset.result)",
        timeout=60_000,
    )
    verdict = page.locator("#verdict")
    return verdict.get_attribute("data-result") or "", verdict.inner_text()


def test_browser_self_check_accepts_real_opening_rejects_changed_balance(
    w: World, browser: Any, tmp_path: Path
) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url + " " + (r.post_data or "")))
    page.goto(w.url + "/explorer/self-check")
    page.wait_for_function("() => document.getElementById('selfcheck').dataset.ready === '1'")

    page.set_input_files("#opening-file", str(_opening_file(w, tmp_path, "real.json", None)))
    result, text = _self_check(page, "#check-opening")
    assert result == "accepted", text
    assert page.locator("li.check-ok").count() == 4  # leaf, path, published, key
    page.screenshot(path=str(ARTIFACTS / "self-check-accepted.png"), full_page=True)

    balance = int(w.client.account(w.alice, w.a)["balance"])
    changed = _opening_file(w, tmp_path, "changed.json", {"balance": str(balance + 1)})
    page.set_input_files("#opening-file", str(changed))
    result, text = _self_check(page, "#check-opening")
    assert result == "rejected" and "leaf" in text, text
    page.screenshot(path=str(ARTIFACTS / "self-check-rejected.png"), full_page=True)

    # The same leaf with a forged stated leaf still fails: the path no longer reaches the root.
    forged = json.loads(changed.read_text())
    forged.pop("leaf")
    changed.write_text(json.dumps(forged))
    page.set_input_files("#opening-file", str(changed))
    result, text = _self_check(page, "#check-opening")
    assert result == "rejected" and "path" in text, text

    # With the key file: the page signs GET /v1/accounts/{i}/inclusion itself.
    page.set_input_files("#key-file", str(_key_file(w, tmp_path)))
    page.fill("#account", str(w.a))
    result, text = _self_check(page, "#check-key")
    assert result == "accepted", text
    assert page.locator('li.check-ok[data-check="my key"]').count() == 1
    page.fill("#account", str(w.b))  # bob's account: the exchange refuses alice's signature
    result, text = _self_check(page, "#check-key")
    assert result == "rejected" and "refused" in text, text

    # Nothing private left the page: no request carried the seed, the blinding or the balance.
    blinding = w.client.account(w.alice, w.a)["blinding"]
    for line in sent:
        assert w.alice.to_bytes().hex() not in line and blinding not in line
        assert "balance" not in line
    ctx.close()


def test_browser_self_check_of_the_quaternary_opening(
    w: World, browser: Any, tmp_path: Path
) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(w.url + "/explorer/self-check")
    page.wait_for_function("() => document.getElementById('selfcheck').dataset.ready === '1'")
    assert "quaternary" in page.locator("#tree-shape").inner_text()
    page.set_input_files("#key-file", str(_key_file(w, tmp_path)))
    page.fill("#account", str(w.a))
    result, text = _self_check(page, "#check-key")  # signed fetch of the slots opening
    assert result == "accepted", text
    assert page.locator("li.check-ok").count() == 5  # leaf, path, published, key, my key
    assert "funding checkpoints" in page.locator("#mine").inner_text()
    page.screenshot(path=str(ARTIFACTS / "slots-self-check-accepted.png"), full_page=True)

    inclusion = w.client.inclusion(w.alice, w.a)
    assert len(inclusion["siblings"][0]) == 3  # a quaternary path step
    checkpoints = [str(int(c) + 1) for c in inclusion["opening"]["checkpoints"]]
    changed = dict(inclusion, opening=dict(inclusion["opening"], checkpoints=checkpoints))
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed))
    page.set_input_files("#opening-file", str(path))
    result, text = _self_check(page, "#check-opening")
    assert result == "rejected" and "leaf" in text, text
    changed.pop("leaf")
    path.write_text(json.dumps(changed))
    page.set_input_files("#opening-file", str(path))
    result, text = _self_check(page, "#check-opening")
    assert result == "rejected" and "path" in text, text
    ctx.close()


def test_artifacts_dir_is_ignored() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().split()
    assert "test-artifacts/" in ignored
