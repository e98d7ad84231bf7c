"""The operator's transitions: every state change, proven first, then committed.

``Operator`` extends ``OperatorState`` (exchange.operator.state) with every
change the ledger records. Each is proven first (account_op, settle_batch,
solvency_chunk via ``prover.toolchain``); state and ledger are updated only
after the proof exists, so from a caller's view each operation is atomic: it
either happens completely with its entry appended, or raises and changes
nothing.

Protocol choices made here (see also docs/ledger.md):
- Account 0 is the insurance / fee account, opened by the operator right
  after genesis; it never trades.
- Matching and pre-trade margin are ``exchange.domain`` (batch auction at the
  mark, time priority, per-fill IMR; intake assumes all open orders fill at
  their limits), valued at the latest signed marks (before the first report:
  the order's limit for its market). Settlement checks margin again at the
  batch mark, in the circuit.
- Cancel is operator-side only: the order stops matching at once. Marking it
  fully filled in the fill tree by a proven update (DESIGN.md section 5) needs
  a circuit-level cancel and is future work; until then expiry protects the
  trader against a dishonest operator.

This module never writes state to disk and never prints.
"""

import random
from collections.abc import Callable, Sequence
from typing import Any

from exchange.domain import (
    AccountEntry,
    MarketSpec,
    RestingOrder,
    intake_range_problem,
    pre_trade_margin_ok,
)
from exchange.operator.risk import RiskEngine
from exchange.operator.state import (
    BatchSummary,
    DuplicateOrder,
    OperatorError,
    ProveFn,
    RejectedOrder,
    SignatureRejected,
    UnknownAccount,
    wall_clock,
)
from oracle.signer import Oracle
from prover import backends
from prover.statements.account_op import AccountOpError, AccountOpWitness, OpKind
from prover.statements.settle_batch import (
    random_blinding,
)
from prover.statements.solvency_chunk import build_solvency_witnesses
from verifier import accounting
from verifier.babyjub import Point
from verifier.eddsa import (
    PrivateKey,
    Signature,
    SignatureError,
    check_public_key,
    check_signature,
    public_key_to_dict,
)
from verifier.encoding import (
    AccountState,
    Order,
    cancel_message,
    order_commitment,
    withdraw_message,
)
from verifier.export import LedgerEntry, Roots, vkey_hashes
from verifier.field import FieldError, unsigned_in_range
from verifier.ledger import Limits
from verifier.ledger.rules import FundingRules, RiskRules
from verifier.oracle import OracleFormatError, OracleReport, stressed_prices
from verifier.params import AMOUNT_BITS, BALANCE_BITS
from verifier.protocol import DEFAULT_EXCHANGE_ID, FEE_ACCOUNT, STATEMENTS, is_expired
from verifier.statements.solvency_chunk import check_solvency

__all__ = ["Operator"]


class Operator(RiskEngine):
    """All exchange state in memory; every ledger entry carries its proof."""

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
        """``operator_key`` signs every ledger entry (generated when None: tests and demos).

        ``risk`` / ``funding`` are the genesis risk rules (default: no sweep
        required, liquidation fee half of mmf; no funding updates — pass
        ``DEFAULT_FUNDING_RULES`` for hourly ones, then due before batches).
        """
        self._init_state(
            markets=markets,
            oracle=oracle,
            profile=profile,
            exchange_id=exchange_id,
            clock=clock,
            prove=prove,
            new_blinding=new_blinding,
            operator_key=operator_key if operator_key is not None else PrivateKey.generate(),
        )
        if limits is not None:
            self.limits = limits
        if risk is not None:
            self.risk_rules = risk
        if funding is not None:
            self.funding_rules = funding
        p = self.params
        if not isinstance(min_deposit, int) or isinstance(min_deposit, bool) or min_deposit < 0:
            raise OperatorError("min_deposit must be a non-negative integer")
        self.min_deposit = min_deposit
        vkeys = {s: self.artifacts(s).verification_key() for s in STATEMENTS}
        self.ledger.append(
            "genesis",
            self.roots,
            self.roots,
            {
                "exchange_id": exchange_id,
                "params": p.to_dict(),
                "markets": [spec.to_dict() for spec in self.markets],
                "oracle_pubkey": public_key_to_dict(oracle.public_key),
                "operator_pubkey": public_key_to_dict(self.operator_key.public_key()),
                "limits": self.limits.to_json(),
                "vkey_hashes": vkey_hashes(vkeys),
                "min_deposit": min_deposit,
                **self._genesis_rules(),
            },
        )
        index = self.open_account(insurance_pubkey, insurance_fund)
        assert index == FEE_ACCOUNT  # the tree was empty

    # ------------------------------------------------------------ account ops

    def _account_op(
        self,
        op: OpKind,
        index: int,
        amount: int,
        pubkey: Point,
        *,
        before: AccountState | None,
        signature: Signature | None = None,
        marks: OracleReport | None = None,
    ) -> AccountState:
        """Prove one account op, append its entry, then commit the new state; returns it."""
        # Opens and deposits carry zero marks (the circuit's margin check is off
        # for them); a withdrawal is checked at the latest signed marks.
        prices = marks.prices if marks is not None else (0,) * self.params.markets
        try:
            witness = AccountOpWitness.build(
                self.account_tree,
                op,
                index,
                amount,
                pubkey,
                before,
                tuple(prices),
                self.imf_bps,
                self.tags,
                signature=signature,
                blinding_new=self._new_blinding(),
            )
        except AccountOpError as exc:
            raise OperatorError(str(exc)) from None
        proved = self._prove("account_op", witness.to_circuit_inputs(), witness.public_inputs())
        before_roots = self.roots
        body: dict[str, Any] = {
            "op": op.name.lower(),
            "account": index,
            "amount": str(amount),
            "pubkey": public_key_to_dict(pubkey),
        }
        if marks is not None:
            body["marks"] = marks.to_json()
        body.update(proved)
        after_roots = Roots(witness.new_root, before_roots.fill, before_roots.order)
        self.ledger.append(
            "account_op", before_roots, after_roots, body, time=self._entry_time(marks)
        )
        self.account_tree.update(index, witness.new_leaf)
        self.accounts[index] = witness.new
        return witness.new

    def open_account(self, pubkey: Point, amount: int) -> int:
        """Open the next free account with an initial deposit; returns its index."""
        try:
            check_public_key(pubkey)
        except SignatureError as exc:
            raise OperatorError(f"bad public key: {exc}") from None
        self._check_amount(amount, allow_zero=True)
        index = len(self.accounts)
        # Spam resistance: every account slot costs at least min_deposit of
        # locked collateral (the insurance account, opened at genesis, is exempt).
        if index != FEE_ACCOUNT and amount < self.min_deposit:
            raise OperatorError(
                f"opening an account needs a deposit of at least {self.min_deposit}"
            )
        if index >= self.account_tree.capacity:
            raise OperatorError("the account tree is full")
        self._account_op(OpKind.OPEN, index, amount, pubkey, before=None)
        self.total_collateral += amount
        return index

    def deposit(self, index: int, amount: int) -> AccountState:
        """Credit ``amount`` to an account; returns its new state."""
        before = self.account_state(index)
        self._check_amount(amount)
        self._check_balance(before.balance + amount)
        pubkey = Point(before.pub_x, before.pub_y)
        after = self._account_op(OpKind.DEPOSIT, index, amount, pubkey, before=before)
        self.total_collateral += amount
        return after

    def withdraw(self, index: int, amount: int, signature: Signature) -> AccountState:
        """Withdraw signed by the account key over withdraw_message(tag, index, amount, nonce)."""
        before = self.account_state(index)
        self._check_amount(amount)
        pubkey = Point(before.pub_x, before.pub_y)
        msg = withdraw_message(self.tags.withdraw, index, amount, before.nonce)
        try:
            check_signature(msg, signature, pubkey)
        except SignatureError as exc:
            raise SignatureRejected(f"withdraw signature rejected: {exc}") from None
        marks = self.latest_report
        if marks is None:
            raise OperatorError("no oracle marks yet: withdrawals need a margin check at the marks")
        balance = before.balance - amount
        self._check_balance(balance)
        if not accounting.meets_margin(balance, before.positions, marks.prices, self.imf_bps):
            raise OperatorError(
                f"withdrawal of {amount} would leave account {index} below initial margin"
            )
        after = self._account_op(
            OpKind.WITHDRAW,
            index,
            amount,
            pubkey,
            before=before,
            signature=signature,
            marks=marks,
        )
        self.total_collateral -= amount
        return after

    @staticmethod
    def _check_amount(amount: int, *, allow_zero: bool = False) -> None:
        try:
            unsigned_in_range(amount, AMOUNT_BITS, "amount")
        except FieldError as exc:
            raise OperatorError(str(exc)) from None
        if amount == 0 and not allow_zero:
            raise OperatorError("amount must be at least 1")

    @staticmethod
    def _check_balance(balance: int) -> None:
        if not -(1 << (BALANCE_BITS - 1)) <= balance < 1 << (BALANCE_BITS - 1):
            raise OperatorError("balance would leave its range")

    # ------------------------------------------------------------ orders

    def submit_order(self, order: Order, signature: Signature) -> int:
        """Validate and accept an order; returns its order-list index. Raises RejectedOrder."""
        commitment = self.validate_order(order, signature)
        return self.append_order(order, signature, commitment)

    def validate_order(
        self,
        order: Order,
        signature: Signature,
        *,
        pending: Sequence[tuple[Order, int]] = (),
    ) -> int:
        """Every intake check of ``submit_order`` without changing anything; returns ``h``.

        ``pending`` are (order, commitment) pairs accepted but not yet in the
        order list (the service queues them while a batch is proving): they
        count for duplicates, capacity and the account's open orders.
        """
        p = self.params
        state = self.accounts.get(order.account) if isinstance(order.account, int) else None
        if state is None:
            raise UnknownAccount(f"account {order.account} does not exist")
        if order.account == FEE_ACCOUNT:
            raise RejectedOrder("the insurance account does not trade")
        try:
            order.check_ranges(p.markets, p.account_depth)
            commitment = order_commitment(self.tags.order, order)
        except (FieldError, TypeError) as exc:
            raise RejectedOrder(str(exc)) from None
        now = self._clock()
        if is_expired(order.expiry, now):
            raise RejectedOrder(f"order expired at {order.expiry} (now {now})")
        try:
            check_signature(commitment, signature, Point(state.pub_x, state.pub_y))
        except SignatureError as exc:
            raise RejectedOrder(f"signature rejected: {exc}") from None
        if commitment in self._commitment_set or any(h == commitment for _, h in pending):
            raise DuplicateOrder("duplicate order: this commitment was already accepted")
        if len(self.book) + len(pending) >= self.order_tree.capacity:
            raise RejectedOrder("the order list is full")
        if self.latest_report is not None:
            marks = list(self.latest_report.prices)
        else:
            # Before the first report nobody holds a position, so only this
            # order's market needs a price; its limit is the worst it can trade at.
            marks = [0] * p.markets
            marks[order.market] = order.limit_price
        own = self.book.open_orders(order.account)
        # Queued orders get the list indices they will have (only their terms matter here).
        own += [
            RestingOrder(index=len(self.book) + k, order=o, commitment=h)
            for k, (o, h) in enumerate(pending)
            if o.account == order.account
        ]
        problem = intake_range_problem(AccountEntry.of(state), order, self.markets, open_orders=own)
        if problem is not None:
            raise RejectedOrder(problem)
        if not pre_trade_margin_ok(
            AccountEntry.of(state), order, marks, self.markets, open_orders=own
        ):
            raise RejectedOrder(
                f"insufficient margin: account {order.account} would be below initial margin "
                "if its open orders filled"
            )
        return commitment

    def append_order(self, order: Order, signature: Signature, commitment: int) -> int:
        """Append an order validated by ``validate_order`` to the order list; returns its index.

        Only uniqueness and capacity are checked again: an order the service
        accepted while a batch was proving must still be listed after it even
        if the batch moved the marks (settlement re-checks margin per fill).
        """
        if commitment in self._commitment_set:
            raise DuplicateOrder("duplicate order: this commitment was already accepted")
        if len(self.book) >= self.order_tree.capacity:
            raise RejectedOrder("the order list is full")
        before = self.roots
        index = len(self.book)
        tree = self.order_tree.copy()
        tree.update(index, commitment)
        after = Roots(before.account, before.fill, tree.root)
        self.ledger.append(
            "order",
            before,
            after,
            {"order_index": index, "commitment": str(commitment)},
            time=self._entry_time(None),
        )
        self.order_tree = tree
        self.book.add(order, commitment)
        self._commitment_set.add(commitment)
        self._signatures[index] = signature
        return index

    def check_cancel_signature(self, order_index: int, signature: Signature) -> None:
        """Raise SignatureRejected unless the order's owner signed its cancel message."""
        record = self.resting(order_index)
        state = self.accounts[record.order.account]
        msg = cancel_message(self.tags.cancel, order_index, record.commitment)
        try:
            check_signature(msg, signature, Point(state.pub_x, state.pub_y))
        except SignatureError as exc:
            raise SignatureRejected(f"cancel signature rejected: {exc}") from None

    def cancel(self, order_index: int, signature: Signature, *, checked: bool = False) -> None:
        """Stop an order from matching; signature over cancel_message(tag, index, h).

        ``checked=True``: the caller has just run ``check_cancel_signature`` under
        the same state lock (the intake does, to count only authenticated cancels).
        """
        if not checked:
            self.check_cancel_signature(order_index, signature)
        record = self.resting(order_index)
        if record.cancelled:
            raise OperatorError(f"order {order_index} is already cancelled")
        if record.filled >= record.order.size:
            raise OperatorError(f"order {order_index} is already filled")
        self.book.cancel(order_index)

    #: The slots operator's name for a cancel by order index (``cancel`` there takes h).
    cancel_index = cancel

    # ------------------------------------------------------------ batches

    def run_batch(self, report: OracleReport) -> BatchSummary:
        """Match resting orders at the report's marks, prove settlement, append one batch entry."""
        self._check_report(report)
        if self.last_batch_timestamp is not None and report.timestamp <= self.last_batch_timestamp:
            raise OperatorError("batch timestamp does not increase")
        entry_time = self._entry_time(report)
        self._check_batch_risk(report, entry_time)
        result, fills, outcomes, refused = self._plan_settlement(report)
        witnesses = []
        volume = [0] * self.params.markets
        tree, states = self.account_tree, dict(self.accounts)
        fill_tree, filled = self.fill_tree, dict(self.filled)
        for outcome in outcomes:
            w = outcome.witness
            witnesses.append(w)
            volume = [a + b for a, b in zip(volume, w.volume, strict=True)]
            tree, states = outcome.accounts, outcome.account_states
            fill_tree, filled = outcome.fill_tree, outcome.filled
        proved_all = self._prove_all(
            "settle_batch", [(w.to_circuit_inputs(), w.public_inputs()) for w in witnesses]
        )
        proofs: list[dict[str, Any]] = [
            {
                **proved,
                "roots_before": Roots(
                    w.old_acc_root, w.old_fill_root, self.order_tree.root
                ).to_dict(),
                "roots_after": Roots(
                    w.new_acc_root, w.new_fill_root, self.order_tree.root
                ).to_dict(),
                "volume": [str(v) for v in w.volume],
            }
            for w, proved in zip(witnesses, proved_all, strict=True)
        ]

        if tuple(volume) != result.volume:
            raise OperatorError("settlement volume differs from the matching engine's")
        before = self.roots
        after = Roots(tree.root, fill_tree.root, self.order_tree.root)
        entry = self.ledger.append(
            "batch",
            before,
            after,
            {
                "batch_id": self.next_batch_id,
                "oracle": report.to_json(),
                "volume": [str(v) for v in volume],
                "proofs": proofs,
            },
            time=entry_time,
        )
        self.account_tree, self.accounts = tree, states
        self.fill_tree = fill_tree
        self.book.record_fills({i: f for i, f in filled.items() if f != self.book.get(i).filled})
        self.latest_report = report
        self.last_batch_timestamp = report.timestamp
        self.next_batch_id += 1
        self._count_batch_risk(entry_time, report)
        self._record_reasons(result, refused)
        return BatchSummary(entry, tuple(fills), len(proofs))

    # ------------------------------------------------------------ solvency

    def prove_solvency(
        self, report: OracleReport, *, shock_bps: Sequence[int] | None = None
    ) -> LedgerEntry:
        """Prove every account is counted and the book is solvent at the report's marks.

        ``report`` must be the latest real report. With ``shock_bps`` (signed
        bps per market) the proofs use ``verifier.oracle.stressed_prices`` of
        its marks, and the entry names the shock vector so the verifier
        derives the same marks; nobody signs stressed prices.
        """
        self._check_report(report)
        entry_time = self._entry_time(report)
        prices = report.marks
        if shock_bps is not None:
            try:
                prices = stressed_prices(report.marks, list(shock_bps))
            except OracleFormatError as exc:
                raise OperatorError(str(exc)) from None
            if tuple(prices) == tuple(report.marks):
                # The verifier refuses such an entry (a relabelled real report).
                raise OperatorError("the shock vector leaves every mark unchanged")
        n = len(self.accounts)
        accounts: list[AccountState | None] = [self.accounts.get(i) for i in range(n)]
        witnesses = build_solvency_witnesses(accounts, self.params, prices, random.SystemRandom())
        chunks = self._prove_all(
            "solvency_chunk", [(w.to_circuit_inputs(), w.public_inputs()) for w in witnesses]
        )
        result = check_solvency(
            [[int(s) for s in c["public_signals"]] for c in chunks],
            self.params.account_depth,
            self.params.chunk_height,
            self.total_collateral,
            self.params.markets,
            expected_root=self.account_tree.root,
            prices=prices,
        )
        return self._append_solvency(report, shock_bps, chunks, result, entry_time)
