"""Cheating-ledger tests for the recycling-order ledger (genesis ``"state": "slots"``, issue 12).

ONE honest slots ledger is built per module with real Groth16 proofs at the
test profile (account_update, order_ops, settle_fills, solvency_walk), from
the prover's witness builders on an ``AccountBook`` (the operator that writes
this format is exchange/operator/slots, built alongside):

    0 genesis (state slots; funding: premium / 1, clamp 10%)
    1-3 open (fund 0, alice 1, bob 2)
    4-6 orders: alice buys 5 BTC (id 1), bob sells 5 BTC (id 1), alice buys 3 ETH (id 2)
    7 cancel of alice's ETH order
    8 funding (report 1: marks (100, 50), index (98, 51) -> indices (2, -1))
    9 batch: order_ops [place alice 1, place bob 1], order_ops [cancel alice 2],
      settle_fills [alice buys 5 BTC from bob at 100]
    10 withdraw bob 1,000 (report 1)
    11 solvency (solvency_walk, one chunk, at the funding indices)

It must replay VALID. Each cheat is derived from it the way a dishonest
operator holding its signing key would publish it (edited, re-linked and
re-signed, ``test_ledger.resign``) and must fail at the named entry with the
named reason. One cheat needs two extra real proofs (a batch whose cancel is
proven after its fill group).
"""

import json
import random
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.verifier.operator_world import OPERATOR_KEY, ORACLE_KEY
from tests.verifier.test_ledger import edit, entry_path, first, read, replay, resign, run_cli
from verifier.eddsa import PrivateKey
from verifier.protocol import STAGED_STATEMENTS

pytestmark = pytest.mark.slow

Json = Any
MARKS = (100, 50)
INDEX = (98, 51)
FUNDING = (2, -1)
ORDER_ALICE, ORDER_BOB, ORDER_CANCELLED, CANCEL, FUNDING_ENTRY, BATCH, WITHDRAW, SOLVENCY = range(
    4, 12
)


@dataclass(frozen=True)
class SlotsLedger:
    export: Path
    commitments: tuple[int, ...]  # alice BTC, bob BTC, alice ETH (cancelled)
    late_cancel_batch: Json  # entry BATCH with the cancel proven after the fill group


def _prove(artifacts: Any, inputs: dict[str, object], expected: list[int]) -> dict[str, Any]:
    from prover.backends import prove_inputs

    proof, signals = prove_inputs(artifacts, inputs)
    assert [int(s) for s in signals] == expected
    return {"proof": proof, "public_signals": signals}


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> SlotsLedger:
    from prover.account_book import AccountBook
    from prover.circuits import build_statement, load_params
    from prover.statements.account_update import build_account_update
    from prover.statements.order_ops import OrderOp, build_order_ops
    from prover.statements.settle_fills import GroupFill, build_settle_fills
    from prover.statements.solvency_walk import build_solvency_walk
    from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
    from verifier.encoding import withdraw_message
    from verifier.export import Ledger, vkey_hashes
    from verifier.funding import next_indices
    from verifier.ledger import (
        LEDGER_STATES,
        SLOTS_STATE,
        FundingRules,
        Genesis,
        Limits,
        Market,
        empty_roots,
    )
    from verifier.ledger import Roots as R
    from verifier.oracle import sign_report
    from verifier.protocol import Tags
    from verifier.statements.account_update import OpKind
    from verifier.statements.solvency_walk import check_solvency_walk

    params = load_params("test")
    tags = Tags.for_exchange("darkpool-dev")
    arts = {s: build_statement(s, "test") for s in LEDGER_STATES[SLOTS_STATE]}
    vkeys = {s: a.verification_key() for s, a in arts.items()}
    markets = (
        Market(0, "BTC-PERP", 1, 1, imf_bps=500, mmf_bps=300, fee_bps=5),
        Market(1, "ETH-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
    )
    imf = [m.imf_bps for m in markets]
    mmf = [m.mmf_bps for m in markets]
    fee = [m.fee_bps for m in markets]
    funding_rules = FundingRules(interval_s=10, premium_divisor=1, clamp_bps=1000)
    genesis = Genesis(
        exchange_id="darkpool-dev",
        params=params,
        markets=markets,
        oracle_pubkey=ORACLE_KEY.public_key(),
        operator_pubkey=OPERATOR_KEY.public_key(),
        limits=Limits(max_report_age_s=3600, min_price=1, max_move_bps=2000),
        vkey_hashes=vkey_hashes(vkeys),
        roots=empty_roots(params, SLOTS_STATE),
        min_deposit=1000,
        funding=funding_rules,
        state=SLOTS_STATE,
    )
    ledger = Ledger(OPERATOR_KEY, "darkpool-dev")
    ledger.append("genesis", genesis.roots, genesis.roots, genesis.to_json())
    rng = random.Random(7)
    book = AccountBook(params)
    fund, alice, bob = (PrivateKey(bytes([i]) * 32) for i in (2, 3, 4))

    def roots(account_root: int) -> R:
        return R(account=account_root, fill=0, order=0)

    def account_op(op: str, index: int, amount: int, key: PrivateKey, **kw: Any) -> None:
        nonlocal book
        kind = {"open": OpKind.OPEN, "deposit": OpKind.DEPOSIT, "withdraw": OpKind.WITHDRAW}[op]
        report = kw.pop("report", None)
        prices = report.marks if report is not None else (0, 0)
        signature = None
        if op == "withdraw":
            nonce = book.record(index).nonce
            signature = key.sign(withdraw_message(tags.withdraw, index, amount, nonce))
        out = build_account_update(
            book,
            int(kind),
            index,
            amount,
            key.public_key(),
            prices=prices,
            imf_bps=imf,
            funding=kw.get("funding", (0, 0)),
            tags=tags,
            signature=signature,
            new_blinding=lambda: rng.randrange(1, 1 << 200),
        )
        body = {
            "op": op,
            "account": index,
            "amount": str(amount),
            "pubkey": {"x": str(key.public_key().x), "y": str(key.public_key().y)},
            **({"marks": report.to_json()} if report is not None else {}),
            **_prove(arts["account_update"], out.inputs, out.public_inputs),
        }
        ledger.append("account_op", roots(book.root), roots(out.book.root), body, time=1000)
        book = out.book

    account_op("open", 0, 1000, fund)
    account_op("open", 1, 100_000, alice)
    account_op("open", 2, 100_000, bob)
    orders = (
        SlottedOrder(1, 1, 0, 0, 5, 100, 10**6, salt=11),
        SlottedOrder(2, 1, 0, 1, 5, 100, 10**6, salt=22),
        SlottedOrder(1, 2, 1, 0, 3, 50, 10**6, salt=33),
    )
    hs = tuple(order_hash(tags.order, o) for o in orders)
    for i, h in enumerate(hs):
        ledger.append(
            "order",
            roots(book.root),
            roots(book.root),
            {"order_index": i, "commitment": str(h)},
            time=1000,
        )
    ledger.append(
        "cancel", roots(book.root), roots(book.root), {"commitment": str(hs[2])}, time=1000
    )
    report = sign_report(ORACLE_KEY, tags.oracle, 1, 1000, MARKS, INDEX)
    indices = next_indices(
        [0, 0], MARKS, INDEX, premium_divisor=1, clamp_bps=funding_rules.clamp_bps
    )
    assert tuple(indices) == FUNDING
    ledger.append(
        "funding",
        roots(book.root),
        roots(book.root),
        {"oracle": report.to_json(), "indices": [str(f) for f in indices]},
        time=1000,
    )

    keys = {1: alice, 2: bob}

    def ops(start: AccountBook, items: list[tuple[SlottedOrder, bool]]) -> tuple[Any, Json]:
        out = build_order_ops(
            start,
            [
                OrderOp(
                    o,
                    keys[o.account].sign(
                        cancel_order_message(tags.cancel, order_hash(tags.order, o))
                        if cancel
                        else order_hash(tags.order, o)
                    ),
                    cancel,
                )
                for o, cancel in items
            ],
            tags=tags,
            batch_id=1,
            funding=FUNDING,
            new_blinding=lambda: rng.randrange(1, 1 << 200),
        )
        proof = {
            "statement": "order_ops",
            **_prove(arts["order_ops"], out.inputs, out.public_inputs),
            "roots_before": roots(start.root).to_json(),
            "roots_after": roots(out.book.root).to_json(),
            "cancels": [str(h) for h in out.cancel_signals],
            "places": [str(h) for h in out.place_signals],
        }
        return out.book, proof

    def fills(start: AccountBook) -> tuple[Any, Json]:
        out = build_settle_fills(
            start,
            [GroupFill(orders[0], orders[1], 5)],
            tags=tags,
            batch_id=1,
            timestamp=report.timestamp,
            prices=MARKS,
            funding=FUNDING,
            fee_bps=fee,
            imf_bps=imf,
            mmf_bps=mmf,
            new_blinding=lambda: rng.randrange(1, 1 << 200),
        )
        proof = {
            "statement": "settle_fills",
            **_prove(arts["settle_fills"], out.inputs, out.public_inputs),
            "roots_before": roots(start.root).to_json(),
            "roots_after": roots(out.book.root).to_json(),
            "volume": [str(v) for v in out.volume],
        }
        return out.book, proof

    placed, ops0 = ops(book, [(orders[0], False), (orders[1], False)])
    cancelled, ops1 = ops(placed, [(orders[2], True)])
    settled, fills0 = fills(cancelled)
    batch_body = {
        "batch_id": 1,
        "oracle": report.to_json(),
        "volume": ["5", "0"],
        "proofs": [ops0, ops1, fills0],
    }
    ledger.append("batch", roots(book.root), roots(settled.root), batch_body, time=1000)
    # The cheat: the same batch with the cancel proven after the fill group.
    filled_first, fills_early = fills(placed)
    cancelled_late, ops_late = ops(filled_first, [(orders[2], True)])
    late_body = {**batch_body, "proofs": [ops0, fills_early, ops_late]}
    late_roots = (roots(book.root).to_json(), roots(cancelled_late.root).to_json())
    book = settled
    account_op("withdraw", 2, 1000, bob, report=report, funding=FUNDING)
    walk = build_solvency_walk(book, MARKS, FUNDING, rng)
    publics = [w.public_inputs() for w in walk]
    result = check_solvency_walk(
        publics,
        params.account_levels,
        params.chunk_levels,
        200_000,
        params.markets,
    )
    assert result.totals is not None and not result.reasons, result.reasons
    chunks = [
        _prove(arts["solvency_walk"], w.to_circuit_inputs(), p)
        for w, p in zip(walk, publics, strict=True)
    ]
    totals = result.totals
    ledger.append(
        "solvency",
        roots(book.root),
        roots(book.root),
        {
            "account_root": str(book.root),
            "total_collateral": str(200_000),
            "oracle": report.to_json(),
            "stress": None,
            "chunks": chunks,
            "result": {
                "balance": str(totals.balance),
                "positions": [str(s) for s in totals.positions],
                "deficit": str(totals.deficit),
                "fund": str(totals.fund),
                "solvent": True,
                "reasons": [],
            },
        },
        time=1000,
    )
    export = ledger.export(tmp_path_factory.mktemp("slots") / "export", vkeys)
    late = read(entry_path(export, BATCH))
    late.update(late_body)
    late["roots_before"], late["roots_after"] = late_roots
    return SlotsLedger(export, hs, late)


def no_proof_checks(vk: Any, vk_json: Any, items: Any, progress: Any) -> list[int]:
    """A ProofChecker that accepts every proof: for cheats caught before any proof matters.

    Every proof here is a real one from the honest run (verified in
    ``test_honest_slots_ledger_verifies``); re-verifying them per cheat would only cost CI time.
    """
    return []


def copy_export(honest: SlotsLedger, tmp_path: Path) -> Path:
    target = tmp_path / "export"
    shutil.copytree(honest.export, target)
    return target


def structural_failure(export: Path) -> Any:
    return first(replay(export, checker=no_proof_checks))


def insert_entry(export: Path, at: int, obj: Json) -> None:
    """Insert ``obj`` as entry ``at``, renumber the later ones and re-link + re-sign the chain."""
    manifest = read(export / "ledger.json")
    n = manifest["entries"]
    for i in range(n - 1, at - 1, -1):
        moved = read(entry_path(export, i))
        moved["index"] = i + 1
        entry_path(export, i + 1).write_text(json.dumps(moved))
    entry_path(export, at).write_text(json.dumps({**obj, "index": at}))
    manifest["entries"] = n + 1
    (export / "ledger.json").write_text(json.dumps(manifest))
    resign(export)


def remove_entry(export: Path, removed: int) -> None:
    """Drop one entry, renumber the later ones and re-link + re-sign the chain."""
    manifest = read(export / "ledger.json")
    n = manifest["entries"]
    entry_path(export, removed).unlink()
    for i in range(removed + 1, n):
        obj = read(entry_path(export, i))
        obj["index"] = i - 1
        entry_path(export, i).unlink()
        entry_path(export, i - 1).write_text(json.dumps(obj))
    manifest["entries"] = n - 1
    (export / "ledger.json").write_text(json.dumps(manifest))
    resign(export)


# ---------------------------------------------------------------- honest ledger


def test_honest_slots_ledger_verifies(honest: SlotsLedger) -> None:
    """Every proof verifies and darkpool-verify says VALID, counting the slots statements."""
    genesis = read(honest.export / "genesis.json")
    assert genesis["state"] == "slots"
    assert sorted(genesis["vkey_hashes"]) == sorted(STAGED_STATEMENTS)
    assert genesis["roots_after"]["order"] == genesis["roots_after"]["fill"] == "0"
    rc, out, err = run_cli(str(honest.export), "--json", "--quiet")
    assert rc == 0, (out, err)
    data = json.loads(out)
    assert data["ok"] is True, data["failures"]
    assert data["state"] == "slots" and data["pending_cancels"] == []
    # Alice's ETH order was cancelled before any batch placed it: published, never placed.
    assert data["unplaced_orders"] == [2]
    counts = {s: n for s, n in data["proofs_verified_this_run"].items() if n}
    assert counts == {"order_ops": 2, "settle_fills": 1, "account_update": 4, "solvency_walk": 1}


def test_docs_name_every_slots_field(honest: SlotsLedger) -> None:
    """docs/ledger.md documents the slots genesis field, the cancel kind and the slots batch proofs."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text()
    sections = {part.split("\n", 1)[0].strip(): part for part in doc.split("\n## ")[1:]}
    common = sections["Common fields of every entry"]
    slots = sections['The slots ledger (`"state": "slots"`)']
    for key in read(honest.export / "genesis.json"):
        assert f"`{key}`" in common or f'"{key}"' in sections["genesis"], key
    for key in read(entry_path(honest.export, CANCEL)):
        assert f"`{key}`" in common or f'"{key}"' in sections["cancel"], key
    for proof in read(entry_path(honest.export, BATCH))["proofs"]:
        for key in proof:
            assert f'"{key}"' in slots, key


# ---------------------------------------------------------------- cheats


def test_cancelled_order_filled_fails_at_the_batch(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 8 / Deliver 7: the operator accepts bob's cancel, then fills bob's order.

    The batch does not execute the cancel (its order_ops cancel only alice's
    ETH order), so the replay fails the batch naming the unexecuted cancel.
    """
    export = copy_export(honest, tmp_path)
    cancel = read(entry_path(export, CANCEL))
    insert_entry(export, CANCEL + 1, {**cancel, "commitment": str(honest.commitments[1])})
    failure = structural_failure(export)
    assert failure.entry_index == BATCH + 1
    h = honest.commitments[1]
    assert failure.reason == f"cancel 1 of order {h:#x} was not executed by this batch"[:120]


def test_batch_cancel_without_cancel_entry_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """A batch that cancels an order no cancel entry announced fails (the cancels are exactly the entries)."""
    export = copy_export(honest, tmp_path)
    remove_entry(export, CANCEL)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH - 1
    h = honest.commitments[2]
    assert failure.reason == f"the batch cancels order {h:#x} without a cancel entry"[:120]


def test_cancel_of_an_unpublished_order_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, CANCEL, lambda e: e.__setitem__("commitment", "12345"))
    failure = structural_failure(export)
    assert failure.entry_index == CANCEL
    assert failure.reason == "cancel of order 0x3039, which no order entry published"


def test_cancel_executed_after_a_fill_group_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """Real proofs (built, not re-verified here), roots chained: order_ops (place),
    settle_fills, order_ops (cancel).

    The cancelled order could have filled in the group before its cancel was
    proven; the replay requires every order_ops proof before the fill groups.
    """
    export = copy_export(honest, tmp_path)
    entry_path(export, BATCH).write_text(json.dumps(honest.late_cancel_batch))
    resign(export)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH
    assert failure.reason == "proof 2 (order_ops): order ops after a fill group"


def test_privately_placed_order_fails_at_the_batch(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 12 / issue 10: an order placed (and filled) without its public ``order`` entry.

    The operator drops bob's order entry (renumbering the later order) but
    keeps the batch, whose real proofs place and fill bob's signed order:
    every proof still verifies, and darkpool-verify fails the batch naming
    the order no earlier entry published (its ``order_ops`` proof places it
    publicly, ``places[1]``).
    """
    export = copy_export(honest, tmp_path)
    remove_entry(export, ORDER_BOB)
    edit(export, ORDER_CANCELLED - 1, lambda e: e.__setitem__("order_index", 1))
    resign(export)
    rc, out, err = run_cli(str(export), "--json", "--quiet")
    assert rc != 0, (out, err)
    data = json.loads(out)
    h = honest.commitments[1]
    assert data["first_failure"] == {
        "entry": BATCH - 1,
        "reason": f"proof 0 (order_ops) op 1 places order {h:#x}, "
        "which no earlier order entry published",
    }


def test_order_published_after_its_batch_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """Publishing the order only after the batch that placed it (no time priority) fails too."""
    export = copy_export(honest, tmp_path)
    bob = read(entry_path(export, ORDER_BOB))
    remove_entry(export, ORDER_BOB)
    edit(export, ORDER_CANCELLED - 1, lambda e: e.__setitem__("order_index", 1))
    insert_entry(export, BATCH, {**bob, "order_index": 2})
    failure = structural_failure(export)
    assert failure.entry_index == BATCH - 1
    assert failure.reason.endswith("which no earlier order entry published")


def test_order_placed_twice_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """A batch placing alice's BTC order a second time fails naming it.

    The circuit refuses such a proof (a slot holding the order's own id
    only accepts a cancel: tests/circuits/test_order_ops.py), so the cheat
    is the batch's cancel proof with ``places[1]`` (an unused op) and the
    matching public signal set to alice's order, proofs not re-verified:
    the replay names the second placement before any proof matters.
    """
    export = copy_export(honest, tmp_path)
    h = honest.commitments[0]

    def place_again(batch: Json) -> None:
        proof = batch["proofs"][1]
        proof["places"][1] = str(h)
        proof["public_signals"][-1] = str(h)

    edit(export, BATCH, place_again)
    resign(export)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH
    assert (
        failure.reason
        == f"proof 1 (order_ops) op 1 places order {h:#x} again (it was placed before)"
    )


@pytest.mark.parametrize(
    ("index", "root", "got"),
    [(ORDER_ALICE, "order", "order 7, fill 0"), (BATCH, "fill", "order 0, fill 7")],
)
def test_nonzero_order_or_fill_root_fails(
    honest: SlotsLedger, tmp_path: Path, index: int, root: str, got: str
) -> None:
    """Under slots there is no order list or fill tree: a root set anyway fails that entry."""
    export = copy_export(honest, tmp_path)
    edit(export, index, lambda e: e["roots_after"].__setitem__(root, "7"))
    failure = structural_failure(export)
    assert failure.entry_index == index
    assert failure.reason == (
        f"roots_after: the order and fill roots of a slots ledger are 0 (got {got})"
    )


def test_proofs_at_other_funding_indices_fail(honest: SlotsLedger, tmp_path: Path) -> None:
    """The funding indices are public inputs from the replay, never from the operator.

    Without the funding entry the replay's indices are (0, 0), while the
    batch's proofs settled every account at (2, -1): its first proof fails
    naming the funding signal.
    """
    export = copy_export(honest, tmp_path)
    remove_entry(export, FUNDING_ENTRY)
    failure = structural_failure(export)
    assert failure.entry_index == BATCH - 1
    assert failure.reason == (
        "batch proof 0 (order_ops): public signal 3 is 2, but the ledger data give 0"
    )


def test_cancel_in_a_list_ledger_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """A cancel entry means nothing to a list ledger (no proof executes it): it fails there."""
    from verifier.ledger import LIST_STATE, empty_roots
    from verifier.params import CircuitParams
    from verifier.protocol import STATEMENTS

    export = copy_export(honest, tmp_path)
    genesis = read(export / "genesis.json")
    del genesis["state"]
    params = CircuitParams.from_dict("test", genesis["params"])
    empty = empty_roots(params, LIST_STATE).to_json()
    vk = read(export / "vkeys" / "account_update.json")
    for statement in STATEMENTS:
        (export / "vkeys" / f"{statement}.json").write_text(json.dumps(vk))
    genesis["vkey_hashes"] = {s: genesis["vkey_hashes"]["account_update"] for s in STATEMENTS}
    genesis["roots_before"] = genesis["roots_after"] = empty
    (export / "genesis.json").write_text(json.dumps(genesis))
    cancel = read(entry_path(export, CANCEL))
    cancel.update(index=1, roots_before=empty, roots_after=empty)
    for path in (export / "entries").glob("*.json"):
        path.unlink()
    entry_path(export, 1).write_text(json.dumps(cancel))
    (export / "ledger.json").write_text(json.dumps({"format": "darkpool-ledger/v2", "entries": 2}))
    resign(export)
    failure = structural_failure(export)
    assert failure.entry_index == 1
    assert failure.reason == "a cancel entry in a ledger whose genesis state is not 'slots'"


def test_slots_genesis_with_risk_rules_is_accepted(honest: SlotsLedger, tmp_path: Path) -> None:
    # Genesis risk rules are allowed under slots: sweeps and liquidations are
    # health_sweep_staged / liquidate_staged (verifier/ledger/risk_slots.py;
    # their cheats: tests/exchange/test_slots_risk_ledger.py). One batch
    # since genesis is within "a sweep every 2 batches".
    export = copy_export(honest, tmp_path)
    risk = {"sweep_interval_batches": 2, "sweep_interval_s": 0, "liquidation_fee_bps": [100, 100]}
    edit(export, 0, lambda g: g.__setitem__("risk", risk))
    report = replay(export, checker=no_proof_checks)
    assert report.ok, report.failures


def test_resumed_replay_keeps_pending_cancels(honest: SlotsLedger, tmp_path: Path) -> None:
    """--state after the cancel entry: the resumed run still requires the batch to execute it.

    A ledger that ends with a cancel not yet executed is VALID, and says so
    (``pending_cancels`` in --json, a note in the human summary).
    """
    from verifier.cli import _human_summary
    from verifier.ledger import ReplayState

    export = copy_export(honest, tmp_path)
    full = read(export / "ledger.json")
    (export / "ledger.json").write_text(json.dumps({**full, "entries": CANCEL + 1}))
    moved: list[tuple[Path, str]] = []
    for i in range(CANCEL + 1, full["entries"]):
        moved.append((entry_path(export, i), entry_path(export, i).read_text()))
        entry_path(export, i).unlink()
    head = replay(export, checker=no_proof_checks)
    assert head.ok and head.state is not None, head.failures
    assert head.to_dict()["pending_cancels"] == [str(honest.commitments[2])]
    summary = _human_summary("head", head, 0.0)
    assert "state slots" in summary
    assert "1 accepted cancel(s) not executed yet" in summary
    state = ReplayState.from_dict(json.loads(json.dumps(head.state.to_dict())))
    assert state.pending_cancels == [honest.commitments[2]]
    assert head.to_dict()["unplaced_orders"] == [0, 1, 2]
    assert list(state.unplaced_orders.values()) == [0, 1, 2]
    for path, text in moved:
        path.write_text(text)
    (export / "ledger.json").write_text(json.dumps(full))
    resumed = replay(export, state=state, checker=no_proof_checks)
    assert resumed.ok and resumed.to_dict()["unplaced_orders"] == [2]
    # A state in which bob's order was already placed: the batch places it again.
    placed = replace(state, unplaced_orders={honest.commitments[i]: i for i in (0, 2)})
    failure = first(replay(export, state=placed, checker=no_proof_checks))
    assert failure.entry_index == BATCH and failure.reason.endswith("again (it was placed before)")
    # The same state, but the batch no longer executes the cancel: the resumed run fails it.
    state.pending_cancels = [honest.commitments[1]]
    failure = first(replay(export, state=state, checker=no_proof_checks))
    assert failure.entry_index == BATCH
