"""The in-process operator core: whole exchange state in memory, every change proven.

``Operator`` holds the account tree and hidden account states, the public
order list, the fill tree and filled amounts, resting orders (plaintext
``Order`` objects, in memory only), total collateral and the public ledger.
Every state change that the ledger records is proven first (account_op,
settle_batch, solvency_chunk via ``prover.toolchain``); state and ledger are
updated only after the proof exists, so from a caller's view each operation is
atomic: it either happens completely with its entry appended, or raises and
changes nothing.

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

This module never writes state to disk except in ``export`` and never prints.
"""

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.domain import AccountEntry, MarketSpec, RestingOrder, match_batch, pre_trade_margin_ok
from exchange.oracle import Oracle, OracleReport
from prover import toolchain
from prover.circuits import build_statement, load_params
from prover.statements.account_op import AccountOpError, AccountOpWitness, OpKind
from prover.statements.settle_batch import Fill, SignedOrder, build_settle_batch, random_blinding
from prover.statements.solvency_chunk import build_solvency_witnesses
from verifier import accounting
from verifier.babyjub import Point
from verifier.eddsa import (
    Signature,
    SignatureError,
    check_public_key,
    check_signature,
    public_key_to_dict,
    signature_from_dict,
)
from verifier.encoding import (
    AccountState,
    Order,
    cancel_message,
    fill_leaf,
    order_commitment,
    withdraw_message,
)
from verifier.export import Ledger, LedgerEntry, LedgerError, Roots, vkey_hashes
from verifier.field import FieldError, unsigned_in_range
from verifier.merkle import MerklePath, MerkleTree
from verifier.params import AMOUNT_BITS, BALANCE_BITS, CircuitParams
from verifier.protocol import DEFAULT_EXCHANGE_ID, FEE_ACCOUNT, STATEMENTS, Tags, is_expired
from verifier.statements.solvency_chunk import check_solvency

__all__ = [
    "MarketSpec",
    "Operator",
    "OperatorError",
    "RejectedOrder",
]


class OperatorError(ValueError):
    """A request the operator refuses (unknown account, bad signature, margin, ...)."""


class RejectedOrder(OperatorError):
    """An order refused at intake; ``reason`` is one line for the trader."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


ProveFn = Callable[
    [toolchain.CircuitArtifacts, Mapping[str, object]], tuple[dict[str, Any], list[str]]
]


@dataclass
class _OrderRecord:
    signed: SignedOrder
    commitment: int
    cancelled: bool = False


@dataclass(frozen=True)
class BatchSummary:
    """What ``run_batch`` did, for progress output (the entry is the public record)."""

    entry: LedgerEntry
    fills: tuple[Fill, ...]
    proofs: int


def wall_clock() -> int:
    return int(time.time())


class Operator:
    """All exchange state in memory; every ledger entry carries its proof."""

    def __init__(
        self,
        *,
        markets: Sequence[MarketSpec],
        oracle: Oracle,
        insurance_pubkey: Point,
        insurance_fund: int,
        profile: str = "test",
        exchange_id: str = DEFAULT_EXCHANGE_ID,
        clock: Callable[[], int] = wall_clock,
        prove: ProveFn = toolchain.prove_inputs,
        new_blinding: Callable[[], int] = random_blinding,
    ) -> None:
        self._init_state(
            markets=markets,
            oracle=oracle,
            profile=profile,
            exchange_id=exchange_id,
            clock=clock,
            prove=prove,
            new_blinding=new_blinding,
        )
        p = self.params
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
                "vkey_hashes": vkey_hashes(vkeys),
            },
        )
        index = self.open_account(insurance_pubkey, insurance_fund)
        assert index == FEE_ACCOUNT  # the tree was empty

    def _init_state(
        self,
        *,
        markets: Sequence[MarketSpec],
        oracle: Oracle,
        profile: str,
        exchange_id: str,
        clock: Callable[[], int],
        prove: ProveFn,
        new_blinding: Callable[[], int],
    ) -> None:
        """Empty state (no genesis yet): shared by ``__init__`` and ``restore``."""
        self.profile = profile
        self.exchange_id = exchange_id
        self.params: CircuitParams = load_params(profile)
        self.tags = Tags.for_exchange(exchange_id)
        if len(markets) != self.params.markets:
            raise OperatorError(
                f"profile {profile!r} has {self.params.markets} markets, got {len(markets)}"
            )
        for i, spec in enumerate(markets):
            if spec.id != i:
                raise OperatorError(f"market {i} must have id {i}, not {spec.id}")
        if oracle.oracle_tag != self.tags.oracle:
            raise OperatorError("the oracle signs with another exchange's domain tag")
        self.markets = tuple(markets)
        self.oracle = oracle
        self._clock = clock
        self._prove_fn = prove
        self._new_blinding = new_blinding
        self._artifacts: dict[str, toolchain.CircuitArtifacts] = {}

        p = self.params
        self.account_tree = MerkleTree(p.account_depth)
        self.accounts: dict[int, AccountState] = {}
        self.order_tree = MerkleTree(p.order_depth)
        self.commitments: list[int] = []
        self._commitment_set: set[int] = set()
        self.fill_tree = MerkleTree(p.order_depth)
        self.filled: dict[int, int] = {}
        self._orders: dict[int, _OrderRecord] = {}
        self.total_collateral = 0
        self.latest_report: OracleReport | None = None
        self.next_batch_id = 1
        self.ledger = Ledger()
        self.proof_seconds: dict[str, float] = {s: 0.0 for s in STATEMENTS}
        self.proof_counts: dict[str, int] = {s: 0 for s in STATEMENTS}

    # ------------------------------------------------------------ views

    @property
    def roots(self) -> Roots:
        return Roots(self.account_tree.root, self.fill_tree.root, self.order_tree.root)

    @property
    def imf_bps(self) -> tuple[int, ...]:
        return tuple(m.imf_bps for m in self.markets)

    @property
    def fee_bps(self) -> tuple[int, ...]:
        return tuple(m.fee_bps for m in self.markets)

    def artifacts(self, statement: str) -> toolchain.CircuitArtifacts:
        """Compiled + set-up circuit (built once per operator, cached on disk by the toolchain)."""
        if statement not in self._artifacts:
            self._artifacts[statement] = build_statement(statement, self.profile, self.exchange_id)
        return self._artifacts[statement]

    def verification_keys(self) -> dict[str, dict[str, Any]]:
        return {s: self.artifacts(s).verification_key() for s in STATEMENTS}

    def account_state(self, index: int) -> AccountState:
        """The hidden state of one account (for its owner; the service authenticates this)."""
        state = self.accounts.get(index)
        if state is None:
            raise OperatorError(f"account {index} does not exist")
        return state

    def inclusion_path(self, index: int) -> MerklePath:
        self.account_state(index)
        return self.account_tree.path(index)

    def order_status(self, order_index: int) -> tuple[int, bool]:
        """(lots filled, cancelled) of an accepted order."""
        record = self._orders.get(order_index)
        if record is None:
            raise OperatorError(f"order {order_index} does not exist")
        return self.filled.get(order_index, 0), record.cancelled

    def _resting(self, index: int, record: _OrderRecord) -> RestingOrder:
        return RestingOrder(
            index=index,
            order=record.signed.order,
            commitment=record.commitment,
            filled=self.filled.get(index, 0),
            cancelled=record.cancelled,
        )

    # ------------------------------------------------------------ proving

    def _prove(
        self, statement: str, inputs: Mapping[str, object], expected: Sequence[int]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        proof, public = self._prove_fn(self.artifacts(statement), inputs)
        self.proof_seconds[statement] += time.perf_counter() - started
        self.proof_counts[statement] += 1
        if [int(x) for x in public] != [int(x) for x in expected]:
            # The circuit computed other public signals than the statement says:
            # a bug in a witness builder, never something to publish.
            raise OperatorError(f"{statement}: proof's public signals differ from the statement")
        return {"proof": proof, "public_signals": [str(x) for x in public]}

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
            body["marks"] = marks.to_dict()
        body.update(proved)
        after_roots = Roots(witness.new_root, before_roots.fill, before_roots.order)
        self.ledger.append("account_op", before_roots, after_roots, body)
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
            raise OperatorError(f"withdraw signature rejected: {exc}") from None
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
            raise RejectedOrder(f"account {order.account} does not exist")
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
            raise RejectedOrder("duplicate order: this commitment was already accepted")
        if len(self.commitments) + len(pending) >= self.order_tree.capacity:
            raise RejectedOrder("the order list is full")
        if self.latest_report is not None:
            marks = list(self.latest_report.prices)
        else:
            # Before the first report nobody holds a position, so only this
            # order's market needs a price; its limit is the worst it can trade at.
            marks = [0] * p.markets
            marks[order.market] = order.limit_price
        own = [
            self._resting(i, r)
            for i, r in self._orders.items()
            if r.signed.order.account == order.account
        ]
        # Queued orders get the list indices they will have (only their terms matter here).
        own += [
            RestingOrder(index=len(self.commitments) + k, order=o, commitment=h)
            for k, (o, h) in enumerate(pending)
            if o.account == order.account
        ]
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
            raise RejectedOrder("duplicate order: this commitment was already accepted")
        if len(self.commitments) >= self.order_tree.capacity:
            raise RejectedOrder("the order list is full")
        before = self.roots
        index = len(self.commitments)
        tree = self.order_tree.copy()
        tree.update(index, commitment)
        after = Roots(before.account, before.fill, tree.root)
        self.ledger.append(
            "order", before, after, {"order_index": index, "commitment": str(commitment)}
        )
        self.order_tree = tree
        self.commitments.append(commitment)
        self._commitment_set.add(commitment)
        self._orders[index] = _OrderRecord(SignedOrder(order, signature, index), commitment)
        return index

    def cancel(self, order_index: int, signature: Signature) -> None:
        """Stop an order from matching; signature over cancel_message(tag, index, h)."""
        record = self._orders.get(order_index)
        if record is None:
            raise OperatorError(f"order {order_index} does not exist")
        state = self.accounts[record.signed.order.account]
        msg = cancel_message(self.tags.cancel, order_index, record.commitment)
        try:
            check_signature(msg, signature, Point(state.pub_x, state.pub_y))
        except SignatureError as exc:
            raise OperatorError(f"cancel signature rejected: {exc}") from None
        if record.cancelled:
            raise OperatorError(f"order {order_index} is already cancelled")
        record.cancelled = True

    # ------------------------------------------------------------ batches

    def _check_report(self, report: OracleReport) -> None:
        if len(report.prices) != self.params.markets:
            raise OperatorError(f"oracle report needs {self.params.markets} prices")
        if not report.verify(self.tags.oracle, self.oracle.public_key):
            raise OperatorError("oracle report signature does not verify")

    def observe(self, report: OracleReport) -> None:
        """Take a signed report as the latest marks (used for margin at intake and withdrawals)."""
        self._check_report(report)
        if self.latest_report is not None and (
            report.batch_id < self.latest_report.batch_id
            or report.timestamp < self.latest_report.timestamp
        ):
            raise OperatorError("oracle report is older than the latest one")
        self.latest_report = report

    def run_batch(self, report: OracleReport) -> BatchSummary:
        """Match resting orders at the report's marks, prove settlement, append one batch entry."""
        self._check_report(report)
        if report.batch_id != self.next_batch_id:
            raise OperatorError(
                f"expected batch {self.next_batch_id}, report is for {report.batch_id}"
            )
        if self.latest_report is not None and report.timestamp < self.latest_report.timestamp:
            raise OperatorError("batch timestamp goes back in time")
        result = match_batch(
            [self._resting(i, r) for i, r in sorted(self._orders.items())],
            {i: AccountEntry.of(a) for i, a in self.accounts.items()},
            report.prices,
            self.markets,
            report.timestamp,
            fee_account=FEE_ACCOUNT,
        )
        fills = [
            Fill(
                buy=self._orders[f.buy_index].signed,
                sell=self._orders[f.sell_index].signed,
                quantity=f.quantity,
            )
            for f in result.fills
        ]

        slots = self.params.fill_slots
        chunks = [fills[i : i + slots] for i in range(0, len(fills), slots)] or [[]]
        tree, states = self.account_tree, dict(self.accounts)
        fill_tree, filled = self.fill_tree, dict(self.filled)
        proofs: list[dict[str, Any]] = []
        volume = [0] * self.params.markets
        for chunk in chunks:
            outcome = build_settle_batch(
                params=self.params,
                order_tag=self.tags.order,
                accounts=tree,
                account_states=states,
                fill_tree=fill_tree,
                filled=filled,
                orders=self.order_tree,
                fills=chunk,
                prices=report.prices,
                fee_bps=self.fee_bps,
                imf_bps=self.imf_bps,
                batch_id=report.batch_id,
                timestamp=report.timestamp,
                new_blinding=self._new_blinding,
            )
            w = outcome.witness
            proved = self._prove("settle_batch", w.to_circuit_inputs(), w.public_inputs())
            proofs.append(
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
            )
            volume = [a + b for a, b in zip(volume, w.volume, strict=True)]
            tree, states = outcome.accounts, outcome.account_states
            fill_tree, filled = outcome.fill_tree, outcome.filled

        if tuple(volume) != result.volume:
            raise OperatorError("settlement volume differs from the matching engine's")
        before = self.roots
        after = Roots(tree.root, fill_tree.root, self.order_tree.root)
        entry = self.ledger.append(
            "batch",
            before,
            after,
            {
                "batch_id": report.batch_id,
                "oracle": report.to_dict(),
                "volume": [str(v) for v in volume],
                "proofs": proofs,
            },
        )
        self.account_tree, self.accounts = tree, states
        self.fill_tree, self.filled = fill_tree, filled
        self.latest_report = report
        self.next_batch_id += 1
        return BatchSummary(entry, tuple(fills), len(proofs))

    # ------------------------------------------------------------ solvency

    def prove_solvency(self, report: OracleReport, *, stress: bool = False) -> LedgerEntry:
        """Prove every account is counted and the book is solvent at the report's marks."""
        self._check_report(report)
        n = len(self.accounts)
        accounts: list[AccountState | None] = [self.accounts.get(i) for i in range(n)]
        witnesses = build_solvency_witnesses(
            accounts, self.params, report.prices, random.SystemRandom()
        )
        chunks = []
        for w in witnesses:
            chunks.append(self._prove("solvency_chunk", w.to_circuit_inputs(), w.public_inputs()))
        result = check_solvency(
            [[int(s) for s in c["public_signals"]] for c in chunks],
            self.params.account_depth,
            self.params.chunk_height,
            self.total_collateral,
            self.params.markets,
            expected_root=self.account_tree.root,
            prices=report.prices,
        )
        if result.totals is None or result.root is None:
            raise OperatorError(f"solvency proof is malformed: {'; '.join(result.reasons)}")
        totals = result.totals
        roots = self.roots
        return self.ledger.append(
            "solvency",
            roots,
            roots,
            {
                "account_root": str(roots.account),
                "total_collateral": str(self.total_collateral),
                "oracle": report.to_dict(),
                "stress": stress,
                "chunks": chunks,
                "result": {
                    "balance": str(totals.balance),
                    "positions": [str(s) for s in totals.positions],
                    "deficit": str(totals.deficit),
                    "fund": str(totals.fund),
                    "solvent": result.ok,
                    "reasons": list(result.reasons),
                },
            },
        )

    # ------------------------------------------------------------ persistence

    def order_terms(self, order_index: int) -> Order:
        """The plaintext terms of an accepted order (for its owner; never published)."""
        record = self._orders.get(order_index)
        if record is None:
            raise OperatorError(f"order {order_index} does not exist")
        return record.signed.order

    def snapshot(self) -> dict[str, Any]:
        """The private state that the ledger does not hold, as JSON (secret: blindings).

        Together with the public ledger entries up to ``ledger_index`` and the
        decrypted orders it is everything ``restore`` needs. Order plaintexts
        are not in it (they are stored encrypted by the service).
        """
        report = self.latest_report
        return {
            "ledger_index": len(self.ledger) - 1,
            "accounts": [
                {
                    "pub_x": str(a.pub_x),
                    "pub_y": str(a.pub_y),
                    "balance": str(a.balance),
                    "positions": [str(x) for x in a.positions],
                    "nonce": a.nonce,
                    "blinding": str(a.blinding),
                }
                for _, a in sorted(self.accounts.items())
            ],
            "filled": {str(i): str(f) for i, f in sorted(self.filled.items())},
            "cancelled": sorted(i for i, r in self._orders.items() if r.cancelled),
            "total_collateral": str(self.total_collateral),
            "latest_report": report.to_dict() if report is not None else None,
            "next_batch_id": self.next_batch_id,
        }

    @classmethod
    def restore(
        cls,
        *,
        markets: Sequence[MarketSpec],
        oracle: Oracle,
        entries: Sequence[Mapping[str, Any]],
        snapshot: Mapping[str, Any],
        orders: Mapping[int, tuple[Order, Signature]],
        profile: str = "test",
        exchange_id: str = DEFAULT_EXCHANGE_ID,
        clock: Callable[[], int] = wall_clock,
        prove: ProveFn = toolchain.prove_inputs,
        new_blinding: Callable[[], int] = random_blinding,
    ) -> "Operator":
        """Rebuild an operator from its public ledger, a ``snapshot`` and the decrypted orders.

        ``orders`` maps commitments to (terms, signature). The rebuilt roots
        must equal the ledger's latest roots, so only entries that change no
        private state (order, solvency) may follow the snapshot.
        """
        self = cls.__new__(cls)
        self._init_state(
            markets=markets,
            oracle=oracle,
            profile=profile,
            exchange_id=exchange_id,
            clock=clock,
            prove=prove,
            new_blinding=new_blinding,
        )
        try:
            self._restore(entries, snapshot, orders)
        except (KeyError, TypeError, ValueError) as exc:
            raise OperatorError(f"cannot restore the operator: {exc}") from None
        return self

    def _restore(
        self,
        entries: Sequence[Mapping[str, Any]],
        snapshot: Mapping[str, Any],
        orders: Mapping[int, tuple[Order, Signature]],
    ) -> None:
        common = {"index", "kind", "roots_before", "roots_after"}
        for i, e in enumerate(entries):
            if e["index"] != i:
                raise OperatorError(f"ledger entry {i} is stored as index {e['index']}")
            body = {k: v for k, v in e.items() if k not in common}
            self.ledger.append(e["kind"], _roots(e["roots_before"]), _roots(e["roots_after"]), body)
            if e["kind"] == "order":
                h = int(e["commitment"])
                if e["order_index"] != len(self.commitments) or h not in orders:
                    raise OperatorError(f"order entry {i} has no matching stored order")
                self.commitments.append(h)
                self._commitment_set.add(h)
            elif e["kind"] in ("account_op", "batch") and i > snapshot["ledger_index"]:
                raise OperatorError(f"entry {i} ({e['kind']}) is newer than the snapshot")
        genesis = self.ledger.entries[0].body
        if genesis["oracle_pubkey"] != public_key_to_dict(self.oracle.public_key):
            raise OperatorError("the oracle key differs from the one pinned in genesis")
        self.order_tree = MerkleTree.from_leaves(self.commitments, self.params.order_depth)
        for i, a in enumerate(snapshot["accounts"]):
            self.accounts[i] = AccountState(
                int(a["pub_x"]),
                int(a["pub_y"]),
                int(a["balance"]),
                tuple(int(x) for x in a["positions"]),
                int(a["nonce"]),
                int(a["blinding"]),
            )
        self.account_tree = MerkleTree.from_leaves(
            [a.leaf() for _, a in sorted(self.accounts.items())], self.params.account_depth
        )
        self.filled = {int(i): int(f) for i, f in snapshot["filled"].items()}
        for i, f in self.filled.items():
            self.fill_tree.update(i, fill_leaf(self.commitments[i], f))
        cancelled = set(snapshot["cancelled"])
        for index, h in enumerate(self.commitments):
            order, signature = orders[h]
            if order_commitment(self.tags.order, order) != h:
                raise OperatorError(f"stored order {index} does not open its commitment")
            self._orders[index] = _OrderRecord(
                SignedOrder(order, signature, index), h, cancelled=index in cancelled
            )
        self.total_collateral = int(snapshot["total_collateral"])
        report = snapshot["latest_report"]
        self.latest_report = _report_from_dict(report) if report is not None else None
        self.next_batch_id = int(snapshot["next_batch_id"])
        if self.roots != self.ledger.roots:
            raise OperatorError("restored state does not reproduce the ledger's latest roots")

    # ------------------------------------------------------------ export

    def export(self, directory: Path | str) -> Path:
        try:
            return self.ledger.export(directory, self.verification_keys())
        except LedgerError as exc:
            raise OperatorError(str(exc)) from None


def _roots(obj: Mapping[str, Any]) -> Roots:
    return Roots(int(obj["account"]), int(obj["fill"]), int(obj["order"]))


def _report_from_dict(obj: Mapping[str, Any]) -> OracleReport:
    return OracleReport(
        int(obj["batch_id"]),
        int(obj["timestamp"]),
        tuple(int(p) for p in obj["prices"]),
        signature_from_dict(obj["signature"]),
    )
