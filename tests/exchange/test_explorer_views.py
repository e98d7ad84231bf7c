"""The explorer's pure parts: entry rows, proof status, solvency rows, SVG charts, bundle key.

Fast (no proofs, no browser); the pages themselves are tested against a live
server in ``test_explorer.py``.
"""

import re
from pathlib import Path
from types import SimpleNamespace

from exchange.api.explorer import charts, views
from exchange.errors import Unavailable
from prover import jsbundle
from verifier.export import LedgerEntry, Roots

R0, R1 = Roots(1, 2, 3), Roots(4, 2, 3)


def entry(kind: str, body: dict[str, object], index: int = 5) -> LedgerEntry:
    return LedgerEntry(index, kind, R0, R1, body)


def test_batch_row_has_marks_volume_proofs_and_changed_roots() -> None:
    body = {
        "batch_id": 7,
        "oracle": {"batch_id": 7, "prices": ["60000", "3000"]},
        "volume": ["2", "0"],
        "proofs": [{"proof": {}, "public_signals": []}, {"proof": {}, "public_signals": []}],
    }
    row = views.entry_row(entry("batch", body))
    assert (row.batch_id, row.marks, row.volume) == (7, [60000, 3000], [2, 0])
    assert (row.proof.state, row.proof.statement, row.proof.count) == (
        "proven",
        "order_ops/settle_fills",  # the proofs here do not name theirs
        2,
    )
    assert row.changed == ["account"]
    assert row.details == []  # known kinds get their own columns


def test_proof_status_pending_and_none() -> None:
    assert views.proof_status("batch", {"proofs": []}).state == "pending"
    assert views.proof_status("account_op", {}).state == "pending"
    assert views.proof_status("order", {"commitment": "5"}).state == "none"
    assert views.proof_status("genesis", {}).state == "none"
    new_kind = views.proof_status("rebate", {"proof": {}, "statement": "rebate_update"})
    assert (new_kind.state, new_kind.statement) == ("proven", "rebate_update")
    assert views.proof_status("funding", {"indices": ["1"]}).state == "none"


def test_unknown_kind_shows_short_public_fields_only() -> None:
    body = {
        "account": 3,
        "market": 0,
        "note": "x" * 500,
        "proof": {"pi_a": ["1"]},
        "public_signals": ["9"] * 40,
        "nested": {"a": 1},
    }
    row = views.entry_row(entry("rebate", body))
    assert not row.known and row.summary == "rebate entry"
    keys = [k for k, _ in row.details]
    assert keys == ["account", "market", "note"]
    assert len(dict(row.details)["note"]) < 100
    assert views.risk_entries([entry("rebate", body)], "rebat")[0].kind == "rebate"
    assert views.risk_entries([entry("batch", {})], "rebat") == []


# Bodies as the slots ledger writes them (verifier/ledger/slots.py, verifier/ledger/risk.py).
ORACLE = {"kind": "mark", "seq": 2, "timestamp": 1010, "marks": ["94", "50"], "index": ["90", "52"]}
ZERO = Roots(7, 0, 0)


def slots_entry(kind: str, body: dict[str, object], after: Roots = ZERO) -> LedgerEntry:
    return LedgerEntry(8, kind, ZERO, after, body)


def test_slots_risk_entries_have_summaries_statements_and_public_fields() -> None:
    chunk = {"proof": {}, "public_signals": ["1"]}
    sweep = views.entry_row(
        slots_entry("sweep", {"oracle": ORACLE, "chunks": [chunk, chunk], "flagged": [1, 3]}),
    )
    assert sweep.known and sweep.summary == "health sweep: 2 account(s) below maintenance margin"
    assert (sweep.proof.state, sweep.proof.statement, sweep.proof.count) == (
        "proven",
        "health_sweep",
        2,
    )
    assert ("flagged", "[1, 3]") in sweep.details and sweep.marks == [94, 50]
    liquidation = views.entry_row(
        slots_entry(
            "liquidation", {"account": 1, "oracle": ORACLE, "steps": [chunk]}, Roots(9, 0, 0)
        ),
    )
    assert liquidation.summary == "liquidation of account 1 (1 step(s))"
    assert (liquidation.proof.state, liquidation.proof.statement) == ("proven", "liquidate")
    assert liquidation.changed == ["account"] and ("account", "1") in liquidation.details
    adl = views.entry_row(
        slots_entry(
            "deleverage",
            {"account": 4, "oracle": ORACLE, "shortfall": "1500", "trades": [chunk, chunk]},
        ),
    )
    assert adl.summary == "auto-deleveraging of account 4: 2 trade(s), shortfall 1,500"
    assert (adl.proof.state, adl.proof.statement, adl.proof.count) == ("proven", "deleverage", 2)
    assert ("shortfall", "1500") in adl.details
    funding = views.entry_row(slots_entry("funding", {"oracle": ORACLE, "indices": ["2", "-1"]}))
    assert funding.proof.state == "none" and ("indices", "[2, -1]") in funding.details
    cancel = views.entry_row(slots_entry("cancel", {"commitment": "1" * 70}))
    assert cancel.known and cancel.summary.startswith("cancel of the order with commitment 1111")
    assert [k for k, _ in cancel.details] == ["commitment"]


def test_slots_roots_show_only_the_account_root_unless_another_is_not_zero() -> None:
    row = views.entry_row(slots_entry("account_op", {"op": "deposit"}, Roots(9, 0, 0)))
    assert row.roots_before == {"account": "7"} and row.roots_after == {"account": "9"}
    assert row.changed == ["account"]
    assert row.proof.statement == "account_update"
    cheat = views.entry_row(slots_entry("batch", {}, Roots(9, 0, 5)))
    assert cheat.roots_after == {"account": "9", "order": "5"}  # a non-zero one stays visible
    assert cheat.roots_before == {"account": "7", "order": "0"}
    assert cheat.changed == ["account", "order"]


def test_slots_batch_proof_breakdown_and_parts() -> None:
    def proof(statement: str, **extra: object) -> dict[str, object]:
        return {"proof": {}, "public_signals": [], "statement": statement, **extra}

    body = {
        "batch_id": 3,
        "oracle": ORACLE,
        "volume": ["5", "0"],
        "proofs": [
            proof("order_ops", cancels=["0", "0"], places=["11", "12"]),
            proof("order_ops", cancels=["13", "0"], places=["0", "0"]),
            proof("settle_fills", volume=["5", "0"], roots_after={"account": "77"}),
        ],
    }
    row = views.entry_row(slots_entry("batch", body))
    assert row.proof.parts == (("order_ops", 2), ("settle_fills", 1))
    assert row.proof.count == 3 and row.volume == [5, 0]
    assert row.summary == "batch 3: 2 placed, 1 cancelled, 1 fill group"
    parts = views.batch_parts(body)
    assert [(p.statement, p.places, p.cancels, p.volume) for p in parts] == [
        ("order_ops", 2, 0, []),
        ("order_ops", 0, 1, []),
        ("settle_fills", None, None, [5, 0]),
    ]
    assert parts[2].account_root_after == "77"
    # before order_ops carried "places"
    without_places = dict(
        body, proofs=[{k: v for k, v in p.items() if k != "places"} for p in body["proofs"]]
    )
    assert views.entry_row(slots_entry("batch", without_places)).summary == (
        "batch 3: 1 cancelled, 1 fill group"
    )
    assert views.proof_status("batch", {"proofs": []}).statement == "order_ops/settle_fills"
    unnamed = views.batch_parts({"proofs": [{"proof": {}}]})[0]
    assert unnamed.statement == "order_ops/settle_fills"


def test_find_order_of_a_cancel_scans_back_from_the_cancel() -> None:
    orders = [
        LedgerEntry(i, "order", ZERO, ZERO, {"commitment": str(100 + i % 3)}) for i in range(1, 7)
    ]
    entries = [entry("genesis", {}, 0), *orders]
    positions = [e.index for e in orders]
    assert views.find_order(entries, positions, "101", 7) == 4  # the latest before the cancel
    assert views.find_order(entries, positions, "101", 4) == 1
    assert views.find_order(entries, positions, "999", 7) is None
    assert views.find_order(entries, positions, "x", 7) is None


def test_solvency_rows_margin_is_fund_minus_deficit() -> None:
    body = {
        "stress": True,
        "total_collateral": "3000000",
        "oracle": {"batch_id": 4, "prices": ["48000", "2400"]},
        "chunks": [{"proof": {}}],
        "result": {"deficit": "250", "fund": "1000", "solvent": True, "reasons": []},
    }
    (row,) = views.solvency_rows([entry("solvency", body), entry("batch", {})])
    assert (row.stress, row.solvent, row.deficit, row.fund, row.margin) == (
        True,
        True,
        250,
        1000,
        750,
    )
    assert (row.marks, row.oracle_batch, row.chunks) == ([48000, 2400], 4, 1)


def test_stress_row_in_the_shock_vector_format_derives_its_marks() -> None:
    body = {
        "stress": {"shock_bps": [-2000, 1500]},
        "oracle": {"kind": "mark", "seq": 9, "marks": ["60000", "3000"], "index": ["1", "1"]},
        "result": {"deficit": "0", "fund": "10", "solvent": True},
    }
    (row,) = views.solvency_rows([entry("solvency", body)])
    assert (row.stress, row.shock_bps, row.oracle_batch) == (True, [-2000, 1500], 9)
    assert row.marks == [48_000, 3_450]  # verifier.oracle.stressed_prices
    (plain,) = views.solvency_rows([entry("solvency", dict(body, stress=None))])
    assert (plain.stress, plain.marks) == (False, [60_000, 3_000])
    batch = views.entry_row(entry("batch", {"batch_id": 2, "oracle": body["oracle"]}))
    assert batch.marks == [60_000, 3_000]


def test_account_roots_and_published_key() -> None:
    opened = entry("account_op", {"op": "open", "account": 2, "pubkey": {"x": "7", "y": "8"}}, 3)
    later = LedgerEntry(4, "batch", R1, Roots(9, 9, 9), {})
    assert views.account_roots([opened, later]) == {4: 3, 9: 4}
    assert views.opened_pubkey([opened, later], 2) == {"x": "7", "y": "8"}
    assert views.opened_pubkey([opened], 5) is None


def test_fmt_int_and_short() -> None:
    assert views.fmt_int("1234567") == "1,234,567"
    assert views.fmt_int(-5) == "-5"
    assert views.fmt_int("abc") == "abc"
    long = "1" * 70
    assert views.short(long, 6) == "111111…111111" and views.short("123") == "123"


def test_line_chart_scales_to_the_frame() -> None:
    svg = str(charts.line_chart("marks", [1, 2, 3], [charts.Series("BTC", [100, 300, 200])]))
    assert svg.startswith("<svg") and "<title>marks</title>" in svg
    points = re.search(r'points="([^"]+)"', svg)
    assert points is not None
    ys = [int(p.split(",")[1]) for p in points.group(1).split()]
    top, bottom = charts.PAD_T, charts.HEIGHT - charts.PAD_B
    assert ys == [bottom, top, (top + bottom) // 2]  # min at the bottom, max at the top
    assert svg.count("<circle") == 3


def test_charts_escape_labels_and_handle_empty_and_flat_series() -> None:
    assert str(charts.line_chart("t", [], [])) == ""
    assert str(charts.bar_chart("t", [1], [charts.Series("x", [None])])) == ""
    flat = str(charts.line_chart("t", [1, 2], [charts.Series("<b>", [5, 5])]))
    assert "&lt;b&gt;" in flat and "<b>" not in flat
    bars = str(
        charts.bar_chart("v", [1, 2], [charts.Series("A", [0, 4]), charts.Series("B", [2, 0])])
    )
    assert bars.count("<rect") == 2 + 2  # two non-zero bars + two legend swatches
    margin = str(charts.line_chart("m", [1, 2], [charts.Series("m", [-5, 10])], zero_line=True))
    assert 'stroke-dasharray="4 3"' in margin


def test_bundle_key_follows_sources(tmp_path: Path) -> None:
    entry_file = tmp_path / "entry.js"
    entry_file.write_text("console.log(1)")
    first = jsbundle._key([entry_file])
    assert first == jsbundle._key([entry_file])
    entry_file.write_text("console.log(2)")
    assert jsbundle._key([entry_file]) != first


class _StubService:
    """Just what the explorer reads: an append-only entry tuple, ids, depth, solvency jobs."""

    def __init__(self, entries: list[LedgerEntry]) -> None:
        self.op = SimpleNamespace(
            ledger=SimpleNamespace(entries=tuple(entries)),
            exchange_id="darkpool-dev",
            params=SimpleNamespace(account_depth=4),
        )
        self.store = SimpleNamespace(unfinished_jobs=lambda: [])

        self.ready = True

    def require_ready(self) -> None:
        if not self.ready:
            raise Unavailable("the exchange is setting up (1/3 circuits built)")


def _large_ledger(n: int) -> list[LedgerEntry]:
    markets = [{"id": 0, "symbol": "BTC-PERP"}, {"id": 1, "symbol": "ETH-PERP"}]
    out = [LedgerEntry(0, "genesis", Roots(0, 0, 0), Roots(0, 0, 0), {"markets": markets})]
    for i in range(1, n):
        prev = out[-1].roots_after
        if i % 10 == 0:
            body: dict[str, object] = {
                "batch_id": i // 10,
                "oracle": {"prices": [str(60_000 + i), "3000"]},
                "volume": [str(i % 7), "1"],
                "proofs": [{"proof": {}}],
            }
            out.append(LedgerEntry(i, "batch", prev, Roots(i, i, prev.order), body))
        else:
            out.append(LedgerEntry(i, "order", prev, Roots(prev.account, prev.fill, i), {}))
    return out


def test_large_ledger_pages_stay_small_and_correct() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from exchange.api.explorer import router

    n = 20_000
    app = FastAPI()
    app.include_router(router)
    app.state.service = _StubService(_large_ledger(n))
    with TestClient(app) as http:
        page = http.get("/explorer/ledger?limit=25&offset=50")
        assert page.status_code == 200
        shown = [int(i) for i in re.findall(r'data-index="(\d+)"', page.text)]
        assert shown == list(range(n - 51, n - 76, -1))
        assert len(page.text) < 200_000  # a page, not the ledger
        batches = http.get("/explorer/ledger?kind=batch&limit=3").text
        assert re.findall(r'data-index="(\d+)"', batches) == ["19990", "19980", "19970"]
        assert "Showing entries 1–3 of 1999" in batches
        oldest = http.get("/explorer/ledger?kind=batch&limit=3&offset=1998").text
        assert re.findall(r'data-index="(\d+)"', oldest) == ["10"]
        charts_page = http.get("/explorer/charts?last=50").text
        assert "50 of 1999 batches" in charts_page and charts_page.count("<svg") == 3
        overview = http.get("/explorer").text
        assert "order</a>: 18000" in overview and "batch</a>: 1999" in overview
        root = http.get("/explorer/api/account-root?account=3&root=19990").json()
        assert (root["root_published"], root["entry"], root["is_latest"]) == (True, 19990, True)
        assert root["pubkey"] is None  # the ledger never opened account 3


def test_slots_risk_and_cancel_pages_render_from_slots_bodies() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from exchange.api.explorer import router

    chunk = {"proof": {}, "public_signals": ["1"]}
    genesis = LedgerEntry(0, "genesis", ZERO, ZERO, {"state": "slots", "markets": []})
    bodies: list[tuple[str, dict[str, object]]] = [
        ("order", {"order_index": 0, "commitment": "55"}),
        ("cancel", {"commitment": "55"}),
        ("funding", {"oracle": ORACLE, "indices": ["2", "-1"]}),
        ("sweep", {"oracle": ORACLE, "chunks": [chunk], "flagged": [1]}),
        ("liquidation", {"account": 1, "oracle": ORACLE, "steps": [chunk, chunk]}),
        ("deleverage", {"account": 2, "oracle": ORACLE, "shortfall": "9", "trades": [chunk]}),
    ]
    entries = [genesis] + [LedgerEntry(i, k, ZERO, ZERO, b) for i, (k, b) in enumerate(bodies, 1)]
    app = FastAPI()
    app.include_router(router)
    app.state.service = _StubService(entries)
    with TestClient(app) as http:
        risk = http.get("/explorer/risk").text
        for i, (kind, _) in enumerate(bodies[2:], 3):
            assert f'<tr class="entry kind-{kind}" data-index="{i}"' in risk, kind
        assert "<code>health_sweep</code>" in risk
        assert "<code>liquidate</code> ×2" in risk and "new kind" not in risk
        assert "<code>deleverage</code>" in risk and "shortfall 9" in risk
        assert "1 account(s) below maintenance margin" in risk and "indices: [2, -1]" in risk
        cancel = http.get("/explorer/ledger/2").text
        assert '<a href="/explorer/ledger/1">entry #1</a>' in cancel
        assert 'id="slots-roots"' in cancel and "<th>fill</th>" not in cancel
        check = http.get("/explorer/self-check").text
        assert (
            'data-state="slots"' in check and 'data-depth="2"' in check
        )  # 4 binary = 2 quaternary


def test_pages_while_the_exchange_sets_up_are_html_503_that_refresh() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from exchange.api.explorer import router

    app = FastAPI()
    app.include_router(router)
    stub = _StubService(_large_ledger(3))
    stub.ready = False
    app.state.service = stub
    with TestClient(app) as http:
        r = http.get("/explorer/ledger")
        assert r.status_code == 503 and "text/html" in r.headers["content-type"]
        assert "setting up (1/3 circuits built)" in r.text
        assert '<meta http-equiv="refresh" content="5">' in r.text
        stub.ready = True
        assert http.get("/explorer/ledger").status_code == 200
