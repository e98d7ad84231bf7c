"""Account inclusion (verifier.inclusion, ``darkpool-verify inclusion``).

A small honest ledger is built once per test session with the in-process
operator (exchange.operator, test profile, real Groth16 proofs) and exported;
``tests/verifier/test_source_http.py`` reuses it through ``honest_ledger``:

    0 genesis | 1-3 open (insurance, alice, bob) | 4 deposit (bob)
    5 buy order (alice) | 6 sell order (bob) | 7 batch 1 (one fill of 5 lots)
    8 withdraw (alice)

Openings are taken from the operator's own trees in the shape of
``GET /v1/accounts/{i}/inclusion``: alice after the withdrawal (latest root)
and after the batch (an older root). The honest openings must be included
with and without the trader's fills; each tampered opening must fail with
its specific reason, and malformed files exit 2.
"""

import atexit
import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.verifier.operator_world import small_operator
from verifier import inclusion
from verifier.accounting import fill_effect
from verifier.cli import main as cli_main
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.field import R
from verifier.protocol import FEE_ACCOUNT

pytestmark = pytest.mark.slow

Json = Any
ALICE, BOB = 1, 2
FILL_LOTS = 5
OPEN_AMOUNT = 100_000
BOB_DEPOSIT = 500
ALICE_WITHDRAW = 1000


@dataclass(frozen=True)
class HonestLedger:
    export: Path
    latest_alice: Json  # alice's opening at the latest root (after the withdrawal)
    batch_alice: Json  # alice's opening right after the batch
    latest_bob: Json
    fill_price: int
    fee_bps: int


def _opening(op: Any, index: int) -> Json:
    """What the inclusion endpoint returns for ``index`` under the operator's current root."""
    state = op.accounts[index]
    path = op.account_tree.path(index)
    return {
        "account": index,
        "root": str(op.account_tree.root),
        "leaf": str(state.leaf()),
        "siblings": [str(s) for s in path.siblings],
        "opening": state.to_dict(),  # verifier.encoding.AccountState's JSON form
    }


@cache
def honest_ledger() -> HonestLedger:
    """Build (once per process) and export the honest ledger described above."""
    from verifier.encoding import Order, order_commitment, withdraw_message

    op, tags, alice, bob = small_operator()
    assert op.open_account(alice.public_key(), OPEN_AMOUNT) == ALICE
    assert op.open_account(bob.public_key(), OPEN_AMOUNT) == BOB
    op.deposit(BOB, BOB_DEPOSIT)
    report = op.oracle.report(1, 1000)
    op.observe(report)
    buy = Order(ALICE, 0, BUY, FILL_LOTS, limit_price=1000, expiry=10**6, salt=11)
    sell = Order(BOB, 0, SELL, FILL_LOTS, limit_price=1, expiry=10**6, salt=22)
    op.submit_order(buy, alice.sign(order_commitment(tags.order, buy)))
    op.submit_order(sell, bob.sign(order_commitment(tags.order, sell)))
    summary = op.run_batch(report)
    assert len(summary.fills) == 1
    batch_alice = _opening(op, ALICE)
    nonce = op.account_state(ALICE).nonce
    op.withdraw(
        ALICE,
        ALICE_WITHDRAW,
        alice.sign(withdraw_message(tags.withdraw, ALICE, ALICE_WITHDRAW, nonce)),
    )
    directory = Path(tempfile.mkdtemp(prefix="darkpool-inclusion-"))
    atexit.register(shutil.rmtree, directory, True)
    export = op.export(directory / "export")
    return HonestLedger(
        export=export,
        latest_alice=_opening(op, ALICE),
        batch_alice=batch_alice,
        latest_bob=_opening(op, BOB),
        fill_price=report.prices[0],
        fee_bps=5,
    )


@pytest.fixture(scope="module")
def honest() -> HonestLedger:
    return honest_ledger()


@pytest.fixture(scope="module")
def history(honest: HonestLedger) -> inclusion.LedgerHistory:
    """The honest ledger replayed once; most tests check openings against it directly."""
    from verifier import ledger
    from verifier.source import DirectorySource

    src = DirectorySource(honest.export)
    genesis = src.genesis()
    recorder = inclusion.HistoryRecorder(src.entry)
    report = ledger.replay(
        manifest=src.manifest(), genesis=genesis, entries=recorder, vkeys=src.vkeys()
    )
    assert report.ok, report.first_failure
    return recorder.history(genesis, report)


def _check(history: inclusion.LedgerHistory, opening: Json, fills: Json | None = None) -> Json:
    parsed = inclusion.parse_opening(opening)
    f = None if fills is None else inclusion.parse_fills(fills, parsed.account)
    return inclusion.check_inclusion(parsed, history, f).to_dict()


def _write(tmp_path: Path, name: str, obj: Json) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


def _run(
    honest: HonestLedger,
    tmp_path: Path,
    opening: Json,
    capsys: pytest.CaptureFixture[str],
    fills: Json | None = None,
) -> tuple[int, Json]:
    args = ["inclusion", "--quiet", "--json", "--ledger", str(honest.export)]
    args += ["--opening", str(_write(tmp_path, "opening.json", opening))]
    if fills is not None:
        args += ["--fills", str(_write(tmp_path, "fills.json", fills))]
    capsys.readouterr()
    rc = cli_main(args)
    out = capsys.readouterr().out
    return rc, (json.loads(out) if out.strip().startswith("{") else out)


def _alice_fills(batch_id: int = 1) -> Json:
    return {"fills": [{"batch_id": batch_id, "market": 0, "side": "buy", "quantity": FILL_LOTS}]}


# ---------------------------------------------------------------- honest


def test_honest_openings_are_included(history: inclusion.LedgerHistory) -> None:
    for opening in (_copy(HONEST().latest_alice), HONEST().batch_alice, HONEST().latest_bob):
        out = _check(history, opening)
        assert out["ok"] is True, out
        assert [c["name"] for c in out["checks"]] == ["path", "root", "pubkey"]
    # The two alice openings are at different verified roots: the batch's and the withdrawal's.
    assert history.account_roots[int(HONEST().batch_alice["root"])] == 7
    assert history.account_roots[int(HONEST().latest_alice["root"])] == 8


def test_cli_honest_with_fills(
    honest: HonestLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    effect = fill_effect(FILL_LOTS, honest.fill_price, honest.fee_bps)
    # Independent of the opening: what alice's balance must be from deposits, fill and withdrawal.
    expected = OPEN_AMOUNT + effect.buyer_balance_delta - ALICE_WITHDRAW
    assert int(honest.latest_alice["opening"]["balance"]) == expected
    rc, out = _run(honest, tmp_path, honest.latest_alice, capsys, _alice_fills())
    assert rc == 0, out
    assert out["checks"][-1] == {
        "name": "history",
        "ok": True,
        "detail": f"balance {expected} and positions [{FILL_LOTS}, 0] match",
    }


def test_cli_tampered_exits_1_with_the_reason(
    honest: HonestLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["inclusion", "--quiet", "--ledger", str(honest.export), "--opening"]
    args.append(str(_write(tmp_path, "o.json", _tampered("balance"))))
    capsys.readouterr()
    assert cli_main(args) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "RESULT: NOT INCLUDED: path: the opening's leaf and path do not hash to the stated root"
    )


def test_history_matches_the_traders_fills(history: inclusion.LedgerHistory) -> None:
    h = HONEST()
    effect = fill_effect(FILL_LOTS, h.fill_price, h.fee_bps)
    # At the batch's root the withdrawal (a later entry) does not count yet.
    out = _check(history, h.batch_alice, _alice_fills())
    assert out["ok"], out
    assert out["checks"][-1]["detail"] == (
        f"balance {OPEN_AMOUNT + effect.buyer_balance_delta} and positions [{FILL_LOTS}, 0] match"
    )
    # Bob sold, and deposited.
    bob_fills = {
        "account": BOB,
        "fills": [{"batch_id": 1, "market": 0, "side": SELL, "quantity": str(FILL_LOTS)}],
    }
    out = _check(history, h.latest_bob, bob_fills)
    assert out["ok"], out
    bob_balance = OPEN_AMOUNT + BOB_DEPOSIT + effect.seller_balance_delta
    assert out["checks"][-1]["detail"].startswith(f"balance {bob_balance} ")


def test_account_view_checks_positions_only(history: inclusion.LedgerHistory) -> None:
    view: Json = {
        "account": ALICE,
        "orders": [{"account": ALICE, "market": 0, "side": BUY, "filled": str(FILL_LOTS)}],
    }
    out = _check(history, HONEST().latest_alice, view)
    assert out["ok"], out
    assert "balance not checked" in out["checks"][-1]["detail"]
    assert any("NOT checked" in n for n in out["notes"])
    view["orders"][0]["filled"] = str(FILL_LOTS - 1)
    out = _check(history, HONEST().latest_alice, view)
    assert not out["ok"]
    assert out["first_failure"] == (
        f"history: positions [{FILL_LOTS}, 0], the history implies [{FILL_LOTS - 1}, 0]"
    )
    # An order that says in which batches it filled counts towards the balance too.
    view["orders"][0]["filled"] = str(FILL_LOTS)
    view["orders"][0]["fills"] = [{"batch_id": 1, "quantity": FILL_LOTS}]
    out = _check(history, HONEST().latest_alice, view)
    assert out["ok"] and "balance" in out["checks"][-1]["detail"]
    assert "not checked" not in out["checks"][-1]["detail"]


# ---------------------------------------------------------------- tampered


def HONEST() -> HonestLedger:
    return honest_ledger()


def _copy(obj: Json) -> Json:
    return json.loads(json.dumps(obj))


def _tampered(change: str) -> Json:
    o = _copy(HONEST().latest_alice)
    if change == "balance":
        o["opening"]["balance"] = str(int(o["opening"]["balance"]) + 1)
        o.pop("leaf")  # the inclusion endpoint's leaf would betray it; drop it
    elif change == "blinding":
        o["opening"]["blinding"] = str((int(o["opening"]["blinding"]) + 1) % R)
        o.pop("leaf")
    elif change == "sibling":
        o["siblings"][3] = str((int(o["siblings"][3]) + 1) % R)
    elif change == "index":
        o["account"] = BOB
    elif change == "leaf":
        o["leaf"] = str((int(o["leaf"]) + 1) % R)
    return o


@pytest.mark.parametrize("change", ["balance", "blinding", "sibling", "index"])
def test_tampered_path_fails(history: inclusion.LedgerHistory, change: str) -> None:
    out = _check(history, _tampered(change))
    assert not out["ok"]
    assert out["first_failure"] == (
        "path: the opening's leaf and path do not hash to the stated root"
    )


def test_stated_leaf_must_be_the_openings_hash(history: inclusion.LedgerHistory) -> None:
    out = _check(history, _tampered("leaf"))
    assert out["first_failure"] == "path: the stated leaf is not the hash of the opening"


def test_root_the_ledger_never_had(history: inclusion.LedgerHistory) -> None:
    """A self-consistent tree the operator made up (alice richer) with a root not on the ledger."""
    from verifier.encoding import AccountState
    from verifier.merkle import compute_root

    o = _copy(HONEST().latest_alice)
    s = o["opening"]
    richer = AccountState(
        int(s["pub_x"]),
        int(s["pub_y"]),
        int(s["balance"]) + 10**6,
        tuple(int(p) for p in s["positions"]),
        s["nonce"],
        int(s["blinding"]),
    )
    o["opening"]["balance"] = str(richer.balance)
    o["leaf"] = str(richer.leaf())
    o["root"] = str(compute_root(richer.leaf(), ALICE, [int(x) for x in o["siblings"]]))
    out = _check(history, o, _alice_fills())
    checks = {c["name"]: c["ok"] for c in out["checks"]}
    assert checks == {"path": True, "root": False, "pubkey": True, "history": False}
    assert out["first_failure"] == (
        "root: the root is not the account root of any verified ledger entry"
    )


def test_pubkey_not_the_published_one(history: inclusion.LedgerHistory) -> None:
    """An opening under another key at bob's index: even with a made-up root, the key fails."""
    from verifier.encoding import AccountState
    from verifier.merkle import compute_root

    o = _copy(HONEST().latest_bob)
    mallory = PrivateKey(b"\x09" * 32).public_key()
    o["opening"]["pub_x"], o["opening"]["pub_y"] = str(mallory.x), str(mallory.y)
    o.pop("leaf")
    s = o["opening"]
    leaf = AccountState(
        mallory.x, mallory.y, int(s["balance"]), tuple(int(p) for p in s["positions"]),
        s["nonce"], int(s["blinding"]),
    ).leaf()  # fmt: skip
    o["root"] = str(compute_root(leaf, BOB, [int(x) for x in o["siblings"]]))
    out = _check(history, o)
    assert [c["ok"] for c in out["checks"]] == [True, False, False]
    assert out["checks"][2]["detail"] == f"not the key the ledger's open of account {BOB} published"
    # An index the ledger never opened.
    o = _copy(HONEST().latest_bob)
    o["account"] = 5
    out = _check(history, o)
    assert out["checks"][2]["detail"] == "the ledger never opened account 5"


def test_history_mismatch(history: inclusion.LedgerHistory) -> None:
    h = HONEST()
    # The trader remembers selling, not buying.
    sold = _alice_fills()
    sold["fills"][0]["side"] = "sell"
    out = _check(history, h.latest_alice, sold)
    assert out["first_failure"] == (
        f"history: positions [{FILL_LOTS}, 0], the history implies [-{FILL_LOTS}, 0]"
    )
    # A fill in a batch the ledger does not have.
    out = _check(history, h.latest_alice, _alice_fills(batch_id=7))
    assert out["first_failure"] == "history: fill 0 is in batch 7, not on the ledger"
    # The trader recorded a price other than the batch's mark.
    wrong = _alice_fills()
    wrong["fills"][0]["price"] = h.fill_price + 1
    out = _check(history, h.latest_alice, wrong)
    assert out["first_failure"] == (
        f"history: fill 0 says price {h.fill_price + 1}, batch 1 marked {h.fill_price}"
    )
    # Same lots as two fills: each pays its own rounded-up fee, so the balance differs.
    split = {
        "fills": [
            {"batch_id": 1, "market": 0, "side": "buy", "quantity": 2},
            {"batch_id": 1, "market": 0, "side": "buy", "quantity": FILL_LOTS - 2},
        ]
    }
    one = fill_effect(FILL_LOTS, h.fill_price, h.fee_bps)
    two = [fill_effect(q, h.fill_price, h.fee_bps) for q in (2, FILL_LOTS - 2)]
    implied = OPEN_AMOUNT - ALICE_WITHDRAW + sum(e.buyer_balance_delta for e in two)
    assert implied != OPEN_AMOUNT - ALICE_WITHDRAW + one.buyer_balance_delta
    out = _check(history, h.latest_alice, split)
    assert out["first_failure"] == (
        f"history: balance {h.latest_alice['opening']['balance']}, the history implies {implied}"
    )


def test_invalid_ledger_trusts_no_root(
    honest: HonestLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    shutil.copytree(honest.export, export)
    batch = export / "entries" / "000007.json"
    entry = json.loads(batch.read_text())
    entry["volume"] = ["6", "0"]
    batch.write_text(json.dumps(entry))
    opening = _write(tmp_path, "opening.json", honest.batch_alice)
    capsys.readouterr()
    rc = cli_main(["inclusion", "--quiet", "--ledger", str(export), "--opening", str(opening)])
    out = capsys.readouterr().out
    assert rc == 1
    assert out.startswith("RESULT: NOT VERIFIED: the ledger does not verify (entry 7:")


def test_malformed_inputs_exit_2(
    honest: HonestLedger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    o = _copy(honest.latest_alice)
    del o["opening"]["blinding"]
    rc, _ = _run(honest, tmp_path, o, capsys)
    assert rc == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    capsys.readouterr()
    rc = cli_main(["inclusion", "--ledger", str(honest.export), "--opening", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "not valid JSON" in err


def test_fee_account_history_is_refused(history: inclusion.LedgerHistory) -> None:
    o = _copy(HONEST().latest_alice)
    o["account"] = FEE_ACCOUNT
    with pytest.raises(inclusion.InclusionInputError, match="fee account"):
        _check(history, o, {"fills": []})


def test_parse_opening_accepts_the_brief_shape() -> None:
    o = {
        "index": 3,
        "root": "5",
        "siblings": ["1", "2"],
        "pubkey": {"x": "7", "y": "8"},
        "balance": "-4",
        "positions": ["1", "-1"],
        "nonce": 2,
        "blinding": "9",
    }
    parsed = inclusion.parse_opening(o)
    assert (parsed.account, parsed.root, parsed.siblings) == (3, 5, (1, 2))
    assert (parsed.state.pub_x, parsed.state.balance, parsed.state.positions) == (7, -4, (1, -1))
    with pytest.raises(inclusion.InclusionInputError, match="positions\\[0\\] must be an integer"):
        inclusion.parse_opening({**o, "positions": [1.5]})
