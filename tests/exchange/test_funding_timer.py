"""Funding keeps its own timer when nobody trades (issue 11, Deliver 3).

With genesis ``funding.interval_s``, the batcher runs a batch without live
orders once a funding interval has ended (``Jobs.funding_due_now``); the
update rides before it at the batch's report. After a stop longer than an
interval, the next update pays every elapsed interval and the schedule stays
anchored (``verifier.funding.elapsed_intervals``). Slots service with a
stand-in prover (public signals, a well-formed but invalid proof): the
service's logic only; the export replays without proof checks.
"""

from pathlib import Path
from typing import Any

import pytest
from py_ecc.bn128 import G2

from exchange.core.config import Settings
from exchange.service import Service
from tests.clock import ManualClock
from tests.exchange.slots_ledger import stand_in_prover
from tests.verifier.ledger_files import no_proof_checks, replay

pytestmark = pytest.mark.slow
INTERVAL_S = 60


def shaped_stand_in(artifacts: Any, inputs: Any) -> tuple[dict[str, Any], list[str]]:
    """``stand_in_prover`` with a well-formed (generator-point, never valid) Groth16 proof,
    so the export parses; it replays with ``no_proof_checks`` only."""
    _, public = stand_in_prover(artifacts, inputs)
    x, y = G2[0].coeffs, G2[1].coeffs
    g2 = [[str(int(x[0])), str(int(x[1]))], [str(int(y[0])), str(int(y[1]))], ["1", "0"]]
    g1 = ["1", "2", "1"]
    return {"protocol": "groth16", "curve": "bn128", "pi_a": g1, "pi_b": g2, "pi_c": g1}, public


def _new_kinds(svc: Service, before: int) -> list[str]:
    return [e.kind for e in svc.op.ledger.entries[before:]]


def _open_account(svc: Service, clock: ManualClock, seed: bytes) -> tuple[Any, int]:
    """(key, account index) of an account opened with 10,000 by the key of ``seed``."""
    from verifier import auth
    from verifier.eddsa import PrivateKey

    key = PrivateKey(seed)
    pub = key.public_key()
    opened = auth.open_account_message(svc.tags.auth, pub, 10_000, clock.now)
    a, _ = svc.open_account(pub, 10_000, clock.now, key.sign(opened))
    return key, a


def _settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    return Settings(
        state="slots",
        data_dir=data,
        database_url=f"sqlite:///{(tmp_path / 'darkpool.sqlite3').resolve()}",
        batch_interval_s=0,  # the test turns the batcher's crank itself
        operator_token="t" * 24,
        oracle_step_bps=0,
        funding_interval_s=INTERVAL_S,
    )


def test_batcher_pays_funding_on_its_own_timer_without_orders(tmp_path: Path) -> None:
    clock = ManualClock()
    svc = Service(_settings(tmp_path), clock=clock, prove=shaped_stand_in)
    svc.start(background=False)
    try:
        op = svc.op
        assert not svc.funding_due_now() and not svc.batcher_tick()  # no batch, no positions
        before = len(op.ledger)
        svc.run_batch()  # the first update rides before the first batch and starts the clock
        assert _new_kinds(svc, before) == ["funding", "batch"]
        start = op.funding_clock
        assert start == op.funding_timestamp == op.latest_report.timestamp

        clock.now = start + INTERVAL_S - 1
        assert not svc.funding_due_now() and not svc.batcher_tick()
        clock.now += 1
        assert svc.funding_due_now()
        before = len(op.ledger)
        assert svc.batcher_tick()  # no live order, but an interval has ended
        assert _new_kinds(svc, before) == ["funding", "batch"]
        assert op.funding_clock == start + INTERVAL_S
        assert not svc.funding_due_now() and not svc.batcher_tick()

        # No tick for 3.5 intervals (the service was stopped): the next update pays the
        # 3 whole intervals and the clock stays on the schedule (the half is not lost).
        clock.now = start + 4 * INTERVAL_S + INTERVAL_S // 2
        before = len(op.ledger)
        assert svc.batcher_tick()
        assert _new_kinds(svc, before) == ["funding", "batch"]
        assert op.funding_clock == start + 4 * INTERVAL_S
        clock.now = start + 5 * INTERVAL_S  # the next interval ends on the schedule
        assert svc.funding_due_now()
        out = op.export(tmp_path / "export")
    finally:
        svc.stop()
    report = replay(Path(out), checker=no_proof_checks)
    assert report.ok, [str(f) for f in report.failures]
    assert report.to_dict()["risk"]["funding_updates"] == 3


def test_withdrawal_while_funding_is_due_publishes_the_update_first(tmp_path: Path) -> None:
    """A withdrawal arriving after a funding interval ended, before the batcher's tick:
    the service runs the batch first (its funding update at a fresh report), then the
    withdrawal settles at the new indices; the ledger reads funding, batch, account_op
    and replays. Inside the interval a withdrawal is one account_op at the latest marks.
    At stale marks the operator itself refuses (verifier rule "funding overdue")."""
    from exchange.operator import OperatorError
    from verifier.encoding import withdraw_message

    clock = ManualClock()
    svc = Service(_settings(tmp_path), clock=clock, prove=shaped_stand_in)
    svc.start(background=False)
    try:
        op = svc.op
        key, a = _open_account(svc, clock, b"\x09" * 32)

        def withdraw(amount: int) -> list[str]:
            nonce = op.account_state(a).nonce
            sig = key.sign(withdraw_message(svc.tags.withdraw, a, amount, nonce))
            before = len(op.ledger)
            done = svc.withdraw(a, amount, sig)
            assert (
                done.entry_index == len(op.ledger) - 1
                and done.state.balance == op.account_state(a).balance
            )
            return _new_kinds(svc, before)

        # No marks yet: the first batch (and the first update) come first.
        assert svc.withdrawal_needs_batch()
        assert withdraw(100) == ["funding", "batch", "account_op"]
        start = op.funding_clock
        clock.now = start + INTERVAL_S - 1
        assert not svc.withdrawal_needs_batch()
        assert withdraw(100) == ["account_op"]
        clock.now = start + INTERVAL_S  # the interval ends; the batcher has not ticked
        assert svc.funding_due_now() and svc.withdrawal_needs_batch()
        assert withdraw(100) == ["funding", "batch", "account_op"]
        entries = op.ledger.entries
        assert entries[-1].body["marks"] == entries[-2].body["oracle"] == entries[-3].body["oracle"]
        assert op.funding_clock == start + INTERVAL_S and not svc.withdrawal_needs_batch()
        assert op.account_state(a).balance == 10_000 - 300

        # The operator's own guard: marks past the funding deadline are refused, nothing
        # is written (the service never gets there: it runs the batch first).
        late = op.oracle.sign(
            op.latest_report.seq + 1,
            start + 2 * INTERVAL_S + 1,
            op.latest_report.marks,
            op.latest_report.index,
        )
        op.observe(late)
        clock.now = late.timestamp
        nonce = op.account_state(a).nonce
        sig = key.sign(withdraw_message(svc.tags.withdraw, a, 100, nonce))
        length = len(op.ledger)
        with pytest.raises(OperatorError, match="funding overdue"):
            op.withdraw(a, 100, sig)
        assert len(op.ledger) == length
        out = op.export(tmp_path / "export")
    finally:
        svc.stop()
    report = replay(Path(out), checker=no_proof_checks)
    assert report.ok, [str(f) for f in report.failures]
    assert report.to_dict()["risk"]["funding_updates"] == 2


def test_solvency_job_while_funding_is_due_publishes_the_update_first(tmp_path: Path) -> None:
    """A solvency job queued after a funding interval ended, before the batcher's tick:
    the job runs the due batch first (its funding update at a fresh report), so the proof
    counts equity after the funding owed; the ledger reads funding, batch, solvency and
    replays. At a report past the funding deadline the operator itself refuses a solvency
    proof, real or stress (verifier rule "funding overdue"), and writes nothing."""
    from exchange.operator import OperatorError

    clock = ManualClock()
    svc = Service(_settings(tmp_path), clock=clock, prove=shaped_stand_in)
    svc.start(background=False)
    try:
        op = svc.op
        svc.run_batch()  # the first batch starts the funding schedule
        start = op.funding_clock
        clock.now = start + INTERVAL_S  # the interval ends; the batcher has not ticked
        assert svc.funding_due_now()
        before = len(op.ledger)
        job = svc.start_solvency(None)
        svc.run_solvency_job(job)
        assert svc.job_view(job).job.status == "done"
        assert _new_kinds(svc, before) == ["funding", "batch", "solvency"]
        entries = op.ledger.entries
        assert entries[-1].body["oracle"] == entries[-2].body["oracle"]
        assert op.funding_clock == start + INTERVAL_S

        report = op.latest_report
        late = op.oracle.sign(
            report.seq + 1, start + 2 * INTERVAL_S + 1, report.marks, report.index
        )
        op.observe(late)
        clock.now = late.timestamp
        length = len(op.ledger)
        for shock in (None, [-1_000] * op.params.markets):
            with pytest.raises(OperatorError, match="funding overdue"):
                op.prove_solvency(late, shock_bps=shock)
        assert len(op.ledger) == length
        out = op.export(tmp_path / "export")
    finally:
        svc.stop()
    report = replay(Path(out), checker=no_proof_checks)
    assert report.ok, [str(f) for f in report.failures]


def test_refused_withdrawal_while_funding_is_due_runs_no_batch(tmp_path: Path) -> None:
    """A withdrawal the operator would refuse without marks (a signature over another
    nonce, an amount above a flat account's balance) is refused before the due batch
    runs: 401 / 422 and the ledger is unchanged; the good one then runs it."""
    from exchange.errors import Rejected, Unauthenticated
    from verifier.encoding import withdraw_message

    clock = ManualClock()
    svc = Service(_settings(tmp_path), clock=clock, prove=shaped_stand_in)
    svc.start(background=False)
    try:
        op = svc.op
        key, a = _open_account(svc, clock, b"\x0a" * 32)
        svc.run_batch()
        clock.now = op.funding_clock + INTERVAL_S  # due; the batcher has not ticked
        assert svc.withdrawal_needs_batch()
        nonce = op.account_state(a).nonce
        length = len(op.ledger)
        wrong_nonce = key.sign(withdraw_message(svc.tags.withdraw, a, 100, nonce + 1))
        with pytest.raises(Unauthenticated, match="withdraw signature rejected"):
            svc.withdraw(a, 100, wrong_nonce)
        too_much = key.sign(withdraw_message(svc.tags.withdraw, a, 10**9, nonce))
        with pytest.raises(Rejected, match="exceeds the balance"):
            svc.withdraw(a, 10**9, too_much)
        assert len(op.ledger) == length and svc.withdrawal_needs_batch()
        good = key.sign(withdraw_message(svc.tags.withdraw, a, 100, nonce))
        svc.withdraw(a, 100, good)
        assert _new_kinds(svc, length) == ["funding", "batch", "account_op"]
    finally:
        svc.stop()


@pytest.mark.parametrize("bad", [False, True])
def test_withdrawals_at_a_lagging_oracle_run_one_batch(tmp_path: Path, bad: bool) -> None:
    """The oracle's clock 20 s behind the service's (within its skew limit): after an
    interval ends by the service clock, the first withdrawal runs one batch, whose report
    (oracle time) is not yet due and publishes no update; later withdrawals, refused or
    made, run no more batches (they settle at marks within the interval)."""
    from exchange.errors import Unauthenticated
    from oracle.feed import SimulatedFeed
    from oracle.signer import OracleSigner
    from verifier.encoding import withdraw_message
    from verifier.protocol import Tags

    lag = 20
    clock = ManualClock()
    settings = _settings(tmp_path)
    signer = OracleSigner(
        SimulatedFeed(settings.start_prices(), max_step_bps=0),
        Tags.for_exchange(settings.exchange_id).oracle,
        clock=lambda: int(clock.now) - lag,
    )
    svc = Service(settings, clock=clock, prove=shaped_stand_in, oracle=signer)
    svc.start(background=False)
    try:
        op = svc.op
        key, a = _open_account(svc, clock, b"\x0b" * 32)
        svc.run_batch()
        clock.now = op.funding_clock + INTERVAL_S + 1
        before = len(op.ledger)
        for _ in range(4):
            nonce = op.account_state(a).nonce + (1 if bad else 0)
            sig = key.sign(withdraw_message(svc.tags.withdraw, a, 10, nonce))
            if bad:
                with pytest.raises(Unauthenticated):
                    svc.withdraw(a, 10, sig)
            else:
                svc.withdraw(a, 10, sig)
            clock.now += 1
        kinds = _new_kinds(svc, before)
        assert kinds == ([] if bad else ["batch"] + ["account_op"] * 4)
        assert svc.funding_due_now()  # the batcher's timer pays it once the oracle gets there
        clock.now += lag
        before = len(op.ledger)
        assert svc.batcher_tick() and _new_kinds(svc, before) == ["funding", "batch"]
    finally:
        svc.stop()
