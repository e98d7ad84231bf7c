"""Account inclusion on the recycling-order state: quaternary path, root and key checks.

The first tests check openings of a small hand-built ``AccountBook`` against a
hand-made ``LedgerHistory``. The rest use the session's honest slots ledger
(``slots_ledger``, tests/exchange/slots_ledger.py: real proofs): the history
comes from its replay, openings from its operator's book in the shape of
``GET /v1/accounts/{i}/inclusion`` (alice at the latest root, after her
withdrawal, and at the root before the batch; bob at the latest), and
``darkpool-verify inclusion`` runs on its export: honest openings are
included, each tampered one fails with its specific reason, malformed files
exit 2, and a ledger that does not verify trusts no root.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from prover.account_book import AccountBook, slots_opening
from prover.circuits import load_params
from tests.exchange.slots_ledger import BATCH, CANCEL, SOLVENCY, SlotsLedger
from tests.verifier.ledger_files import copy_export, edit, remembering_checker
from verifier import inclusion
from verifier.account_state import AccountRecord, account_state_leaf
from verifier.cli import main as cli_main
from verifier.eddsa import PrivateKey
from verifier.field import R
from verifier.inclusion import AccountOp, InclusionInputError, LedgerHistory
from verifier.inclusion_slots import check_slots_inclusion, parse_slots_opening
from verifier.quadtree import quad_root

PARAMS = load_params("test")
KEYS = [PrivateKey(bytes([n + 1]) * 32) for n in range(3)]


def book() -> AccountBook:
    b = AccountBook(PARAMS)
    for i, k in enumerate(KEYS):
        pub = k.public_key()
        b.open(i, pub=(pub.x, pub.y), balance=100 * i, funding=(3, -4), blinding=11 + i)
    b.put(2, replace(b.record(2), positions=(2, -1), balance=-7))
    return b


def opening_json(b: AccountBook, index: int) -> dict[str, Any]:
    """What a slots server's inclusion endpoint answers (``prover.account_book.slots_opening``)."""
    return slots_opening(b, index)


def history(b: AccountBook) -> LedgerHistory:
    h = LedgerHistory(account_depth=PARAMS.account_depth, fee_bps=(30, 5))
    h.account_roots[b.root] = 4
    h.ops = [AccountOp(1 + i, "open", i, 100 * i, k.public_key()) for i, k in enumerate(KEYS)]
    return h


def test_honest_opening_passes_every_check() -> None:
    b = book()
    result = check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), history(b))
    assert result.ok, result.to_dict()
    assert [c.name for c in result.checks] == ["path", "root", "pubkey"]
    assert result.checks[1].detail == "account root after entry 4"
    # The owner's key may also come nested, as ``pubkey: {x, y}``: the same opening.
    nested = opening_json(b, 2)
    inner = nested["opening"]
    inner["pubkey"] = {"x": inner.pop("pub_x"), "y": inner.pop("pub_y")}
    assert parse_slots_opening(nested) == parse_slots_opening(opening_json(b, 2))


@pytest.mark.parametrize(
    ("mutate", "failed"),
    [
        (lambda d: d["opening"].update(balance="-6"), "path"),
        (lambda d: d["opening"].update(checkpoints=["3", "-3"]), "path"),
        (lambda d: d["opening"].update(order_root="1"), "path"),
        (lambda d: d.update(leaf="5"), "path"),
        (lambda d: d.update(account=1), "path"),
        (lambda d: d["siblings"].pop(), "path"),
        (lambda d: d.update(root="12345"), "path"),
    ],
)
def test_a_false_opening_fails_naming_the_check(mutate: object, failed: str) -> None:
    b = book()
    d = json.loads(json.dumps(opening_json(b, 2)))
    mutate(d)  # type: ignore[operator]
    result = check_slots_inclusion(parse_slots_opening(d), history(b))
    assert not result.ok
    first = result.first_failure
    assert first is not None and first.name == failed, result.to_dict()


def test_root_must_be_verified_and_key_published() -> None:
    b = book()
    h = history(b)
    h.account_roots = {123: 1}
    result = check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), h)
    assert [c.ok for c in result.checks] == [True, False, True]
    h = history(b)
    h.ops = [AccountOp(3, "open", 2, 0, KEYS[0].public_key())]
    result = check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), h)
    assert result.first_failure is not None and result.first_failure.name == "pubkey"
    h.ops = []
    assert "never opened" in str(
        check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), h).to_dict()
    )


def test_malformed_openings_are_input_errors() -> None:
    b = book()
    for mutate in (
        lambda d: d["siblings"][0].pop(),
        lambda d: d["opening"].pop("checkpoints"),
        lambda d: d["opening"].update(positions="1"),
        lambda d: d["opening"].update(balance="1.5"),
    ):
        d = json.loads(json.dumps(opening_json(b, 1)))
        mutate(d)
        with pytest.raises(InclusionInputError):
            parse_slots_opening(d)


def test_parse_accepts_index_and_top_level_fields() -> None:
    """The opening's fields may sit at the top, with ``index`` for the account (the brief's shape)."""
    b = book()
    nested = opening_json(b, 2)
    flat = {"index": 2, "root": nested["root"], "siblings": nested["siblings"]}
    flat.update(nested["opening"])
    assert parse_slots_opening(flat) == replace(parse_slots_opening(nested), stated_leaf=None)
    with pytest.raises(InclusionInputError, match=r"positions\[0\] must be an integer"):
        parse_slots_opening({**flat, "positions": [1.5, 0]})


# ---------------------------------------------------------------- the honest slots ledger

ALICE, BOB = 1, 2
Json = Any


def _copy(obj: Json) -> Json:
    return json.loads(json.dumps(obj))


@pytest.fixture(scope="module")
def ledger_history(slots_ledger: SlotsLedger) -> LedgerHistory:
    """The honest slots ledger replayed once (real proof checks); its public history."""
    from verifier import ledger
    from verifier.source import DirectorySource

    src = DirectorySource(slots_ledger.export)
    genesis = src.genesis()
    recorder = inclusion.HistoryRecorder(src.entry)
    report = ledger.replay(
        manifest=src.manifest(),
        genesis=genesis,
        entries=recorder,
        vkeys=src.vkeys(),
        checker=remembering_checker,
    )
    assert report.ok, report.first_failure
    return recorder.history(genesis, report)


def latest(slots_ledger: SlotsLedger, account: int) -> Json:
    return slots_opening(slots_ledger.operator.book, account)


def _check(history: LedgerHistory, opening: Json) -> Json:
    return check_slots_inclusion(parse_slots_opening(opening), history).to_dict()


def _cli(
    export: Path, tmp_path: Path, opening: Json, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[int, str, str]:
    path = tmp_path / "opening.json"
    path.write_text(opening if isinstance(opening, str) else json.dumps(opening))
    capsys.readouterr()
    rc = cli_main(["inclusion", "--quiet", "--ledger", str(export), "--opening", str(path), *more])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.mark.slow
def test_ledger_openings_are_included(
    slots_ledger: SlotsLedger, ledger_history: LedgerHistory
) -> None:
    before_batch = slots_opening(slots_ledger.at_batch.book, ALICE)
    openings = (latest(slots_ledger, ALICE), before_batch, latest(slots_ledger, BOB))
    for opening in openings:
        out = _check(ledger_history, opening)
        assert out["ok"] is True, out
        assert [c["name"] for c in out["checks"]] == ["path", "root", "pubkey"]
    # Two verified roots: the last entry before the batch that ends at it, and the last entry.
    assert ledger_history.account_roots[int(before_batch["root"])] == CANCEL
    assert ledger_history.account_roots[int(openings[0]["root"])] == SOLVENCY


@pytest.mark.slow
@pytest.mark.parametrize("change", ["balance", "blinding", "sibling", "index", "leaf"])
def test_tampered_ledger_opening_fails(
    slots_ledger: SlotsLedger, ledger_history: LedgerHistory, change: str
) -> None:
    o = _copy(latest(slots_ledger, ALICE))
    reason = "path: the opening's leaf and path do not hash to the stated root"
    if change in ("balance", "blinding"):
        o["opening"][change] = str((int(o["opening"][change]) + 1) % R)
        o.pop("leaf")  # the inclusion endpoint's leaf would betray it; drop it
    elif change == "sibling":
        o["siblings"][1][2] = str((int(o["siblings"][1][2]) + 1) % R)
    elif change == "index":
        o["account"] = BOB
    else:
        o["leaf"] = str((int(o["leaf"]) + 1) % R)
        reason = "path: the stated leaf is not the hash of the opening"
    out = _check(ledger_history, o)
    assert not out["ok"]
    assert out["first_failure"] == reason


def _record(opening: Json, **changes: Any) -> AccountRecord:
    s = opening["opening"]
    record = AccountRecord(
        pub_x=int(s["pub_x"]),
        pub_y=int(s["pub_y"]),
        balance=int(s["balance"]),
        positions=tuple(int(p) for p in s["positions"]),
        checkpoints=tuple(int(c) for c in s["checkpoints"]),
        order_root=int(s["order_root"]),
        nonce=int(s["nonce"]),
        blinding=int(s["blinding"]),
    )
    return replace(record, **changes)


def _reroot(o: Json, record: AccountRecord) -> None:
    """Make ``o`` a self-consistent opening of ``record`` under a root the operator made up."""
    o["opening"].update(
        balance=str(record.balance), pub_x=str(record.pub_x), pub_y=str(record.pub_y)
    )
    leaf = account_state_leaf(record)
    o["leaf"] = str(leaf)
    siblings = tuple(tuple(int(x) for x in step) for step in o["siblings"])
    o["root"] = str(quad_root(leaf, int(o["account"]), siblings))


@pytest.mark.slow
def test_root_the_ledger_never_had(
    slots_ledger: SlotsLedger, ledger_history: LedgerHistory
) -> None:
    """A self-consistent tree the operator made up (alice richer) with a root not on the ledger."""
    o = _copy(latest(slots_ledger, ALICE))
    _reroot(o, _record(o, balance=int(o["opening"]["balance"]) + 10**6))
    out = _check(ledger_history, o)
    assert {c["name"]: c["ok"] for c in out["checks"]} == {
        "path": True,
        "root": False,
        "pubkey": True,
    }
    assert out["first_failure"] == (
        "root: the root is not the account root of any verified ledger entry"
    )


@pytest.mark.slow
def test_pubkey_not_the_published_one(
    slots_ledger: SlotsLedger, ledger_history: LedgerHistory
) -> None:
    """An opening under another key at bob's index: even with a made-up root, the key fails."""
    o = _copy(latest(slots_ledger, BOB))
    mallory = PrivateKey(b"\x09" * 32).public_key()
    _reroot(o, _record(o, pub_x=mallory.x, pub_y=mallory.y))
    out = _check(ledger_history, o)
    assert [c["ok"] for c in out["checks"]] == [True, False, False]
    assert out["checks"][2]["detail"] == f"not the key the ledger's open of account {BOB} published"
    o = _copy(latest(slots_ledger, BOB))
    o["account"] = 5  # an index the ledger never opened
    out = _check(ledger_history, o)
    assert out["checks"][2]["detail"] == "the ledger never opened account 5"


@pytest.mark.slow
def test_cli_included_and_tampered(
    slots_ledger: SlotsLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """darkpool-verify inclusion on the export: exit 0 INCLUDED; a changed balance exits 1."""
    o = latest(slots_ledger, ALICE)
    rc, out, err = _cli(slots_ledger.export, tmp_path, o, capsys)
    assert rc == 0, out + err
    assert out.splitlines()[-1] == "RESULT: INCLUDED"
    o = _copy(o)
    o["opening"]["balance"] = str(int(o["opening"]["balance"]) + 1)
    o.pop("leaf")
    rc, out, _ = _cli(slots_ledger.export, tmp_path, o, capsys)
    assert rc == 1
    assert out.splitlines()[-1] == (
        "RESULT: NOT INCLUDED: path: the opening's leaf and path do not hash to the stated root"
    )


@pytest.mark.slow
def test_invalid_ledger_trusts_no_root(
    slots_ledger: SlotsLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = copy_export(slots_ledger, tmp_path)
    edit(export, BATCH, lambda e: e.update(volume=[str(int(e["volume"][0]) + 1), "0"]))
    opening = slots_opening(slots_ledger.at_batch.book, ALICE)  # a root before the batch
    rc, out, _ = _cli(export, tmp_path, opening, capsys)
    assert rc == 1
    assert out.startswith(f"RESULT: NOT VERIFIED: the ledger does not verify (entry {BATCH}:")


@pytest.mark.slow
def test_malformed_inputs_exit_2(
    slots_ledger: SlotsLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    o = _copy(latest(slots_ledger, ALICE))
    del o["opening"]["blinding"]
    rc, _, err = _cli(slots_ledger.export, tmp_path, o, capsys)
    assert rc == 2 and err.count("\n") == 1 and "blinding" in err
    rc, _, err = _cli(slots_ledger.export, tmp_path, "{nope", capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "not valid JSON" in err
    # A slots ledger has no fill tree: a trader's fills file is refused, one line.
    fills = tmp_path / "fills.json"
    fills.write_text(json.dumps({"fills": []}))
    rc, _, err = _cli(
        slots_ledger.export, tmp_path, latest(slots_ledger, ALICE), capsys, "--fills", str(fills)
    )
    assert rc == 2 and err.count("\n") == 1 and "--fills is for list ledgers" in err


def test_an_older_root_is_stale_a_warning_or_with_require_latest_a_failure() -> None:
    b = book()
    h = history(b)
    h.latest_root, h.latest_entry = 999, 9  # entries 5..9 changed the account root since
    opening = parse_slots_opening(opening_json(b, 2))
    out = check_slots_inclusion(opening, h).to_dict()
    assert out["ok"] is True and out["is_latest"] is False and out["latest_entry"] == 9
    assert out["warnings"] == [
        "not the ledger's latest account root: entry 5 changed it; the latest is the account "
        "root after entry 9 (ask for a fresh opening)"
    ]
    out = check_slots_inclusion(opening, h, require_latest=True).to_dict()
    assert out["ok"] is False and out["warnings"] == []
    assert out["first_failure"].startswith("latest: not the ledger's latest account root")
    h.latest_root, h.latest_entry = b.root, 4
    out = check_slots_inclusion(opening, h, require_latest=True).to_dict()
    assert out["ok"] is True and out["is_latest"] is True and out["warnings"] == []
    assert [c["name"] for c in out["checks"]] == ["path", "root", "pubkey", "latest"]


@pytest.mark.slow
def test_cli_warns_on_a_stale_opening(
    slots_ledger: SlotsLedger,
    ledger_history: LedgerHistory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Alice's opening under the root before the batch: included, but not silently (HN6)."""
    stale = slots_opening(slots_ledger.at_batch.book, ALICE)
    rc, out, err = _cli(slots_ledger.export, tmp_path, stale, capsys)
    assert rc == 0, out + err
    warning = f"not the ledger's latest account root: entry {CANCEL + 1} changed it"
    assert f"  WARNING        {warning}" in out
    assert out.splitlines()[-1] == (
        "RESULT: INCLUDED in an older account root, not the latest (--latest fails)"
    )
    out_json = _check(ledger_history, stale)
    assert out_json["is_latest"] is False and out_json["latest_entry"] == SOLVENCY
    assert out_json["latest_account_root"] == latest(slots_ledger, ALICE)["root"]
    assert _check(ledger_history, latest(slots_ledger, ALICE))["is_latest"] is True


@pytest.mark.slow
def test_cli_latest_flag_fails_a_stale_opening(
    slots_ledger: SlotsLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = slots_opening(slots_ledger.at_batch.book, ALICE)
    rc, out, _ = _cli(slots_ledger.export, tmp_path, stale, capsys, "--latest", "--json")
    report = json.loads(out)
    assert rc == 1 and report["ok"] is False and report["is_latest"] is False
    assert report["first_failure"].startswith(
        f"latest: not the ledger's latest account root: entry {CANCEL + 1} changed it"
    )
    rc, out, _ = _cli(
        slots_ledger.export, tmp_path, latest(slots_ledger, ALICE), capsys, "--latest"
    )
    assert rc == 0 and out.splitlines()[-1] == "RESULT: INCLUDED", out
