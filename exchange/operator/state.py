"""The operator's state: what it holds, the read-only views, snapshot and restore.

``OperatorState`` holds the account tree and hidden account states, the public
order list, the fill tree and filled amounts, resting orders (plaintext
``Order`` objects, in memory only), total collateral, the latest signed marks
and the public ledger. It changes nothing by itself except when rebuilt by
``restore``; every proven change is in ``exchange.operator.transitions``.
This module never writes state to disk except in ``export`` and never prints.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from exchange.domain import BookError, MarketSpec, OrderBook, RestingOrder
from exchange.operator.common import (
    DEFAULT_FUNDING_RULES,
    DuplicateOrder,
    OperatorError,
    ProveFn,
    RejectedOrder,
    SignatureRejected,
    UnknownAccount,
    wall_clock,
)
from exchange.operator.restoring import genesis_key_problem, replay_clocks
from oracle.signer import Oracle
from prover import backends, toolchain
from prover.circuits import build_statement, load_params
from prover.statements.settle_batch import Fill, SignedOrder, random_blinding
from verifier.eddsa import PrivateKey, Signature
from verifier.encoding import (
    AccountState,
    Order,
    fill_leaf,
    order_commitment,
)
from verifier.export import Ledger, LedgerEntry, LedgerError, Roots
from verifier.ledger import DEFAULT_LIMITS_JSON, Limits
from verifier.ledger.rules import FundingRules, RiskRules
from verifier.merkle import MerklePath, MerkleTree
from verifier.oracle import OracleReport
from verifier.params import CircuitParams
from verifier.protocol import DEFAULT_EXCHANGE_ID, STATEMENTS, Tags

__all__ = [
    "DEFAULT_FUNDING_RULES",
    "BatchSummary",
    "DuplicateOrder",
    "OperatorError",
    "OperatorState",
    "ProveFn",
    "RejectedOrder",
    "SignatureRejected",
    "UnknownAccount",
    "wall_clock",
]


@dataclass(frozen=True)
class BatchSummary:
    """What ``run_batch`` did, for progress output (the entry is the public record)."""

    entry: LedgerEntry
    fills: tuple[Fill, ...]
    proofs: int


class OperatorState:
    """All exchange state in memory (no genesis until a subclass writes it)."""

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
        operator_key: PrivateKey,
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
        self.min_deposit = 0  # genesis parameter (set by __init__ / restored from genesis)
        self.oracle = oracle
        self._clock = clock
        self._prove_fn = prove
        self._new_blinding = new_blinding
        self._artifacts: dict[str, toolchain.CircuitArtifacts] = {}

        p = self.params
        self.account_tree = MerkleTree(p.account_depth)
        self.accounts: dict[int, AccountState] = {}
        self.order_tree = MerkleTree(p.order_depth)
        # The engine's one order book (exchange.domain): terms, commitment,
        # filled and cancelled per order-list index. Signatures are kept beside
        # it for the settlement witnesses.
        self.book = OrderBook()
        self._signatures: dict[int, Signature] = {}
        self._commitment_set: set[int] = set()
        # Why an open order did not trade (fully) in the last batch, e.g.
        # "margin_limited", "out_of_range" or a settlement refusal; not persisted.
        self.order_reasons: dict[int, str] = {}
        self.fill_tree = MerkleTree(p.order_depth)
        self.total_collateral = 0
        self.latest_report: OracleReport | None = None
        self.next_batch_id = 1
        self.ledger = Ledger(operator_key, exchange_id)
        self.operator_key = operator_key
        self.limits = Limits.from_json(DEFAULT_LIMITS_JSON)
        self.last_batch_timestamp: int | None = None
        self.proof_seconds: dict[str, float] = {s: 0.0 for s in STATEMENTS}
        self.proof_counts: dict[str, int] = {s: 0 for s in STATEMENTS}
        # Risk engine (exchange.operator.risk): genesis rules and their progress.
        # Default: no sweep required, liquidation fee half the maintenance fraction.
        self.risk_rules = RiskRules(0, 0, tuple(m.mmf_bps // 2 for m in self.markets))
        self.funding_rules: FundingRules | None = None  # no funding updates
        self.batches_since_sweep = 0
        self.sweep_clock: int | None = None  # time of the last sweep (or of the first batch)
        self.funding_indices: tuple[int, ...] = (0,) * p.markets
        self.funding_timestamp: int | None = None
        # Report time the funding-overdue rule counts from: last update's, else first batch's.
        self.funding_clock: int | None = None
        self.liquidations: list[Any] = []  # exchange.domain.liquidation.Liquidation records
        # Flagged by the last sweep and not liquidated yet: no batch may run (the
        # verifier would fail it).
        self.pending_liquidations: list[int] = []

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

    @property
    def account_root(self) -> int:
        """The account tree's root (the service's name for both states' operators)."""
        return self.account_tree.root

    def inclusion_path(self, index: int) -> MerklePath:
        self.account_state(index)
        return self.account_tree.path(index)

    @property
    def commitments(self) -> list[int]:
        """The public order list: commitments in order-list (time-priority) order."""
        return [r.commitment for r in self.book]

    @property
    def filled(self) -> dict[int, int]:
        """Lots filled per order-list index, for orders that have filled at all."""
        return {r.index: r.filled for r in self.book if r.filled}

    def resting(self, order_index: int) -> RestingOrder:
        """The book's record of an accepted order; OperatorError if there is none."""
        try:
            return self.book.get(order_index)
        except BookError:
            raise OperatorError(f"order {order_index} does not exist") from None

    def signed_order(self, order_index: int) -> SignedOrder:
        """Terms, signature and index of an accepted order (a settlement witness input)."""
        return SignedOrder(
            self.resting(order_index).order, self._signatures[order_index], order_index
        )

    def order_status(self, order_index: int) -> tuple[int, bool]:
        """(lots filled, cancelled) of an accepted order."""
        r = self.resting(order_index)
        return r.filled, r.cancelled

    # ------------------------------------------------------------ persistence

    def order_terms(self, order_index: int) -> Order:
        """The plaintext terms of an accepted order (for its owner; never published)."""
        return self.resting(order_index).order

    def snapshot(self) -> dict[str, Any]:
        """The private state that the ledger does not hold, as JSON (secret: blindings).

        Together with the public ledger entries up to ``ledger_index`` and the
        decrypted orders it is everything ``restore`` needs. Order plaintexts
        are not in it (they are stored encrypted by the service).
        """
        report = self.latest_report
        return {
            "ledger_index": len(self.ledger) - 1,
            "accounts": [a.to_dict() for _, a in sorted(self.accounts.items())],
            "filled": {str(i): str(f) for i, f in sorted(self.filled.items())},
            "cancelled": [r.index for r in self.book if r.cancelled],
            "total_collateral": str(self.total_collateral),
            "latest_report": report.to_json() if report is not None else None,
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
        prove: ProveFn = backends.prove_inputs,
        new_blinding: Callable[[], int] = random_blinding,
        operator_key: PrivateKey | None = None,
    ) -> Self:
        """Rebuild an operator from its public ledger, a ``snapshot`` and the decrypted orders.

        ``orders`` maps commitments to (terms, signature). The rebuilt roots
        must equal the ledger's latest roots, so only entries that change no
        private state (order, solvency) may follow the snapshot. Every stored
        entry must chain and carry ``operator_key``'s signature.
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
            operator_key=operator_key if operator_key is not None else PrivateKey.generate(),
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
        commitments: list[int] = []
        for i, e in enumerate(entries):
            if e["index"] != i:
                raise OperatorError(f"ledger entry {i} is stored as index {e['index']}")
            self.ledger.restore(e)
            replay_clocks(self, e)
            if e["kind"] == "order":
                h = int(e["commitment"])
                if e["order_index"] != len(commitments) or h not in orders:
                    raise OperatorError(f"order entry {i} has no matching stored order")
                commitments.append(h)
                self._commitment_set.add(h)
            if e["kind"] in ("account_op", "batch", "liquidation") and i > snapshot["ledger_index"]:
                raise OperatorError(f"entry {i} ({e['kind']}) is newer than the snapshot")
        genesis = self.ledger.entries[0].body
        self.min_deposit = int(genesis.get("min_deposit", 0))
        problem = genesis_key_problem(genesis, self.operator_key, self.oracle.public_key)
        if problem is not None:
            raise OperatorError(problem)
        self.order_tree = MerkleTree.from_leaves(commitments, self.params.order_depth)
        for i, a in enumerate(snapshot["accounts"]):
            self.accounts[i] = AccountState.from_dict(a)
        self.account_tree = MerkleTree.from_leaves(
            [a.leaf() for _, a in sorted(self.accounts.items())], self.params.account_depth
        )
        for index, h in enumerate(commitments):
            order, signature = orders[h]
            if order_commitment(self.tags.order, order) != h:
                raise OperatorError(f"stored order {index} does not open its commitment")
            self.book.add(order, h)
            self._signatures[index] = signature
        filled = {int(i): int(f) for i, f in snapshot["filled"].items()}
        try:
            self.book.record_fills(filled)
            for index in snapshot["cancelled"]:
                self.book.cancel(int(index))
        except BookError as exc:
            raise OperatorError(f"snapshot does not fit the order list: {exc}") from None
        for i, f in filled.items():
            self.fill_tree.update(i, fill_leaf(commitments[i], f))
        self.total_collateral = int(snapshot["total_collateral"])
        report = snapshot["latest_report"]
        self.latest_report = (
            None if report is None else OracleReport.from_json(report, self.params.markets)
        )
        self.limits = self.ledger.genesis.limits
        if self.ledger.genesis.risk is not None:
            self.risk_rules = self.ledger.genesis.risk
        if self.ledger.genesis.funding is not None:
            self.funding_rules = self.ledger.genesis.funding
        self.next_batch_id = int(snapshot["next_batch_id"])
        if self.roots != self.ledger.roots:
            raise OperatorError("restored state does not reproduce the ledger's latest roots")

    # ------------------------------------------------------------ export

    def export(self, directory: Path | str) -> Path:
        try:
            return self.ledger.export(directory, self.verification_keys())
        except LedgerError as exc:
            raise OperatorError(str(exc)) from None
