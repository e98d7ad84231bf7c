"""The slots operator: every proven change of the recycling-order state, one ledger entry each.

``SlotsOperator`` is the in-process operator of a ``"state": "slots"`` ledger
(README "Recycling order state"): ``open_account``, ``deposit``, ``withdraw``,
``submit_order``, ``cancel``, ``run_batch``, ``prove_solvency``, ``export``,
proving with ACCOUNT UPDATE, ORDER OPS, SETTLE FILLS and SOLVENCY WALK.
Every change is proven first; the book and the ledger change only once every
proof of the change exists, so each call either happens completely with its
entry appended, or raises and changes nothing.

Funding entries, health sweeps and liquidations come from
``exchange.operator.slots.risk.SlotsRiskEngine`` (genesis ``risk`` /
``funding`` when given; every proof settles touched accounts to the current
funding indices). Persistence (``take_dirty`` account rows,
``private_state``, ``restore``) is in ``exchange.operator.slots.persistence``.
"""

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from exchange.domain import MarketSpec
from exchange.operator.common import (
    INSURANCE_WITHDRAWAL_REFUSED,
    OperatorError,
    ProveFn,
    SignatureRejected,
    wall_clock,
)
from exchange.operator.slots.batch import BatchPlan
from exchange.operator.slots.persistence import SlotsPersistence
from exchange.operator.slots.risk import SlotsRiskEngine
from oracle.signer import Oracle
from prover import backends
from prover.account_book import random_blinding
from prover.statements.account_update import AccountOpError, OpKind, build_account_update
from prover.statements.solvency_walk import build_solvency_walk
from verifier.account_state import AccountRecord, SlottedOrder
from verifier.babyjub import Point
from verifier.eddsa import (
    PrivateKey,
    Signature,
    SignatureError,
    check_public_key,
    check_signature,
    public_key_to_dict,
)
from verifier.encoding import withdraw_message
from verifier.export import LedgerEntry, Roots, vkey_hashes
from verifier.field import FieldError, unsigned_in_range
from verifier.ledger import FundingRules, Limits, RiskRules
from verifier.oracle import OracleFormatError, OracleReport, stressed_prices
from verifier.params import AMOUNT_BITS
from verifier.protocol import DEFAULT_EXCHANGE_ID, FEE_ACCOUNT
from verifier.quadtree import quad_zero_hashes
from verifier.statements.solvency_walk import check_solvency_walk

__all__ = ["SlotsBatchSummary", "SlotsOperator"]

SLOTS_STATE = "slots"


class SlotsBatchSummary:
    """What ``run_batch`` did: the entry, the domain fills and the proof counts."""

    def __init__(self, entry: LedgerEntry, plan: BatchPlan) -> None:
        self.entry = entry
        self.fills = plan.result.fills
        self.order_ops = len(plan.ops)
        self.fill_groups = len(plan.groups)

    @property
    def proofs(self) -> int:
        return self.order_ops + self.fill_groups


class SlotsOperator(SlotsPersistence, SlotsRiskEngine):
    """All slots-exchange state in memory; every ledger entry carries its proofs."""

    def __init__(
        self,
        *,
        markets: Sequence[MarketSpec],
        oracle: Oracle,
        insurance_pubkey: Point,
        insurance_fund: int,
        min_deposit: int = 0,
        profile: str = "test",
        exchange_id: str = DEFAULT_EXCHANGE_ID,
        clock: Callable[[], int] = wall_clock,
        prove: ProveFn = backends.prove_inputs,
        new_blinding: Callable[[], int] = random_blinding,
        operator_key: PrivateKey | None = None,
        limits: Limits | None = None,
        risk: RiskRules | None = None,
        funding: FundingRules | None = None,
    ) -> None:
        """Write genesis (``"state": "slots"``) and open the insurance account 0."""
        self._init_state(
            markets=markets,
            oracle=oracle,
            operator_key=operator_key,
            profile=profile,
            exchange_id=exchange_id,
            clock=clock,
            prove=prove,
            new_blinding=new_blinding,
        )
        if limits is not None:
            self.limits = limits
        if not isinstance(min_deposit, int) or isinstance(min_deposit, bool) or min_deposit < 0:
            raise OperatorError("min_deposit must be a non-negative integer")
        self.min_deposit = min_deposit
        self._init_risk(risk, funding)
        empty = Roots(quad_zero_hashes(self.params.account_levels)[-1], 0, 0)
        if empty != self.roots:
            raise OperatorError("the account book does not start empty")
        self.ledger.append(
            "genesis",
            empty,
            empty,
            {
                "exchange_id": exchange_id,
                "params": self.params.to_dict(),
                "markets": [spec.to_dict() for spec in self.markets],
                "oracle_pubkey": public_key_to_dict(oracle.public_key),
                "operator_pubkey": public_key_to_dict(self.operator_key.public_key()),
                "limits": self.limits.to_json(),
                "vkey_hashes": vkey_hashes(self.verification_keys()),
                "min_deposit": min_deposit,
                "state": SLOTS_STATE,
                **self.genesis_rules(),
            },
        )
        index = self.open_account(insurance_pubkey, insurance_fund)
        assert index == FEE_ACCOUNT  # the tree was empty

    @classmethod
    def restore(
        cls,
        *,
        entries: Sequence[Mapping[str, Any]],
        rows: Mapping[int, Mapping[str, Any]],
        private_state: Mapping[str, Any],
        orders: Mapping[int, tuple[SlottedOrder, Signature]],
        markets: Sequence[MarketSpec],
        oracle: Oracle,
        **wiring: Any,
    ) -> Self:
        """Rebuild an operator from its stored ledger ``entries`` (JSON, in order), the newest
        ``account_row`` per account (``rows``, by index), ``private_state()`` and the accepted
        orders (``orders``: commitment -> (terms, owner signature)).

        ``wiring``: the constructor's ``operator_key``, ``profile``,
        ``exchange_id``, ``clock``, ``prove``, ``new_blinding`` (genesis gives
        the rest). ``exchange.operator.slots.persistence`` says what is
        replayed from the ledger. Raises OperatorError (one line) if an entry
        does not chain or is not signed by ``operator_key``, genesis pins
        another oracle key or other markets, an ``order`` entry has no stored
        order, an account-changing entry is newer than the private state, a
        pending cancel has no signature, or the rows do not rebuild the
        ledger's latest account root and slots.
        """
        self = cls.__new__(cls)
        self._init_state(markets=markets, oracle=oracle, **wiring)
        self._init_risk(None, None)
        try:
            self._restore(entries, rows, private_state, orders)
        except (KeyError, TypeError, ValueError) as exc:  # OperatorError is a ValueError
            raise OperatorError(f"cannot restore the operator: {exc}"[:300]) from None
        return self

    # ------------------------------------------------------------ account ops

    def _account_op(
        self,
        op: OpKind,
        index: int,
        amount: int,
        pubkey: Point,
        *,
        signature: Signature | None = None,
        marks: OracleReport | None = None,
    ) -> AccountRecord:
        """Prove one ACCOUNT UPDATE, append its entry, then commit the new book; returns the record."""
        # Opens and deposits carry zero marks (the circuit's margin check is off
        # for them); a withdrawal is checked at the latest signed marks.
        prices = marks.prices if marks is not None else (0,) * self.params.markets
        entry_time = self._entry_time(marks)
        try:
            outcome = build_account_update(
                self.book,
                int(op),
                index,
                amount,
                pubkey,
                prices=prices,
                imf_bps=self.imf_bps,
                funding=self.funding_indices,
                tags=self.tags,
                signature=signature,
                new_blinding=self._new_blinding,
            )
        except AccountOpError as exc:
            raise OperatorError(str(exc)) from None
        proved = self._prove("account_update", outcome.inputs, outcome.public_inputs)
        body: dict[str, Any] = {
            "op": op.name.lower(),
            "account": index,
            "amount": str(amount),
            "pubkey": public_key_to_dict(pubkey),
        }
        if marks is not None:
            body["marks"] = marks.to_json()
        body.update(proved)
        self.ledger.append(
            "account_op", self.roots, Roots(outcome.book.root, 0, 0), body, time=entry_time
        )
        self.book = outcome.book
        return self.book.record(index)

    def open_account(self, pubkey: Point, amount: int) -> int:
        """Open the next free account with an initial deposit; returns its index."""
        try:
            check_public_key(pubkey)
        except SignatureError as exc:
            raise OperatorError(f"bad public key: {exc}") from None
        self._check_amount(amount, allow_zero=True)
        index = len(self.book.records)
        if index != FEE_ACCOUNT and amount < self.min_deposit:
            raise OperatorError(
                f"opening an account needs a deposit of at least {self.min_deposit}"
            )
        if index >= 1 << self.params.account_depth:
            raise OperatorError("the account tree is full")
        self._account_op(OpKind.OPEN, index, amount, pubkey)
        self.total_collateral += amount
        return index

    def deposit(self, index: int, amount: int) -> AccountRecord:
        """Credit ``amount`` to an account (funding settled first); returns its new record."""
        before = self.account_state(index)
        self._check_amount(amount)
        after = self._account_op(OpKind.DEPOSIT, index, amount, Point(before.pub_x, before.pub_y))
        self.total_collateral += amount
        return after

    def withdraw(self, index: int, amount: int, signature: Signature) -> AccountRecord:
        """Withdraw signed over withdraw_message(tag, index, amount, nonce), at the latest marks.

        OperatorError if those marks are past the funding deadline ("funding
        overdue", the verifier's rule for withdrawals): publish the update at a
        fresh report first (the service runs a batch, whose update rides before
        it: ``exchange.service.intake``). OperatorError for account 0: the
        insurance fund cannot be withdrawn (darkpool-verify fails it).
        """
        pubkey = self.check_withdrawal(index, amount, signature)
        marks = self.latest_report
        if marks is None:
            raise OperatorError("no oracle marks yet: withdrawals need a margin check at the marks")
        self._check_funding_overdue(marks)
        after = self._account_op(
            OpKind.WITHDRAW, index, amount, pubkey, signature=signature, marks=marks
        )
        self.total_collateral -= amount
        return after

    def check_withdrawal(self, index: int, amount: int, signature: Signature) -> Point:
        """The checks of ``withdraw`` that need no marks; returns the account's public key.

        Writes nothing. OperatorError for account 0 (the insurance fund), an
        unknown account, an amount out of range (1 .. 2^AMOUNT_BITS - 1) or,
        for an account with no open position (funding cannot change its
        balance), above its balance; SignatureRejected unless ``signature``
        signs withdraw_message(tag, index, amount, nonce) at the current
        nonce. The service calls it before running any batch the withdrawal
        needs, so a refused request changes nothing; the margin check at the
        marks stays in ``withdraw``.
        """
        if index == FEE_ACCOUNT:
            raise OperatorError(INSURANCE_WITHDRAWAL_REFUSED)
        before = self.account_state(index)
        self._check_amount(amount)
        if not any(before.positions) and amount > before.balance:
            raise OperatorError(f"amount {amount} exceeds the balance {before.balance}")
        pubkey = Point(before.pub_x, before.pub_y)
        message = withdraw_message(self.tags.withdraw, index, amount, before.nonce)
        try:
            check_signature(message, signature, pubkey)
        except SignatureError as exc:
            raise SignatureRejected(f"withdraw signature rejected: {exc}") from None
        return pubkey

    @staticmethod
    def _check_amount(amount: int, *, allow_zero: bool = False) -> None:
        try:
            unsigned_in_range(amount, AMOUNT_BITS, "amount")
        except FieldError as exc:
            raise OperatorError(str(exc)) from None
        if amount == 0 and not allow_zero:
            raise OperatorError("amount must be at least 1")

    # ------------------------------------------------------------ batches

    def run_batch(self, report: OracleReport) -> SlotsBatchSummary:
        """Order ops, matching at the report's marks, fill groups: prove all, append one entry."""
        self._check_report(report)
        if self.last_batch_timestamp is not None and report.timestamp <= self.last_batch_timestamp:
            raise OperatorError("batch timestamp does not increase")
        self._check_batch_risk(report)
        entry_time = self._entry_time(report)
        plan = self.plan_batch(report)
        ops_proved = self._prove_all("order_ops", [(o.inputs, o.public_inputs) for o in plan.ops])
        groups_proved = self._prove_all(
            "settle_fills", [(g.inputs, g.public_inputs) for g in plan.groups]
        )
        proofs: list[dict[str, Any]] = []
        root = self.book.root
        for outcome, proved in zip(plan.ops, ops_proved, strict=True):
            proofs.append(
                {
                    **proved,
                    "statement": "order_ops",
                    "roots_before": Roots(root, 0, 0).to_dict(),
                    "roots_after": Roots(outcome.book.root, 0, 0).to_dict(),
                    "cancels": [str(h) for h in outcome.cancel_signals],
                    "places": [str(h) for h in outcome.place_signals],
                }
            )
            root = outcome.book.root
        volume = [0] * self.params.markets
        for group, proved in zip(plan.groups, groups_proved, strict=True):
            proofs.append(
                {
                    **proved,
                    "statement": "settle_fills",
                    "roots_before": Roots(root, 0, 0).to_dict(),
                    "roots_after": Roots(group.book.root, 0, 0).to_dict(),
                    "volume": [str(v) for v in group.volume],
                }
            )
            volume = [a + b for a, b in zip(volume, group.volume, strict=True)]
            root = group.book.root
        if tuple(volume) != plan.result.volume:
            raise OperatorError("settlement volume differs from the matching engine's")
        entry = self.ledger.append(
            "batch",
            self.roots,
            Roots(root, 0, 0),
            {
                "batch_id": self.next_batch_id,
                "oracle": report.to_json(),
                "volume": [str(v) for v in volume],
                "proofs": proofs,
            },
            time=entry_time,
        )
        self._commit_batch(plan, report)
        self._count_batch_risk(entry_time, report)
        return SlotsBatchSummary(entry, plan)

    def _commit_batch(self, plan: BatchPlan, report: OracleReport) -> None:
        self.book = plan.book
        for outcome, chunk in zip(plan.ops, plan.op_orders, strict=True):
            for index in chunk:
                cancelled = bool(outcome.cancels)  # a proof is all cancels or all places
                previous = self._slot_written(index, cancelled=cancelled)
                # Orders whose slot no longer shows their fills: keep them for their status.
                for gone in (index if cancelled else None, previous):
                    if gone is not None and self.orders.get(gone).filled:
                        self.finished_fills[gone] = self.orders.get(gone).filled
                if previous is not None:
                    self._finish(previous)
        for index in (*plan.dropped, *plan.expired):
            self.accepted[index].unplaced = True  # never placed: finished, its slot is free
            self._finish(index)
        self.orders.record_fills(
            {i: f for i, f in plan.result.filled.items() if f != self.orders.get(i).filled}
        )
        self.pending_places = []
        self.pending_cancels = []
        self.latest_report = report
        self.last_batch_timestamp = report.timestamp
        self.next_batch_id += 1
        self._record_reasons(plan)

    # ------------------------------------------------------------ solvency

    def prove_solvency(
        self, report: OracleReport, *, shock_bps: Sequence[int] | None = None
    ) -> LedgerEntry:
        """Prove every account is counted and the book is solvent at the report's marks.

        ``report`` must be the latest real report; with ``shock_bps`` the
        proofs use ``verifier.oracle.stressed_prices`` of its marks and the
        entry names the shock vector (nobody signs stressed prices).
        OperatorError "funding overdue" if the report is past the funding
        deadline (the verifier's rule for solvency entries, stress or not):
        publish the update first (the service's job runs the due batch).
        """
        self._check_report(report)
        self._check_funding_overdue(report)
        entry_time = self._entry_time(report)
        prices = report.marks
        if shock_bps is not None:
            try:
                prices = stressed_prices(report.marks, list(shock_bps))
            except OracleFormatError as exc:
                raise OperatorError(str(exc)) from None
            if tuple(prices) == tuple(report.marks):
                raise OperatorError("the shock vector leaves every mark unchanged")
        funding = self.funding_indices
        witnesses = build_solvency_walk(self.book, prices, funding, random.SystemRandom())
        chunks = self._prove_all(
            "solvency_walk", [(w.to_circuit_inputs(), w.public_inputs()) for w in witnesses]
        )
        p = self.params
        result = check_solvency_walk(
            [[int(s) for s in c["public_signals"]] for c in chunks],
            p.account_levels,
            p.chunk_levels,
            self.total_collateral,
            p.markets,
            expected_root=self.book.root,
            prices=prices,
            funding=funding,
        )
        return self._append_solvency(report, shock_bps, chunks, result, entry_time)
