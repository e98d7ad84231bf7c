"""Ledger replay (verifier.ledger, verifier.source, verifier.state, ``darkpool-verify``).

The honest ledger is the session's recycling-order ("slots") ledger of
tests/exchange/slots_ledger.py (fixture ``slots_ledger``, built once per
test session by ``exchange.operator.slots.SlotsOperator`` with real Groth16
proofs: account_update, order_ops, settle_fills, solvency_walk):

    0 genesis | 1-4 open (insurance fund 0, alice 1, bob 2, carol 3) | 5 deposit (carol)
    6-9 orders | 10 cancel | 11 batch (3 order_ops + 1 settle_fills) | 12 funding
    13 withdraw (alice, at the batch marks) | 14 solvency (solvency_walk)

The honest export must verify. Each tamper test copies it and changes one
thing the way a dishonest operator (holding its signing key: the change is
re-linked and re-signed, ``tests.verifier.ledger_files``) or a broken export
could, and checks the replay names the right entry with a specific reason.
The slots-only cheats (cancels, places, order and fill roots, funding
inputs) are in tests/verifier/test_slots_ledger.py. Tests may import prover
and exchange; the verifier itself never does (tests/verifier/test_isolation.py).
"""

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.slots_ledger import (
    BATCH,
    ENTRY_KINDS,
    ORDERS,
    SOLVENCY,
    WITHDRAW,
    SlotsLedger,
)
from tests.verifier.ledger_files import (
    OPERATOR_KEY,
    ORACLE_KEY,
    TAG,
    copy_export,
    edit,
    entry_path,
    first,
    read,
    remove_entry,
    replay,
    run_cli,
    write,
)
from verifier import groth16, ledger
from verifier.cli import main as cli_main
from verifier.eddsa import PrivateKey, public_key_to_dict
from verifier.field import R
from verifier.ledger import ReplayState, entry_hash, sign_entry
from verifier.oracle import key_hex, sign_report
from verifier.state import load_state, save_state

pytestmark = pytest.mark.slow

Json = Any
FUND_OPEN, OPEN_ALICE, OPEN_BOB, OPEN_CAROL, DEPOSIT = 1, 2, 3, 4, 5
ORDER_ALICE = ORDERS[0]
#: Every account_update entry (opens, the deposit, the withdrawal).
ACCOUNT_OPS = [FUND_OPEN, OPEN_ALICE, OPEN_BOB, OPEN_CAROL, DEPOSIT, WITHDRAW]
LAST = len(ENTRY_KINDS) - 1
# 1000 (insurance) + 100000 (alice) + 100000 (bob) + 50000 + 5000 (carol) - 1000 withdrawn
TOTAL_COLLATERAL = 255_000
#: The honest ledger's proofs by statement.
PROOFS = {"account_update": 6, "order_ops": 3, "settle_fills": 1, "solvency_walk": 1}


def proof_counts(counts: dict[str, int]) -> dict[str, int]:
    """The statements with at least one proof (the replay lists every genesis statement)."""
    return {statement: n for statement, n in counts.items() if n}


def truncate(export: Path, entries: int) -> None:
    """Keep the export's first ``entries`` entries (genesis included): an earlier snapshot."""
    for i in range(entries, len(ENTRY_KINDS)):
        entry_path(export, i).unlink()
    write(export / "ledger.json", {**read(export / "ledger.json"), "entries": entries})


@pytest.fixture(scope="module")
def honest(slots_ledger: SlotsLedger) -> SlotsLedger:
    return slots_ledger


@pytest.fixture(scope="module")
def ledger_id(honest: SlotsLedger) -> str:
    return entry_hash(read(honest.export / "genesis.json"))


@pytest.fixture(scope="module")
def unpinned_run(honest: SlotsLedger) -> tuple[int, str, str]:
    """``darkpool-verify SOURCE`` (human summary, nothing pinned): one run for every test reading it."""
    return run_cli(str(honest.export))


@pytest.fixture(scope="module")
def pinned_run(honest: SlotsLedger, ledger_id: str) -> tuple[int, str, str]:
    """The honest ledger with its keys, genesis and oracle key pinned, on 2 processes (one run)."""
    return run_cli(
        str(honest.export),
        "--vkeys",
        str(honest.export / "vkeys"),
        "--genesis",
        ledger_id,
        "--oracle-key",
        key_hex(ORACLE_KEY.public_key()),
        "--jobs",
        "2",
        "--quiet",
    )


# ---------------------------------------------------------------- honest ledger


def test_honest_ledger_verifies(honest: SlotsLedger) -> None:
    report = replay(honest.export)
    assert report.ok, report.failures
    assert report.checked_from == 1 and report.checked_to == LAST
    assert proof_counts(report.proofs_this_run) == PROOFS
    state = report.state
    assert state is not None
    assert state.account_count == 4
    assert len(state.order_commitments) == len(ORDERS)
    assert state.batches == 1 and state.last_batch_id == 1
    assert state.total_collateral == TOTAL_COLLATERAL
    last = read(entry_path(honest.export, SOLVENCY))
    assert state.roots.to_dict() == last["roots_after"]
    solvency = state.latest_solvency
    assert solvency is not None and solvency.solvent and not solvency.stress
    assert solvency.balance == TOTAL_COLLATERAL and solvency.positions == (0, 0)
    assert solvency.fund == int(last["result"]["fund"])


def test_cli_human_summary(honest: SlotsLedger, unpinned_run: tuple[int, str, str]) -> None:
    """The human summary (``--json``: test_slots_ledger.py::test_honest_slots_ledger_verifies)."""
    rc, out, err = unpinned_run  # bare SOURCE means `ledger SOURCE`
    assert rc == 0, err
    assert "RESULT: VALID" in out
    genesis = read(honest.export / "genesis.json")
    for digest in genesis["vkey_hashes"].values():
        assert digest in out  # printed for pinning
    # This genesis requires no health sweeps: the summary says so (newcomer review).
    assert not genesis.get("risk")
    assert "liquidation completeness is NOT enforced by this ledger" in out


def test_cli_pinned_keys_and_parallel_jobs(pinned_run: tuple[int, str, str]) -> None:
    rc, out, err = pinned_run  # --vkeys (the export's own keys) and --jobs 2
    assert rc == 0, err
    assert "match your pinned keys" in out and "RESULT: VALID" in out


# ---------------------------------------------------------------- tampering


def test_flipped_account_root_breaks_the_chain(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)

    def flip(e: Json) -> None:
        e["roots_before"]["account"] = str(int(e["roots_before"]["account"]) ^ 1)

    edit(export, BATCH, flip)
    failure = first(replay(export))
    assert failure.entry_index == BATCH
    assert "roots_before (account) differ" in failure.reason


def test_flipped_batch_proof_root_breaks_the_chain(honest: SlotsLedger, tmp_path: Path) -> None:
    """Inside a batch each proof starts where the previous one ended."""
    export = copy_export(honest, tmp_path)

    def flip(e: Json) -> None:
        e["proofs"][2]["roots_before"]["account"] = str(
            (int(e["proofs"][2]["roots_before"]["account"]) + 1) % R
        )

    edit(export, BATCH, flip)
    failure = first(replay(export))
    assert failure.entry_index == BATCH
    assert failure.reason == "batch proof 2 (order_ops) does not start from proof 1's roots_after"


def test_new_account_root_with_consistent_chain_fails_the_proof(
    honest: SlotsLedger, tmp_path: Path
) -> None:
    """Change an open's roots_after AND the next entry's roots_before: only the proof can tell."""
    export = copy_export(honest, tmp_path)
    fake = "12345"

    def after(e: Json) -> None:
        e["roots_after"]["account"] = fake
        e["public_signals"][1] = fake  # the operator's copy is made consistent too

    def before(e: Json) -> None:
        e["roots_before"]["account"] = fake
        e["public_signals"][0] = fake

    edit(export, OPEN_ALICE, after)
    edit(export, OPEN_BOB, before)
    report = replay(export)
    assert [(f.entry_index, f.reason) for f in sorted(report.failures)] == [
        (OPEN_ALICE, "account_op proof does not verify"),
        (OPEN_BOB, "account_op proof does not verify"),
    ]


def test_swapped_account_op_proofs(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    alice, bob = read(entry_path(export, OPEN_ALICE)), read(entry_path(export, OPEN_BOB))
    alice["proof"], bob["proof"] = bob["proof"], alice["proof"]
    write(entry_path(export, OPEN_ALICE), alice)
    write(entry_path(export, OPEN_BOB), bob)
    report = replay(export)
    assert sorted(f.entry_index for f in report.failures) == [OPEN_ALICE, OPEN_BOB]
    assert all(f.reason == "account_op proof does not verify" for f in report.failures)
    # The same through the process pool: find_invalid names the entries there too
    # (on the ledger's first entries, the four opens: the pool checks every proof).
    truncate(export, OPEN_CAROL + 1)
    report = replay(export, checker=ledger.check_proofs(2))
    assert sorted(f.entry_index for f in report.failures) == [OPEN_ALICE, OPEN_BOB]


def test_changed_oracle_price(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)

    def change(e: Json) -> None:
        e["oracle"]["marks"][0] = str(int(e["oracle"]["marks"][0]) + 1)

    edit(export, BATCH, change)
    failure = first(replay(export))
    assert failure.entry_index == BATCH
    assert "oracle report signature does not verify" in failure.reason


def test_batch_volume_not_the_sum(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, BATCH, lambda e: e["volume"].__setitem__(1, "3"))
    failure = first(replay(export))
    assert failure.entry_index == BATCH
    assert failure.reason == "volume [5, 3] is not the sum of the fill groups' volumes [5, 0]"


def test_batch_proof_volume_changed_everywhere_fails_the_proof(
    honest: SlotsLedger, tmp_path: Path
) -> None:
    export = copy_export(honest, tmp_path)

    def change(e: Json) -> None:
        e["volume"][0] = str(int(e["volume"][0]) + 1)
        p = e["proofs"][-1]
        assert p["statement"] == "settle_fills"
        p["volume"][0] = e["volume"][0]
        m = 2  # public layout: 2 roots, batchId, timestamp, prices[M], funding[M], volume[M], ...
        p["public_signals"][4 + 2 * m] = e["volume"][0]

    edit(export, BATCH, change)
    report = replay(export)
    assert [(f.entry_index, f.reason) for f in report.failures] == [
        (BATCH, "batch proof 3 (settle_fills) does not verify")
    ]


def test_dropped_entry_file(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    entry_path(export, ORDER_ALICE).unlink()
    failure = first(replay(export))
    assert (failure.entry_index, failure.reason) == (
        ORDER_ALICE,
        "entry is missing from the export",
    )


def test_dropped_entry_renumbered(honest: SlotsLedger, tmp_path: Path) -> None:
    """Drop carol's deposit and renumber everything after it, as a careful forger would."""
    export = copy_export(honest, tmp_path)
    remove_entry(export, DEPOSIT)
    failure = first(replay(export))
    assert failure.entry_index == DEPOSIT
    assert "roots_before (account) differ" in failure.reason


def test_reordered_entries(honest: SlotsLedger, tmp_path: Path) -> None:
    """Bob's open published before alice's (indices swapped, then the roots too)."""
    export = copy_export(honest, tmp_path)
    alice, bob = read(entry_path(export, OPEN_ALICE)), read(entry_path(export, OPEN_BOB))
    alice["index"], bob["index"] = OPEN_BOB, OPEN_ALICE
    write(entry_path(export, OPEN_ALICE), bob)
    write(entry_path(export, OPEN_BOB), alice)
    failure = first(replay(export))
    assert failure.entry_index == OPEN_ALICE
    assert "roots_before (account) differ" in failure.reason
    # A careful forger also swaps the roots: bob's open then takes the wrong account index.
    alice["roots_before"], bob["roots_before"] = bob["roots_before"], alice["roots_before"]
    alice["roots_after"], bob["roots_after"] = bob["roots_after"], alice["roots_after"]
    write(entry_path(export, OPEN_ALICE), bob)
    write(entry_path(export, OPEN_BOB), alice)
    failure = first(replay(export))
    assert failure.entry_index == OPEN_ALICE
    assert "open of account 2, but the next free index is 1" in failure.reason


def test_reordered_files_keep_their_index(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    a, b = entry_path(export, OPEN_BOB), entry_path(export, OPEN_CAROL)
    a_text, b_text = a.read_text(), b.read_text()
    a.write_text(b_text)
    b.write_text(a_text)
    failure = first(replay(export))
    assert failure.entry_index == OPEN_BOB
    assert f"holds an entry with index {OPEN_CAROL}" in failure.reason


def test_changed_deposit_amount(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, OPEN_ALICE, lambda e: e.__setitem__("amount", "100001"))
    failure = first(replay(export))
    assert failure.entry_index == OPEN_ALICE
    assert "public signal 4 is 100000, but the ledger data give 100001" in failure.reason


def test_changed_deposit_amount_and_signals(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)

    def change(e: Json) -> None:
        e["amount"] = "100001"
        e["public_signals"][4] = "100001"

    edit(export, OPEN_ALICE, change)
    report = replay(export)
    # The proof fails, and the solvency report no longer matches the (forged) collateral.
    assert [(f.entry_index, f.reason) for f in sorted(report.failures)] == [
        (OPEN_ALICE, "account_op proof does not verify"),
        (
            SOLVENCY,
            f"total_collateral {TOTAL_COLLATERAL} differs from the ledger's {TOTAL_COLLATERAL + 1}",
        ),
    ]
    assert report.first_failure is not None and report.first_failure.entry_index == OPEN_ALICE


def test_open_at_wrong_index(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, OPEN_BOB, lambda e: e.__setitem__("account", 5))
    failure = first(replay(export))
    assert failure.entry_index == OPEN_BOB
    assert "open of account 5, but the next free index is 2" in failure.reason


def test_withdraw_with_forged_marks(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, WITHDRAW, lambda e: e["marks"]["marks"].__setitem__(1, "1"))
    failure = first(replay(export))
    assert failure.entry_index == WITHDRAW
    assert "marks signature does not verify" in failure.reason


def test_replaced_verification_key(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    vkeys = export / "vkeys"
    shutil.copy(vkeys / "settle_fills.json", vkeys / "account_update.json")
    failure = first(replay(export))
    assert failure.entry_index == 0
    assert "vkeys/account_update.json hashes to" in failure.reason


def test_replaced_key_and_genesis_hash_caught_by_pins(honest: SlotsLedger, tmp_path: Path) -> None:
    """A forger who also rewrites genesis gets past the export's own hashes, not past pins."""
    export = copy_export(honest, tmp_path)
    pinned = tmp_path / "pinned"
    shutil.copytree(honest.export / "vkeys", pinned)
    vk = read(export / "vkeys" / "account_update.json")
    vk["IC"][0], vk["IC"][1] = vk["IC"][1], vk["IC"][0]
    write(export / "vkeys" / "account_update.json", vk)
    edit(export, 0, lambda g: g["vkey_hashes"].__setitem__("account_update", groth16.vkey_hash(vk)))
    # Without pins the forged key is self-consistent: the proofs then fail.
    report = replay(export)
    assert sorted({f.entry_index for f in report.failures}) == ACCOUNT_OPS
    # With pins, genesis itself is rejected.
    rc, out, _ = run_cli(str(export), "--vkeys", str(pinned), "--quiet")
    assert rc == 1
    assert "RESULT: INVALID at entry 0: genesis pins account_update key" in out


def test_exported_keys_have_a_phase2_contribution(honest: SlotsLedger) -> None:
    for path in sorted((honest.export / "vkeys").glob("*.json")):
        vk = read(path)
        assert vk["vk_delta_2"] != vk["vk_gamma_2"], path.name
        groth16.VerificationKey.from_snarkjs(vk)  # the verifier's key check accepts it


def test_forged_proofs_on_a_key_without_phase2(
    honest: SlotsLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10 case 1: an operator publishing an account_update key with delta == gamma
    forges every account_update proof (A = alpha, B = beta, C = -vk_x) and a withdrawal
    that sets the account root to 424242. Only the verifier's key check stands between it
    and VALID."""
    from tests.verifier.forgery import forged_proof, without_phase2

    export = copy_export(honest, tmp_path)
    entry_path(export, SOLVENCY).unlink()  # its (honest) proof is over the real root
    manifest = read(export / "ledger.json")
    manifest["entries"] -= 1
    write(export / "ledger.json", manifest)
    vk = without_phase2(read(export / "vkeys" / "account_update.json"))
    write(export / "vkeys" / "account_update.json", vk)
    edit(export, 0, lambda g: g["vkey_hashes"].__setitem__("account_update", groth16.vkey_hash(vk)))

    def rob(e: Json) -> None:
        e["roots_after"]["account"] = "424242"
        e["public_signals"][1] = "424242"

    edit(export, WITHDRAW, rob)
    for index in ACCOUNT_OPS:
        edit(export, index, lambda e: e.__setitem__("proof", forged_proof(vk, e["public_signals"])))
    with monkeypatch.context() as patch:
        patch.setattr(groth16, "_check_phase2", lambda key: None)
        assert replay(export).ok  # every forged proof passes the pairing check
    reason = (
        "account_update verification key: vk.vk_delta_2 equals vk.vk_gamma_2: the key has no "
        "phase-2 contribution, so anyone can forge proofs for it"
    )
    failure = first(replay(export))
    assert (failure.entry_index, failure.reason) == (0, reason)
    # Pinning the operator's published keys does not help the forger.
    rc, out, _ = run_cli(str(export), "--vkeys", str(export / "vkeys"), "--quiet")
    assert rc == 1
    assert f"RESULT: INVALID at entry 0: {reason}" in out


def test_altered_solvency_total(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, SOLVENCY, lambda e: e.__setitem__("total_collateral", "255001"))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert "total_collateral 255001 differs from the ledger's 255000" in failure.reason


def test_altered_solvency_result(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, SOLVENCY, lambda e: e["result"].__setitem__("deficit", "7"))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert "result.deficit is 7, but the proofs open 0" in failure.reason


def test_altered_solvency_opening_fails_the_proof(honest: SlotsLedger, tmp_path: Path) -> None:
    """Raise the opened fund in the walk's signals and the result: the checks pass, the proof not."""
    export = copy_export(honest, tmp_path)

    def change(e: Json) -> None:
        signals = e["chunks"][-1]["public_signals"]
        signals[-1] = str(int(signals[-1]) + 5)  # openFund
        e["result"]["fund"] = signals[-1]

    edit(export, SOLVENCY, change)
    report = replay(export)
    assert [(f.entry_index, f.reason) for f in report.failures] == [
        (SOLVENCY, "solvency chunk 0 does not verify")
    ]


def test_solvency_at_another_root(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    edit(export, SOLVENCY, lambda e: e.__setitem__("account_root", "99"))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert failure.reason == "account_root is not the current account root"


def test_first_failure_is_the_earliest(honest: SlotsLedger, tmp_path: Path) -> None:
    """A bad proof before a structural break is reported first (proofs before it are checked)."""
    export = copy_export(honest, tmp_path)
    alice, bob = read(entry_path(export, OPEN_ALICE)), read(entry_path(export, OPEN_BOB))
    alice["proof"] = bob["proof"]
    write(entry_path(export, OPEN_ALICE), alice)
    entry_path(export, BATCH).unlink()
    report = replay(export)
    assert [f.entry_index for f in sorted(report.failures)] == [OPEN_ALICE, BATCH]
    assert report.first_failure == ledger.LedgerFailure(
        OPEN_ALICE, "account_op proof does not verify"
    )


def test_wrong_format_and_extra_entry(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    manifest = read(export / "ledger.json")
    write(export / "ledger.json", {**manifest, "format": "darkpool-ledger/v0"})
    failure = first(replay(export))
    assert failure.entry_index == 0 and "is not supported" in failure.reason
    write(export / "ledger.json", {**manifest, "entries": manifest["entries"] - 1})
    failure = first(replay(export))
    n = manifest["entries"] - 1
    assert (failure.entry_index, failure.reason) == (
        n,
        f"the export holds entry {n}, beyond the {n} entries ledger.json declares",
    )


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "case",
    ["missing", "not_a_dir", "manifest_junk", "genesis_missing", "entry_junk", "url"],
)
def test_unreadable_input_exits_2(honest: SlotsLedger, tmp_path: Path, case: str) -> None:
    export = copy_export(honest, tmp_path)
    source = str(export)
    if case == "missing":
        source = str(tmp_path / "nowhere")
    elif case == "not_a_dir":
        source = str(export / "ledger.json")
    elif case == "manifest_junk":
        (export / "ledger.json").write_text("{not json")
    elif case == "genesis_missing":
        (export / "genesis.json").unlink()
    elif case == "entry_junk":
        entry_path(export, BATCH).write_bytes(b"\xff\xfe junk")
    else:
        source = "https://example.invalid/ledger"
    rc, out, err = run_cli(source, "--quiet")
    assert rc == 2, (out, err)
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("darkpool-verify: ") and "Traceback" not in err


def test_in_process_cli_junk_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ledger.json").write_text("[]")
    assert cli_main([str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == "darkpool-verify: ledger manifest: ledger.json is not a JSON object\n"


# ---------------------------------------------------------------- incremental


def test_incremental_rerun_checks_only_new_entries(honest: SlotsLedger, tmp_path: Path) -> None:
    export = copy_export(honest, tmp_path)
    state_file = tmp_path / "state.json"
    # An earlier snapshot of the same ledger, verified and saved as `--state` does:
    # entries 0..BATCH-1 (the opens, orders and cancel).
    partial = tmp_path / "partial"
    shutil.copytree(export, partial)
    truncate(partial, BATCH)
    head = replay(partial)
    assert head.ok and head.state is not None, head.failures
    assert proof_counts(head.proofs_this_run) == {"account_update": 5}
    save_state(state_file, head.state)
    saved, note = load_state(state_file)
    assert note is None and saved is not None and saved.last_index == BATCH - 1
    assert saved.pending_cancels  # the cancel waits for the batch

    rc, out, err = run_cli(str(export), "--state", str(state_file), "--json", "--quiet")
    assert rc == 0, err
    data = json.loads(out)
    assert data["resumed"] is True
    assert (data["checked_from"], data["checked_to"]) == (BATCH, LAST)
    assert proof_counts(data["proofs_verified_this_run"]) == {**PROOFS, "account_update": 1}
    assert data["proofs_verified_total"] == sum(PROOFS.values())
    saved, _ = load_state(state_file)
    assert saved is not None and saved.last_index == LAST and not saved.pending_cancels
    # The resumed run extends the per-entry hashes (they name a rewrite next time).
    assert len(saved.entry_hashes) == len(ENTRY_KINDS)

    # Nothing new: nothing to check, still valid.
    rc, out, err = run_cli(str(export), "--state", str(state_file), "--json", "--quiet")
    assert rc == 0, err
    data = json.loads(out)
    assert sum(data["proofs_verified_this_run"].values()) == 0
    assert data["latest_solvency"]["solvent"] is True


def test_incremental_state_of_another_genesis_fails(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 6: a state file verified against another genesis is a failure, not a note."""
    full = replay(honest.export)
    assert full.state is not None
    other = ReplayState.from_dict({**full.state.to_dict(), "ledger_id": "0" * 64})
    failure = first(replay(honest.export, state=other))
    assert failure.entry_index == 0
    assert "state file was verified against genesis" in failure.reason
    # The same through the CLI: the operator rewrote genesis (here: its limits) and re-signed.
    export = copy_export(honest, tmp_path)
    state_file = tmp_path / "state.json"
    save_state(state_file, full.state)  # what `--state` saves after a VALID run
    edit(export, 0, lambda g: g["limits"].__setitem__("max_move_bps", 100_000))
    rc, out, _ = run_cli(str(export), "--state", str(state_file), "--quiet")
    assert rc == 1
    assert "RESULT: INVALID at entry 0: the state file was verified against genesis" in out


def test_incremental_detects_rewritten_history(honest: SlotsLedger, tmp_path: Path) -> None:
    full = replay(honest.export)
    assert full.ok and full.state is not None
    export = copy_export(honest, tmp_path)
    edit(export, SOLVENCY, lambda e: e.__setitem__("stress", {"shock_bps": [-2000, -2000]}))
    report = replay(export, state=full.state)
    failure = first(report)
    assert failure.entry_index == SOLVENCY
    assert "changed since it was verified" in failure.reason
    # A ledger that shrank below what was verified.
    write(export / "ledger.json", {**read(export / "ledger.json"), "entries": 5})
    failure = first(replay(export, state=full.state))
    assert "entries were removed" in failure.reason


def test_state_roundtrip(honest: SlotsLedger) -> None:
    full = replay(honest.export)
    assert full.state is not None
    again = ReplayState.from_dict(json.loads(json.dumps(full.state.to_dict())))
    assert again == full.state


# ---------------------------------------------------------------- trust model (issue 10)


def test_unsigned_edit_fails_the_operator_signature(honest: SlotsLedger, tmp_path: Path) -> None:
    """Anyone but the operator editing an entry breaks its signature (the operator key is in genesis)."""
    export = copy_export(honest, tmp_path)
    obj = read(entry_path(export, OPEN_BOB))
    obj["amount"] = "100001"
    write(entry_path(export, OPEN_BOB), obj, sign=False)
    failure = first(replay(export))
    assert failure.entry_index == OPEN_BOB
    assert failure.reason == "operator signature does not verify under the genesis operator key"


def test_rewritten_entry_breaks_the_hash_chain(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 6: rewriting a past entry (re-signed alone) breaks the next entry's prev_hash."""
    export = copy_export(honest, tmp_path)
    path = entry_path(export, ORDER_ALICE)
    old = read(path)
    obj = sign_entry(OPERATOR_KEY, TAG, {**old, "time": int(old["time"]) + 1})
    write(path, obj, sign=False)
    failure = first(replay(export))
    assert failure.entry_index == ORDER_ALICE + 1
    assert failure.reason == (
        f"prev_hash is not the hash of entry {ORDER_ALICE} (the history was rewritten)"
    )


def test_genesis_and_oracle_key_pins(
    honest: SlotsLedger,
    tmp_path: Path,
    ledger_id: str,
    unpinned_run: tuple[int, str, str],
    pinned_run: tuple[int, str, str],
) -> None:
    """Issue 10 case 5: --genesis and --oracle-key pin the ledger and the oracle; both are printed."""
    oracle_hex = key_hex(ORACLE_KEY.public_key())
    rc, out, err = unpinned_run
    assert rc == 0, err
    assert f"genesis        {ledger_id}  NOT pinned" in out
    assert f"oracle key     {oracle_hex}  NOT pinned" in out
    rc, out, err = pinned_run  # --genesis ledger_id --oracle-key oracle_hex
    assert rc == 0, err
    assert "pinned (--genesis)" in out and "pinned (--oracle-key)" in out
    # The operator's own oracle key in genesis (re-signed, so genesis hash changes too).
    export = copy_export(honest, tmp_path)
    operator_oracle = PrivateKey(b"\x42" * 32).public_key()
    edit(export, 0, lambda g: g.__setitem__("oracle_pubkey", public_key_to_dict(operator_oracle)))
    rc, out, _ = run_cli(str(export), "--oracle-key", oracle_hex, "--quiet")
    assert rc == 1
    assert (
        f"RESULT: INVALID at entry 0: the genesis oracle key is {key_hex(operator_oracle)}, "
        f"not the pinned {oracle_hex}"
    ) in out
    rc, out, _ = run_cli(str(export), "--genesis", ledger_id, "--quiet")
    assert rc == 1
    assert "RESULT: INVALID at entry 0: the genesis hash is" in out and ledger_id in out
    rc, _, err = run_cli(str(export), "--genesis", "xyz", "--quiet")
    assert rc == 2 and "--genesis must be 64 hex digits" in err


def test_stress_marks_are_derived_not_signed(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 2: stress marks come from a public shock vector, never from a signature.

    Relabelling the honest (real-marks) solvency report as a stress scenario
    makes the verifier derive other marks, which the proven walk does not use.
    """
    export = copy_export(honest, tmp_path)
    edit(export, SOLVENCY, lambda e: e.__setitem__("stress", {"shock_bps": [90_000, 90_000]}))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert failure.reason == "solvency: the chunks' prices differ from the oracle prices"


def test_zero_stress_relabel_is_refused(honest: SlotsLedger, tmp_path: Path) -> None:
    """A real solvency report relabelled as a zero-shock "stress" scenario is refused.

    Otherwise an insolvent real report would pass as a mere stress warning.
    """
    export = copy_export(honest, tmp_path)
    edit(export, SOLVENCY, lambda e: e.__setitem__("stress", {"shock_bps": [0, 0]}))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert failure.reason == "stress: the shock vector leaves every mark unchanged"


def test_withdrawal_at_signed_shocked_marks(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 2, the old attack: a withdrawal checked at +1000% marks the oracle key signed.

    Even with the oracle key (the worst case: an operator that holds it), a
    report that moves the marks beyond the genesis price band is refused,
    naming the withdrawal, and a second report under the same seq is refused.
    """
    export = copy_export(honest, tmp_path)
    w = read(entry_path(export, WITHDRAW))
    real = w["marks"]
    shocked = [int(p) * 11 for p in real["marks"]]
    index = [int(p) for p in real["index"]]
    tag = honest.tags.oracle
    same_seq = sign_report(ORACLE_KEY, tag, real["seq"], real["timestamp"], shocked, index)
    edit(export, WITHDRAW, lambda e: e.__setitem__("marks", same_seq.to_json()))
    failure = first(replay(export))
    assert failure.entry_index == WITHDRAW
    assert failure.reason == f"marks differs from the report with the same seq {real['seq']}"

    later = sign_report(ORACLE_KEY, tag, real["seq"] + 1, real["timestamp"] + 1, shocked, index)

    def use_later(e: Json) -> None:
        e["marks"] = later.to_json()
        e["time"] = real["timestamp"] + 1

    edit(export, WITHDRAW, use_later)
    failure = first(replay(export))
    assert failure.entry_index == WITHDRAW
    assert failure.reason == (
        f"marks moves the mark of market 0 from {real['marks'][0]} to {shocked[0]}, "
        "more than the genesis price band of 2000 bps per report"
    )


def test_stale_and_time_travelling_reports(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 4 (time): an entry may not use a report older than the genesis bound."""
    export = copy_export(honest, tmp_path)
    edit(export, WITHDRAW, lambda e: e.__setitem__("time", 1000 + 3601))
    failure = first(replay(export))
    assert failure.entry_index == WITHDRAW
    assert failure.reason == (
        "marks is 3601 s old at the entry's time 4601, more than the genesis maximum of 3600 s"
    )
    edit(export, WITHDRAW, lambda e: e.__setitem__("time", 999))
    failure = first(replay(export))
    assert failure.entry_index == WITHDRAW
    assert failure.reason == "time 999 is before the previous entry's 1000"


def test_backdated_batch_fills_an_expired_order(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 4: batch 2 timed before batch 1 would fill an order already expired.

    A dishonest operator (its own checks switched off) runs a second batch on
    an oracle report timed 990 after batch 1 at 1000, filling two orders that
    expire at 995 — with real proofs (one order_ops, one settle_fills). The
    verifier names the batch.
    """
    from verifier.account_state import SlottedOrder, order_hash
    from verifier.encoding import BUY, SELL

    op = copy.deepcopy(honest.operator)
    tags = honest.tags
    keys = honest.keys
    op._check_report = lambda report: None  # the cheat: skip the report rules
    op._clock = lambda: 990
    buy = SlottedOrder(1, 2, 0, BUY, 1, 110, 995, salt=55)  # alice, order id 2
    sell = SlottedOrder(2, 2, 0, SELL, 1, 90, 995, salt=66)  # bob, order id 2
    op.submit_order(buy, keys["alice"].sign(order_hash(tags.order, buy)))
    op.submit_order(sell, keys["bob"].sign(order_hash(tags.order, sell)))
    op.last_batch_timestamp = None
    summary = op.run_batch(op.oracle.report(2, 990))
    assert [(f.quantity, f.market) for f in summary.fills] == [(1, 0)]
    export = op.export(tmp_path / "backdated")
    failure = first(replay(export))
    assert failure.entry_index == summary.entry.index
    assert failure.reason == (
        "batch timestamp 990 (its oracle report's) does not increase (last batch at 1000)"
    )
    # darkpool-verify following the ledger (--state after the honest entries) names it too.
    state = replay(honest.export).state
    assert state is not None
    save_state(tmp_path / "state.json", state)
    rc, out, _ = run_cli(str(export), "--state", str(tmp_path / "state.json"), "--quiet")
    assert rc == 1
    assert f"RESULT: INVALID at entry {summary.entry.index}: batch timestamp 990" in out


def test_docs_name_every_field(honest: SlotsLedger) -> None:
    """docs/ledger.md documents every kind and every field the models write (tested, not hoped).

    The slots batch proofs' fields and the cancel kind: test_slots_ledger.py's
    test_docs_name_every_slots_field."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text()
    sections = {part.split("\n", 1)[0].strip(): part for part in doc.split("\n## ")[1:]}
    common = sections["Common fields of every entry"]
    assert set(ledger.ENTRY_KINDS) <= set(sections)
    for obj in map(honest.entry, range(len(ENTRY_KINDS))):
        section = sections[obj["kind"]]
        for key in obj:
            assert f"`{key}`" in common or f'"{key}"' in section, (obj["kind"], key)
    report_doc = sections["Oracle reports"]
    for key in honest.entry(BATCH)["oracle"]:
        assert f'"{key}"' in report_doc, key


# ---------------------------------------------------------------- issue 10 leftovers


def test_incremental_names_the_rewritten_past_entry(honest: SlotsLedger, tmp_path: Path) -> None:
    """Issue 10 case 6 with --state: a rewritten past entry fails AT that entry.

    The state (through its file format) holds every verified entry's hash. The
    operator rewrites the batch of an already verified ledger, re-chains and
    re-signs all later entries: the resumed run names the batch, not the last
    entry. Replacing bob's open alone, without re-chaining, is named at it too.
    """
    full = replay(honest.export)
    assert full.ok and full.state is not None
    state = ReplayState.from_dict(json.loads(json.dumps(full.state.to_dict())))
    assert state.entry_hashes[0] == state.ledger_id
    assert len(state.entry_hashes) == len(ENTRY_KINDS)
    assert state.entry_hashes[-1] == state.last_entry_hash
    rechained = copy_export(honest, tmp_path)
    edit(rechained, BATCH, lambda e: e.__setitem__("time", int(e["time"]) + 1))
    failure = first(replay(rechained, state=state))
    assert failure.entry_index == BATCH
    assert failure.reason == (
        "this entry changed since it was verified (the ledger must be append-only)"
    )
    # One file replaced and signed, the chain after it left alone.
    export = tmp_path / "replaced"
    shutil.copytree(honest.export, export)
    path = entry_path(export, OPEN_BOB)
    bob = read(path)
    bob = sign_entry(OPERATOR_KEY, TAG, {**bob, "time": int(bob["time"]) + 1})
    path.write_text(json.dumps(bob))
    failure = first(replay(export, state=state))
    assert failure.entry_index == OPEN_BOB
    assert "changed since it was verified" in failure.reason
    # A state file from before per-entry hashes: a re-chained rewrite is seen at its last entry.
    old = ReplayState.from_dict({**state.to_dict(), "entry_hashes": []})
    assert first(replay(rechained, state=old)).entry_index == LAST
    # Inconsistent hash lists are a malformed state (the CLI then starts over).
    with pytest.raises(ValueError, match="entry_hashes"):
        ReplayState.from_dict({**state.to_dict(), "entry_hashes": state.entry_hashes[:-1]})


def test_unknown_fields_are_refused(honest: SlotsLedger, tmp_path: Path) -> None:
    """An entry may carry only the fields the format defines (re-signed, so content decides).

    A field the verifier does not read could tell a reader something unverified
    ("audited": true), so it is a failure at that entry, top level or nested.
    """
    export = copy_export(honest, tmp_path)
    edit(export, BATCH, lambda e: e.__setitem__("audited", True))
    failure = first(replay(export))
    assert failure.entry_index == BATCH
    assert failure.reason == "entry has a field the format does not define: 'audited'"
    export = tmp_path / "nested"
    shutil.copytree(honest.export, export)
    edit(export, SOLVENCY, lambda e: e["result"].__setitem__("insurance_topped_up", "5000"))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert failure.reason == (
        "entry has a field the format does not define: 'result.insurance_topped_up'"
    )
    export = tmp_path / "genesis"
    shutil.copytree(honest.export, export)
    edit(export, 0, lambda g: g.__setitem__("insurance_guaranteed_by", "the operator"))
    failure = first(replay(export))
    assert failure.entry_index == 0
    assert failure.reason == (
        "genesis has a field the format does not define: 'insurance_guaranteed_by'"
    )


def test_noncanonical_spellings_are_refused(honest: SlotsLedger, tmp_path: Path) -> None:
    """One entry, one hash: a value the parsers would accept in another JSON spelling fails.

    Found by the newcomer review: ``"amount": 100000`` (a number where the
    format writes ``"100000"``) and an extra key set to ``null`` replayed VALID,
    so the operator could publish the same entry under two hashes. Each case is
    re-signed, so only the spelling differs.
    """
    cases: list[tuple[int, Callable[[dict[str, Any]], object], str]] = [
        (WITHDRAW, lambda e: e.__setitem__("amount", int(e["amount"])), "'amount'"),
        (BATCH, lambda e: e.__setitem__("audited", None), "'audited'"),
        (SOLVENCY, lambda e: e["result"].__setitem__("note", None), "'result.note'"),
        (0, lambda g: g.__setitem__("operator_promises", None), "'operator_promises'"),
    ]
    for n, (index, change, field) in enumerate(cases):
        export = tmp_path / f"case{n}"
        shutil.copytree(honest.export, export)
        edit(export, index, change)
        failure = first(replay(export))
        assert failure.entry_index == index
        what = "genesis" if index == 0 else "entry"
        assert failure.reason == (
            f"{what} field {field} is not written in the format's canonical form (docs/ledger.md)"
        )


def test_solvency_result_must_match_the_replay(honest: SlotsLedger, tmp_path: Path) -> None:
    """The published solvency verdict and its reasons are the replay's, not the operator's words."""
    export = copy_export(honest, tmp_path)
    edit(export, SOLVENCY, lambda e: e["result"].__setitem__("solvent", False))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert failure.reason == "result.solvent is False, the proofs say True"
    claimed = "deficit 0 exceeds the insurance fund 0"
    export = tmp_path / "reasons"
    shutil.copytree(honest.export, export)
    edit(export, SOLVENCY, lambda e: e["result"].__setitem__("reasons", [claimed]))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert failure.reason == f"result.reasons are {[claimed]}, but the replay finds []"
    export = tmp_path / "silent"
    shutil.copytree(honest.export, export)
    edit(export, SOLVENCY, lambda e: e["result"].pop("solvent"))
    failure = first(replay(export))
    assert failure.entry_index == SOLVENCY
    assert failure.reason == "result has no 'solvent'"


def test_open_below_genesis_min_deposit(honest: SlotsLedger, tmp_path: Path) -> None:
    """Genesis min_deposit is a replay rule: an open (not the insurance fund) below it fails.

    The operator publishes min_deposit 100,001 but opened alice with 100,000.
    Entry 1 (the insurance fund, account 0, 1,000) is exempt.
    """
    export = copy_export(honest, tmp_path)
    edit(export, 0, lambda g: g.__setitem__("min_deposit", 100_001))
    failure = first(replay(export))
    assert failure.entry_index == OPEN_ALICE
    assert failure.reason == "open with a deposit of 100000, below the genesis min_deposit 100001"
    edit(export, 0, lambda g: g.__setitem__("min_deposit", -1))
    failure = first(replay(export))
    assert failure.entry_index == 0
    assert "min_deposit" in failure.reason
