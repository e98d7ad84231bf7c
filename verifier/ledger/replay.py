"""Replay: walk a ledger entry by entry keeping only public state, and check each entry.

Parsing is ``verifier.ledger.entries`` (typed models); this module checks
meaning: roots chained from entry to entry, the oracle's signatures, public
inputs recomputed from the ledger data (never the operator's signals), and the
proofs queued for ``verifier.ledger.proofs``. See ``verifier.ledger`` for the
list of checks. Pure: no file or network I/O.
"""

from collections.abc import Callable, Mapping

from verifier import groth16
from verifier.babyjub import Point
from verifier.ledger.adl import ADLChecks, DeleverageEntry
from verifier.ledger.chain import entry_hash, entry_tag, verify_entry_signature
from verifier.ledger.entries import (
    AccountOpEntry,
    Entry,
    Genesis,
    Roots,
    SolvencyEntry,
    entry_header,
)
from verifier.ledger.keys import load_keys
from verifier.ledger.parse import EntryError, canonical_json_hash, mapping
from verifier.ledger.proofs import PendingProof, Progress, ProofChecker, check_proofs, phase_ticker
from verifier.ledger.report import LedgerFailure, ReplayReport
from verifier.ledger.resume import resume
from verifier.ledger.risk import FundingEntry, LiquidationEntry, RiskChecks, SweepEntry
from verifier.ledger.slots_replay import SlotsChecks
from verifier.ledger.solvency import SolvencyChecks
from verifier.ledger.state import ReplayState
from verifier.ledger.strict import refuse_unknown_fields
from verifier.oracle import OracleReport, key_hex
from verifier.params import BPS_DENOM
from verifier.protocol import FEE_ACCOUNT

__all__ = ["LEDGER_FORMAT", "parse_genesis", "replay"]

LEDGER_FORMAT = "darkpool-ledger/v2"


def parse_genesis(obj: object) -> Genesis:
    """Validate entry 0 (without keys); raises ValueError with a one-line reason."""
    try:
        return Genesis.from_json(obj)
    except EntryError as exc:
        raise ValueError(str(exc)) from None


class _Replayer(RiskChecks, ADLChecks, SolvencyChecks, SlotsChecks):
    """Mutable replay state plus the per-kind checks.

    The mixins share ``verifier.ledger.checks.ReplayChecks``, which declares
    the methods they use from each other as stubs; every real method (here or
    in a mixin) comes before that base in the method order.
    """

    def __init__(
        self,
        genesis: Genesis,
        keys: Mapping[str, tuple[groth16.PreparedVerificationKey, object]],
        state: ReplayState,
    ) -> None:
        self.genesis = genesis
        self.keys = keys
        self.state = state
        self.commitment_set = set(state.order_commitments)
        self.pending: dict[str, list[PendingProof]] = {s: [] for s in genesis.statements}
        self.last_hash = state.last_entry_hash
        self.tag = entry_tag(genesis.exchange_id)

    # -- shared -----------------------------------------------------------

    def _proof(
        self, statement: str, obj: object, expected: list[int], index: int, label: str
    ) -> None:
        """Parse a proof, compare the operator's public signals with ours, queue it."""
        d = mapping(obj, label)
        vk = self.keys[statement][0]
        if vk.n_public != len(expected):
            raise EntryError(
                f"{statement} key expects {vk.n_public} public inputs, "
                f"the statement has {len(expected)}"
            )
        try:
            proof = groth16.Proof.from_snarkjs(d["proof"])
            signals = groth16.parse_public_signals(d["public_signals"], vk.n_public)
        except groth16.Groth16Error as exc:
            raise EntryError(f"{label}: {exc}") from None
        for position, (theirs, ours) in enumerate(zip(signals, expected, strict=True)):
            if theirs != ours:
                raise EntryError(
                    f"{label}: public signal {position} is {theirs}, "
                    f"but the ledger data give {ours}"
                )
        self.pending[statement].append(PendingProof(index, label, proof, expected))

    def _use_report(self, report: OracleReport, time: int, what: str) -> None:
        """Check a report an entry at operator time ``time`` relies on, then make it the latest.

        Signature under the genesis oracle key (kind MARK: stress marks are
        never signed); prices at least ``min_price``; not older than the
        newest report already in the ledger (same seq = the same report);
        a newer report moves no mark by more than ``max_move_bps`` and is
        later in time; and the report is at most ``max_report_age_s`` older
        than the entry (and not from after it).
        """
        g = self.genesis
        limits = g.limits
        if not report.verify(g.oracle_tag, g.oracle_pubkey):
            raise EntryError(f"{what} signature does not verify under the genesis oracle key")
        for name, prices in (("mark", report.marks), ("index", report.index)):
            for m, p in enumerate(prices):
                if p < limits.min_price:
                    raise EntryError(
                        f"{what} {name} price of market {m} is {p}, below the genesis "
                        f"minimum {limits.min_price}"
                    )
        latest = self.state.latest_report
        if latest is not None:
            if report.seq < latest.seq:
                raise EntryError(
                    f"{what} is report seq {report.seq}, older than report seq {latest.seq} "
                    "already in the ledger (entries must use the latest real report)"
                )
            if report.seq == latest.seq and not report.same_content(latest):
                raise EntryError(f"{what} differs from the report with the same seq {latest.seq}")
            if report.seq > latest.seq:
                if report.timestamp <= latest.timestamp:
                    raise EntryError(
                        f"{what} seq {report.seq} is timed {report.timestamp}, not after "
                        f"report seq {latest.seq} at {latest.timestamp}"
                    )
                for m, (new, old) in enumerate(zip(report.marks, latest.marks, strict=True)):
                    if abs(new - old) * BPS_DENOM > limits.max_move_bps * old:
                        raise EntryError(
                            f"{what} moves the mark of market {m} from {old} to {new}, more than "
                            f"the genesis price band of {limits.max_move_bps} bps per report"
                        )
        if report.timestamp > time:
            raise EntryError(f"{what} is timed {report.timestamp}, after the entry's time {time}")
        if time - report.timestamp > limits.max_report_age_s:
            raise EntryError(
                f"{what} is {time - report.timestamp} s old at the entry's time {time}, "
                f"more than the genesis maximum of {limits.max_report_age_s} s"
            )
        self.state.latest_report = report

    # -- kinds ------------------------------------------------------------

    def account_op(self, e: AccountOpEntry) -> None:
        """Open / deposit / withdraw: index, min deposit, collateral, proof inputs, funding.

        A withdrawal whose signed marks are timed past the funding deadline
        fails "funding overdue: ..." (``RiskChecks._funding_overdue``, the
        batches' rule): its proof settles the account's funding at the
        replay's current indices and checks initial margin after it, so at
        stale indices a trader who owes funding would withdraw against a
        balance not yet charged, and an operator could time withdrawals
        around updates. Opens and deposits are not checked: they carry no
        report, add collateral and lower no equity, and settling at stale
        indices loses nothing (the leaf's checkpoints keep what is still
        owed, charged by the next statement touching the account, itself
        checked: batch, sweep, liquidation, deleverage or withdrawal).
        A withdrawal from account 0 (the insurance fund, whose key the
        operator holds) fails "the insurance fund cannot be withdrawn".
        """
        s = self.state
        g = self.genesis
        op, account, amount = e.op, e.account, e.amount
        if op == "open":
            if account != s.account_count:
                raise EntryError(
                    f"open of account {account}, but the next free index is {s.account_count}"
                )
            if account >= 1 << g.params.account_depth:
                raise EntryError("the account tree is full")
            if account != FEE_ACCOUNT and amount < g.min_deposit:
                raise EntryError(
                    f"open with a deposit of {amount}, below the genesis min_deposit "
                    f"{g.min_deposit}"
                )
        elif account >= s.account_count:
            raise EntryError(f"{op} on account {account}, which has not been opened")
        if op != "open" and amount == 0:
            raise EntryError(f"{op} of amount 0")
        if op == "withdraw" and account == FEE_ACCOUNT:
            # The insurance fund covers bankrupt accounts before ADL does; its key
            # is the operator's, so a withdrawal from it would be the operator
            # moving a balance (docs/ledger.md "account_op").
            raise EntryError(
                f"withdraw from account {FEE_ACCOUNT}: the insurance fund cannot be withdrawn"
            )
        # Opens and deposits have no margin check; their marks are zeros (the
        # circuit's MarginCheck is disabled, but the inputs are still bound).
        prices: tuple[int, ...] = (0,) * g.params.markets
        if e.marks is not None:
            self._use_report(e.marks, e.time, "marks")
            self._funding_overdue(e.marks.timestamp)  # the proof settles funding first
            prices = e.marks.prices
        expected = self.account_op_inputs(e, prices)
        self._proof("account_update", e.proof.to_json(), expected, e.index, "account_op proof")
        if op == "withdraw":
            if amount > s.total_collateral:
                raise EntryError(
                    f"withdraws {amount}, more than the total collateral {s.total_collateral}"
                )
            s.total_collateral -= amount
        else:
            s.total_collateral += amount
        if op == "open":
            s.account_count += 1

    # -- dispatch ---------------------------------------------------------

    def entry(self, obj: object, index: int) -> Entry:
        raw, model, header = entry_header(obj, index)
        kind = model.kind
        if header["prev_hash"] != self.last_hash:
            raise EntryError(
                f"prev_hash is not the hash of entry {index - 1} (the history was rewritten)"
            )
        verify_entry_signature(raw, self.tag, self.genesis.operator_pubkey)
        if header["time"] < self.state.last_time:
            raise EntryError(
                f"time {header['time']} is before the previous entry's {self.state.last_time}"
            )
        before: Roots = header["roots_before"]
        after: Roots = header["roots_after"]
        if before != self.state.roots:
            names = ", ".join(sorted(before.changed(self.state.roots)))
            raise EntryError(f"roots_before ({names}) differ from the previous entry's roots_after")
        changed = before.changed(after) - model.may_change
        if changed:
            raise EntryError(f"a {kind} entry may not change the {', '.join(sorted(changed))} root")
        e = model.body_from_json(raw, header, self.genesis)
        refuse_unknown_fields(raw, e.to_json())
        if self.slots_entry(e):
            pass
        elif isinstance(e, AccountOpEntry):
            self.account_op(e)
        elif isinstance(e, SolvencyEntry):
            self.solvency(e)
        elif isinstance(e, SweepEntry):
            self.sweep(e)
        elif isinstance(e, LiquidationEntry):
            self.liquidation(e)
        elif isinstance(e, FundingEntry):
            self.funding(e)
        elif isinstance(e, DeleverageEntry):
            self.deleverage(e)
        else:  # pragma: no cover - a registered kind without a check
            raise EntryError(f"no check for entry kind {kind!r}")
        self.state.roots = after
        self.state.last_time = e.time
        self.last_hash = entry_hash(obj)
        return e


def replay(
    *,
    manifest: object,
    genesis: object,
    entries: Callable[[int], object | None],
    vkeys: Mapping[str, object],
    pinned_vkeys: Mapping[str, object] | None = None,
    state: ReplayState | None = None,
    checker: ProofChecker | None = None,
    progress: Progress | None = None,
    pinned_genesis: str | None = None,
    pinned_oracle_key: Point | None = None,
) -> ReplayReport:
    """Replay a ledger; resume after ``state`` if it belongs to the same genesis.

    ``pinned_genesis`` (the genesis hash, hex) and ``pinned_oracle_key`` make
    a ledger with another genesis or oracle key fail at entry 0. A ``state``
    for another genesis is a failure too (entry 0), never silently dropped.

    The returned report's ``state`` is the state after the last entry when
    everything holds (store it for the next run); on failure it is the state
    reached before the failure and must not be stored.
    """
    check = checker if checker is not None else check_proofs(1)

    def tick(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress(phase, done, total)

    report = ReplayReport(manifest_entries=0, genesis=None, state=None)
    try:
        m = mapping(manifest, "ledger.json")
        if m.get("format") != LEDGER_FORMAT:
            raise EntryError(
                f"ledger format {m.get('format')!r:.40} is not supported (expected {LEDGER_FORMAT})"
            )
        count = m.get("entries")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise EntryError("ledger.json 'entries' must be a positive integer")
        report.manifest_entries = count
        g = Genesis.from_json(genesis)
        refuse_unknown_fields(
            genesis,
            {**g.to_json(), "signature": mapping(genesis, "genesis").get("signature")},
            "genesis",
        )
        report.genesis = g
        if pinned_genesis is not None and g.ledger_id != pinned_genesis:
            raise EntryError(f"the genesis hash is {g.ledger_id}, not the pinned {pinned_genesis}")
        if pinned_oracle_key is not None and g.oracle_pubkey != pinned_oracle_key:
            raise EntryError(
                f"the genesis oracle key is {key_hex(g.oracle_pubkey)}, "
                f"not the pinned {key_hex(pinned_oracle_key)}"
            )
        try:
            verify_entry_signature(
                mapping(genesis, "genesis"), entry_tag(g.exchange_id), g.operator_pubkey
            )
        except EntryError as exc:
            raise EntryError(f"genesis: {exc}") from None
        report.genesis_pinned = pinned_genesis is not None
        report.oracle_key_pinned = pinned_oracle_key is not None
        keys = load_keys(g, vkeys, pinned_vkeys)
        report.keys_pinned = pinned_vkeys is not None
    except EntryError as exc:
        report.failures.append(LedgerFailure(0, str(exc)))
        return report

    start_state = ReplayState(
        ledger_id=g.ledger_id,
        last_index=0,
        last_entry_hash=g.ledger_id,
        roots=g.roots,
        order_commitments=[],
        total_collateral=0,
        last_batch_id=None,
        account_count=0,
        entries_verified=1,
        entry_hashes=[g.ledger_id],
    )
    if state is None:
        current = start_state
    else:
        resumed = resume(state, g, count, lambda i: genesis if i == 0 else entries(i))
        if isinstance(resumed, LedgerFailure):
            report.failures.append(resumed)
            report.state = state
            return report
        report.resumed = True
        current = resumed
    report.state = current
    replayer = _Replayer(g, keys, current)
    report.checked_from = current.last_index + 1
    report.checked_to = current.last_index

    structural: LedgerFailure | None = None
    last_hash = current.last_entry_hash
    new_hashes: list[str] = []
    total_new = count - 1 - current.last_index
    for n, index in enumerate(range(current.last_index + 1, count)):
        obj = entries(index)
        if obj is None:
            structural = LedgerFailure(index, "entry is missing from the export")
            break
        try:
            replayer.entry(obj, index)
        except EntryError as exc:
            structural = LedgerFailure(index, str(exc))
            break
        last_hash = canonical_json_hash(obj)
        new_hashes.append(last_hash)
        report.checked_to = index
        tick("checking entries", n + 1, total_new)
    if structural is None and entries(count) is not None:
        structural = LedgerFailure(
            count,
            f"the export holds entry {count}, beyond the {count} entries ledger.json declares",
        )
    if structural is not None:
        report.failures.append(structural)

    bad_proofs = 0
    for statement in g.statements:
        items = replayer.pending[statement]
        report.proofs_this_run[statement] = len(items)
        if not items:
            continue
        vk, vk_json = keys[statement]
        phase = f"verifying {len(items)} {statement} proofs"
        tick(phase, 0, len(items))
        bad = check(
            vk,
            vk_json,
            [(p.proof, p.public_inputs) for p in items],
            phase_ticker(tick, phase, len(items)),
        )
        bad_proofs += len(bad)
        for i in bad:
            report.failures.append(
                LedgerFailure(items[i].entry_index, f"{items[i].label} does not verify")
            )
    # Count the proofs that passed (a failing run's state is never stored anyway).
    current.proofs_verified += sum(report.proofs_this_run.values()) - bad_proofs
    current.entries_verified = report.checked_to + 1
    if report.ok:
        current.last_index = report.checked_to
        current.last_entry_hash = last_hash
        if current.entry_hashes:  # a state from before per-entry hashes stays without
            current.entry_hashes.extend(new_hashes)
    latest = current.latest_solvency
    if latest is not None and latest.stress and not latest.solvent:
        report.solvency_warnings.append(
            f"entry {latest.entry_index}: insolvent under stressed marks "
            f"(deficit {latest.deficit} > fund {latest.fund})"
        )
    return report
