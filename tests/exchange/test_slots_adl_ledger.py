"""Cheating-ledger tests for auto-deleveraging (ADL) on the recycling-order ("slots") ledger.

ONE honest slots ledger is built by ``exchange.operator.slots.SlotsOperator``
with real Groth16 proofs (account_update, order_ops, settle_fills,
deleverage, adl_walk); no sweep or funding (those have their own ledger,
tests/verifier/test_risk_ledger.py):

    0 genesis (state slots; risk rules, sweeps not required)
    1-6 open (fund 10, alice 100, bob 1000, carol 100000, dave 100000, erin 1000)
    7-11 orders
    12 batch at marks (100, 50): alice long 10 BTC, bob short 4, carol short 6;
       dave short 4 to erin (long 4)
    13 deleverage of alice at marks (80, 50): equity -102 after fees; the fund
       pays all it has (16) and 86 is left: alice's 10 lots close at the
       bankruptcy price 80 + ceil(86 / 10) = 89, first against bob (rank key
       2,966: leverage 2.97x), then carol (48); dave (32) is not needed. Its
       ranking walk (2 chunks: accounts 0..5) proves exactly 1 account outranks
       carol (bob; dave ranks below, erin is long, the fund never counts)

It must replay VALID with ``adl_events`` 1 in ``darkpool-verify --json``.
Cheats (what an operator holding its signing key could publish):

* a copy of the operator before the ADL that walks the ranking backwards
  (dave, then carol; real proofs of every trade) fails at entry 13: "rank key
  48 is out of the ADL ranking";
* a copy that SKIPS bob (the top-ranked) and closes against carol then dave
  (real proofs, trades in ranking order) fails at entry 13: the walk proves 2
  accounts outrank dave, 1 was deleveraged before him;
* the ranking proofs dropped, cut, reordered or naming another threshold, and
  the entry's shortfall edited (each re-signed), fail at entry 13.

ADL when the fund could cover has no proof at all (the circuit refuses it:
tests/circuits/test_deleverage.py::test_fund_exactly_covering_admits_no_adl_one_unit_short_does).
"""

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.slots_ledger import slots_operator
from tests.verifier.ledger_files import edit, entry_path, first, read, replay, run_cli

pytestmark = pytest.mark.slow

MARKS = (100, 50)
SHOCKED = (80, 50)
ADL = 13
NOW = 1000


@dataclass(frozen=True)
class AdlLedger:
    export: Path
    before_adl: Any  # a deep copy of the operator right before the deleverage entry
    shocked: Any  # the signed report of the ADL
    operator: Any  # the operator after the ADL
    dirty: tuple[int, ...]  # accounts whose rows the ADL changed (take_dirty)


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> AdlLedger:
    from verifier.account_state import SlottedOrder, order_hash
    from verifier.eddsa import PrivateKey
    from verifier.encoding import BUY, SELL
    from verifier.ledger import RiskRules

    op, tags, keys = slots_operator(
        risk=RiskRules(
            sweep_interval_batches=0, sweep_interval_s=0, liquidation_fee_bps=(150, 250)
        ),
        insurance_fund=10,
    )
    a = op.open_account(keys["alice"].public_key(), 100)
    b = op.open_account(keys["bob"].public_key(), 1_000)
    c = op.open_account(keys["carol"].public_key(), 100_000)
    keys["dave"] = PrivateKey(bytes([8]) * 32)
    d = op.open_account(keys["dave"].public_key(), 100_000)
    keys["erin"] = PrivateKey(bytes([7]) * 32)
    e = op.open_account(keys["erin"].public_key(), 1_000)
    report = op.oracle.sign(1, NOW, MARKS)
    op.observe(report)
    orders = [
        (SlottedOrder(a, 1, 0, BUY, 10, 100, 10**6, salt=11), "alice"),
        (SlottedOrder(b, 1, 0, SELL, 4, 90, 10**6, salt=22), "bob"),
        (SlottedOrder(c, 1, 0, SELL, 6, 95, 10**6, salt=33), "carol"),
        (SlottedOrder(d, 1, 0, SELL, 4, 99, 10**6, salt=44), "dave"),
        (SlottedOrder(e, 1, 0, BUY, 4, 100, 10**6, salt=55), "erin"),
    ]
    for order, who in orders:
        op.submit_order(order, keys[who].sign(order_hash(tags.order, order)))
    assert len(op.run_batch(report).fills) == 3
    assert [op.account_state(i).positions for i in (a, b, c, d, e)] == [
        (10, 0),
        (-4, 0),
        (-6, 0),
        (-4, 0),
        (4, 0),
    ]
    shocked = op.oracle.sign(2, NOW + 10, SHOCKED)
    op.take_dirty()
    before_adl = copy.deepcopy(op)
    entry = op.liquidate(a, shocked)
    dirty = tuple(op.take_dirty())
    assert entry.kind == "deleverage"
    (record,) = op.liquidations
    assert record.covered == 16 and record.shortfall == 86
    assert [(d.counterparty, d.lots, d.price) for d in record.deleveraging] == [
        (b, 4, 89),
        (c, 6, 89),
    ]
    assert op.account_state(a).positions == (0, 0) and op.account_state(0).balance == 0
    export = op.export(tmp_path_factory.mktemp("slots-adl") / "export")
    return AdlLedger(
        export=export, before_adl=before_adl, shocked=shocked, operator=op, dirty=dirty
    )


def test_honest_adl_ledger_verifies_and_counts(honest: AdlLedger) -> None:
    body = read(entry_path(honest.export, ADL))
    assert body["kind"] == "deleverage" and body["shortfall"] == "86"
    assert len(body["trades"]) == 2
    rc, out, err = run_cli(str(honest.export), "--json", "--quiet")
    assert rc == 0, err
    data = json.loads(out)
    assert data["ok"] is True, data["failures"]
    assert data["risk"]["adl_events"] == 1 and data["risk"]["adl_trades"] == 2
    assert data["proofs_verified_this_run"]["deleverage"] == 2


def test_wrongly_ranked_adl_is_rejected(
    honest: AdlLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.domain import adl

    ranked = adl.ranking
    # The dishonest operator walks the ranking backwards: dave (least levered) first.
    monkeypatch.setattr(adl, "ranking", lambda *a, **k: list(reversed(ranked(*a, **k))))
    op = copy.deepcopy(honest.before_adl)
    op.liquidate(1, honest.shocked)
    (record,) = op.liquidations
    assert [d.counterparty for d in record.deleveraging] == [4, 3]  # dave, then carol
    failure = first(replay(op.export(tmp_path / "export")))
    assert failure.entry_index == ADL
    assert "ADL trade 1 (counterparty 3): rank key 48 is out of the ADL ranking" in (failure.reason)


def test_adl_that_skips_the_top_ranked_account_is_rejected(
    honest: AdlLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Completeness: the operator spares bob (top-ranked) and closes alice's 10 lots
    against carol (6) and dave (4). Every trade is real and in ranking order (carol's key
    48 > dave's 32), but the ranking walk proves 2 accounts outrank dave (bob, carol) where
    only 1 was deleveraged before him: darkpool-verify names the skip at the entry."""
    from exchange.domain import adl

    ranked = adl.ranking
    monkeypatch.setattr(adl, "ranking", lambda *a, **k: ranked(*a, **k)[1:])
    op = copy.deepcopy(honest.before_adl)
    op.liquidate(1, honest.shocked)
    (record,) = op.liquidations
    assert [(d.counterparty, d.lots) for d in record.deleveraging] == [(3, 6), (4, 4)]
    export = op.export(tmp_path / "export")
    reason = (
        "ranking of market 0: 2 account(s) rank above the last counterparty (account 4), "
        "1 were deleveraged before it (an outranking account was skipped)"
    )
    failure = first(replay(export))
    assert failure.entry_index == ADL and reason in failure.reason
    rc, out, _ = run_cli(str(export), "--json", "--quiet")
    assert rc != 0
    (cli_failure,) = json.loads(out)["failures"][:1]
    assert cli_failure["entry"] == ADL and reason in cli_failure["reason"]
    # Claiming chunk 0 counted only carol (public signal edited, entry re-signed) matches
    # the trades, but the proof no longer verifies against those inputs.
    assert read(entry_path(export, ADL))["ranking"][0]["public_signals"][6] == "2"
    edit(export, ADL, lambda e: e["ranking"][0]["public_signals"].__setitem__(6, "1"))
    failure = first(replay(export))
    assert failure.entry_index == ADL and "ADL ranking proof 0" in failure.reason


def test_missing_or_misplaced_ranking_is_rejected(honest: AdlLedger, tmp_path: Path) -> None:
    out = tmp_path / "export"
    shutil.copytree(honest.export, out)
    ranking = read(entry_path(out, ADL))["ranking"]
    assert len(ranking) == 2  # accounts 0..4: two chunks of 4
    cases: list[tuple[Any, str]] = [
        ([], "a deleveraging has at least one ranking proof"),
        (ranking[:1], "do not rebuild the account root before the market's trades"),
        (ranking[::-1], "chunk 0 has chunkIndex 1"),
    ]
    for proofs, reason in cases:

        def put(e: dict[str, Any], p: Any = proofs) -> None:
            e["ranking"] = p

        edit(out, ADL, put)
        failure = first(replay(out))
        assert failure.entry_index == ADL and reason in failure.reason
    # A walk whose threshold is not the last trade's (public signal edited).
    bad = copy.deepcopy(ranking)
    for chunk in bad:
        chunk["public_signals"][5] = "2"
    edit(out, ADL, lambda e: e.update(ranking=bad))
    failure = first(replay(out))
    assert failure.entry_index == ADL and "the last trade implies" in failure.reason
    del_ranking = lambda e: e.pop("ranking")  # noqa: E731
    edit(out, ADL, del_ranking)
    assert "ranking" in first(replay(out)).reason


def test_adl_at_overdue_funding_is_rejected(honest: AdlLedger, tmp_path: Path) -> None:
    """Like a sweep or a liquidation, a deleveraging settles every account it touches to
    the current funding indices: under a genesis requiring an update every 5 s, the ADL
    10 s of oracle time after the first batch (no update) fails at its entry."""
    out = tmp_path / "export"
    shutil.copytree(honest.export, out)

    def every_5_s(g: dict[str, Any]) -> None:
        g["funding"] = {"interval_s": 5, "premium_divisor": 8, "clamp_bps": 500}

    edit(out, 0, every_5_s)
    failure = first(replay(out))
    assert failure.entry_index == ADL
    assert failure.reason == (
        "funding overdue: 10 s of oracle time since the first batch "
        "(genesis requires a funding update every 5 s)"
    )


def test_edited_shortfall_is_rejected(honest: AdlLedger, tmp_path: Path) -> None:
    out = tmp_path / "export"
    shutil.copytree(honest.export, out)
    edit(out, ADL, lambda e: e.update(shortfall="85"))  # re-linked and re-signed
    failure = first(replay(out))
    assert failure.entry_index == ADL
    assert "shortfall 86, the entry says 85" in failure.reason
    edit(out, ADL, lambda e: e.update(shortfall="0"))
    assert "deleverage shortfall 0 is out of range" in first(replay(out)).reason
    edit(out, ADL, lambda e: e.update(shortfall="86", trades=e["trades"][:1]))
    failure = first(replay(out))
    assert failure.entry_index == ADL
    assert "the bankrupt account 1 still holds positions after ADL" in failure.reason


def test_operator_restores_after_adl(honest: AdlLedger) -> None:
    """The ADL's rows are what a service stores (bankrupt, fund, both counterparties), and
    an operator restored from the stored pieces continues with the same state."""
    from tests.exchange.test_slots_restore import restore, stored

    assert honest.dirty == (0, 1, 2, 3)
    op = copy.deepcopy(honest.operator)
    back = restore(op, stored(op))
    assert back.roots == op.roots == back.ledger.roots
    assert dict(back.accounts) == dict(op.accounts)
    assert back.pending_liquidations == [] and back.account_state(1).positions == (0, 0)
