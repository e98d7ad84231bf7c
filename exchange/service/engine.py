"""The two order states the service runs on, and the few things that differ between them.

``Settings.state`` picks the engine. ``"slots"``: ``exchange.operator.slots.SlotsOperator``
(recycling per-account order slots, quaternary account tree, cancels as
ledger entries, statements ``verifier.protocol.STAGED_STATEMENTS``).
``"list"``: ``exchange.operator.Operator`` (an order list that only grows,
binary account tree, cancels in the private snapshot, ``STATEMENTS``).

The service (``exchange.service``) has ONE code path over ``EngineOperator``,
the interface both operators share (same names, same errors); an ``Engine``
supplies only what differs: the statements to build, the sealed order's
plaintext, what a change stores, restore, the inclusion opening and the
number of solvency proofs. What a change stores:

* list: a snapshot of the whole private state (every account opening);
* slots: the rows (``prover.account_book.account_row``) of the accounts the
  change touched (``take_dirty``) and the small private state
  (``private_state``: O(live orders)), so a change costs O(touched
  accounts); the book after ledger entry ``i`` is the latest row per account
  stored up to ``i`` (``Store.account_rows``), which is how an inclusion
  under an older root is answered.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from exchange.errors import Internal, NotFound
from exchange.operator import Operator
from exchange.operator.slots import SlotsOperator
from exchange.service.results import Inclusion
from exchange.store import Store
from prover import toolchain
from prover.account_book import BookError, book_from_rows, slots_opening
from prover.statements.chunks import split_record_chunks
from verifier import auth
from verifier.account_state import AccountRecord, SlottedOrder
from verifier.babyjub import Point
from verifier.eddsa import Signature
from verifier.encoding import AccountState, Order
from verifier.export import Ledger, LedgerEntry
from verifier.ledger import RiskRules
from verifier.merkle import MerkleTree
from verifier.oracle import OracleReport
from verifier.params import CircuitParams
from verifier.protocol import STAGED_STATEMENTS, STATEMENTS

__all__ = ["STATES", "AnyAccount", "AnyOrder", "Engine", "EngineOperator", "engine_for"]

AnyOrder = Order | SlottedOrder
AnyAccount = AccountState | AccountRecord


class BatchOutcome(Protocol):
    """What ``run_batch`` returns under either state."""

    @property
    def entry(self) -> LedgerEntry: ...
    @property
    def fills(self) -> Sequence[Any]: ...
    @property
    def proofs(self) -> int: ...


class EngineOperator(Protocol):
    """The operator interface the service uses (``Operator`` and ``SlotsOperator``).

    Orders are ``Order`` (list) or ``SlottedOrder`` (slots): the engine's
    ``parse_order`` makes the right one, and the operator refuses another
    kind (RejectedOrder), so the service passes them through untyped.
    """

    exchange_id: str
    profile: str
    params: CircuitParams
    ledger: Ledger
    total_collateral: int
    next_batch_id: int
    latest_report: OracleReport | None
    order_reasons: dict[int, str]

    @property
    def accounts(self) -> Mapping[int, AnyAccount]: ...
    @property
    def account_root(self) -> int: ...
    @property
    def commitments(self) -> list[int]: ...
    @property
    def risk_rules(self) -> RiskRules | None: ...
    @property
    def pending_liquidations(self) -> Sequence[int]: ...

    def artifacts(self, statement: str) -> toolchain.CircuitArtifacts: ...
    def export(self, directory: Any) -> Any: ...
    def open_account(self, pubkey: Point, amount: int) -> int: ...
    def deposit(self, index: int, amount: int) -> AnyAccount: ...
    def withdraw(self, index: int, amount: int, signature: Signature) -> AnyAccount: ...
    def validate_order(
        self, order: Any, signature: Signature, *, pending: Sequence[tuple[Any, int]] = ()
    ) -> int: ...
    def append_order(self, order: Any, signature: Signature, commitment: int) -> int: ...
    def order_terms(self, order_index: int) -> AnyOrder: ...
    def order_status(self, order_index: int) -> tuple[int, bool]: ...
    def check_cancel_signature(self, order_index: int, signature: Signature) -> None: ...
    def cancel_index(
        self, order_index: int, signature: Signature, *, checked: bool = False
    ) -> None: ...
    def run_batch(self, report: OracleReport) -> BatchOutcome: ...
    def prove_solvency(
        self, report: OracleReport, *, shock_bps: Sequence[int] | None = None
    ) -> LedgerEntry: ...
    def funding_due(self, report: OracleReport) -> bool: ...
    def funding_due_at(self, time: int) -> bool: ...
    def update_funding(self, report: OracleReport) -> LedgerEntry: ...
    def sweep_due(self, time: int | None = None) -> bool: ...
    def next_entry_time(self, report: OracleReport) -> int: ...
    def sweep_and_liquidate(self, report: OracleReport) -> tuple[int, ...]: ...


Op = TypeVar("Op", bound=EngineOperator)


class _Engine(Generic[Op]):
    """What both engines share: the operator type they run and the order plaintext parser."""

    state: str
    statements: tuple[str, ...]
    operator_type: type[Op]
    parse_order: Callable[[bytes], tuple[AnyOrder, Signature]]
    """The sealed order's plaintext (``verifier.auth``); OrderFormatError if malformed."""

    def _op(self, op: EngineOperator) -> Op:
        if not isinstance(op, self.operator_type):
            raise TypeError(f"the {self.state} engine runs {self.operator_type.__name__}")
        return op

    def create(self, **kwargs: Any) -> EngineOperator:
        """A new exchange: the operator writes genesis (its constructor's arguments)."""
        return self.operator_type(**kwargs)

    def stored(self, op: EngineOperator) -> dict[str, Any]:
        """The ``Change`` fields that make the private state after ``op``'s last entry durable.

        ``snapshot`` always names its ``ledger_index`` and ``account_root``
        (``Store.snapshot_with_root`` finds older roots by it).
        """
        live = self._op(op)
        snapshot = {"ledger_index": len(live.ledger) - 1, "account_root": str(live.account_root)}
        return self._stored(live, snapshot)

    def _stored(self, live: Op, snapshot: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def restore(
        self,
        store: Store,
        wiring: Mapping[str, Any],
        entries: Sequence[Mapping[str, Any]],
        orders: Mapping[int, tuple[Any, Signature]],
    ) -> EngineOperator:
        """The operator rebuilt from the database: its latest private state, the ledger
        ``entries`` and the decrypted ``orders`` (commitment -> (terms, signature)).

        OperatorError if they do not reproduce the ledger's latest roots.
        """
        snapshot = store.latest_snapshot()
        if snapshot is None:
            raise Internal("the database has ledger entries but no snapshot")
        return self._restore(store, snapshot, {**wiring, "entries": entries, "orders": orders})

    def _restore(
        self, store: Store, snapshot: dict[str, Any], kwargs: dict[str, Any]
    ) -> EngineOperator:
        raise NotImplementedError


class ListEngine(_Engine[Operator]):
    """The order-list state (``exchange.operator.Operator``)."""

    state, statements, operator_type = "list", STATEMENTS, Operator
    parse_order = staticmethod(auth.parse_order_plaintext)

    def _stored(self, live: Operator, snapshot: dict[str, Any]) -> dict[str, Any]:
        """A snapshot of the whole private state (every account opening)."""
        return {"snapshot": {**live.snapshot(), **snapshot}}

    def _restore(
        self, store: Store, snapshot: dict[str, Any], kwargs: dict[str, Any]
    ) -> EngineOperator:
        return Operator.restore(**kwargs, snapshot=snapshot)

    def inclusion(
        self, op: EngineOperator, store: Store, index: int, root: int | None
    ) -> Inclusion:
        """Opening + binary Merkle path of ``index`` under ``root`` (current, or a snapshot's)."""
        live = self._op(op)
        if root is None or root == live.account_root:
            state, tree = live.accounts[index], live.account_tree
        else:
            snap = store.snapshot_with_root(root)
            if snap is None:
                raise NotFound("unknown account root")
            states = [AccountState.from_dict(a) for a in snap["accounts"]]
            if index >= len(states):
                raise NotFound(f"account {index} did not exist under that root")
            state = states[index]
            tree = MerkleTree.from_leaves([a.leaf() for a in states], op.params.account_depth)
        siblings = tuple(tree.path(index).siblings)
        return Inclusion(index, tree.root, state.leaf(), siblings, state.to_dict())

    def solvency_proofs(self, op: EngineOperator) -> int:
        """Proofs a solvency job makes (one per chunk of accounts)."""
        return max(1, -(-len(op.accounts) // op.params.chunk_size))

    def has_queued_work(self, op: EngineOperator) -> bool:
        """Whether a batch must run even without live orders (never under the list state)."""
        return False

    def holds_slot(self, op: EngineOperator, order_index: int | None) -> bool | None:
        """The list state has no slots (None)."""
        return None


class SlotsEngine(_Engine[SlotsOperator]):
    """The recycling-order state (``exchange.operator.slots.SlotsOperator``)."""

    state, statements, operator_type = "slots", STAGED_STATEMENTS, SlotsOperator
    parse_order = staticmethod(auth.parse_slotted_order_plaintext)

    def inclusion(
        self, op: EngineOperator, store: Store, index: int, root: int | None
    ) -> Inclusion:
        """Opening + quaternary path of ``index`` under ``root``.

        An older root is answered from the account rows stored up to the
        ledger index whose private state names that root.
        """
        live = self._op(op)
        book = live.book
        if root is not None and root != live.account_root:
            snap = store.snapshot_with_root(root)
            if snap is None:
                raise NotFound("unknown account root")
            rows = store.account_rows(int(snap["ledger_index"]))
            try:
                book = book_from_rows(op.params, list(rows.values()), expected_root=root)
            except BookError as exc:
                raise Internal(f"the stored account rows do not rebuild that root: {exc}") from None
        if index not in book.records:
            raise NotFound(f"account {index} did not exist under that root")
        opened = slots_opening(book, index)
        siblings = book.tree.path(index).siblings
        return Inclusion(index, book.root, int(opened["leaf"]), siblings, opened["opening"])

    def _stored(self, live: SlotsOperator, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Rows of the accounts changed since the last call + the small private state."""
        snapshot["private"] = live.private_state()
        return {"snapshot": snapshot, "rows": live.take_dirty()}

    def _restore(
        self, store: Store, snapshot: dict[str, Any], kwargs: dict[str, Any]
    ) -> EngineOperator:
        if "private" not in snapshot:
            raise Internal("the latest snapshot is not a slots private state")
        rows = store.account_rows()
        return SlotsOperator.restore(**kwargs, rows=rows, private_state=snapshot["private"])

    def solvency_proofs(self, op: EngineOperator) -> int:
        return len(split_record_chunks(self._op(op).book))

    def has_queued_work(self, op: EngineOperator) -> bool:
        """Accepted cancels wait for a batch to execute them (their slots are busy until then).

        Queued places need no batch of their own: a live one is a live order, and
        one that expired unplaced costs no proof (the planner skips it).
        """
        return bool(self._op(op).pending_cancels)

    def holds_slot(self, op: EngineOperator, order_index: int | None) -> bool | None:
        """Whether the order still keeps a newer id out of its slot (a pending one does)."""
        return True if order_index is None else self._op(op).holds_slot(order_index)


Engine = ListEngine | SlotsEngine
STATES: dict[str, Callable[[], Engine]] = {"list": ListEngine, "slots": SlotsEngine}


def engine_for(state: str) -> Engine:
    """The engine of ``Settings.state``; ValueError for an unknown state."""
    try:
        return STATES[state]()
    except KeyError:
        raise ValueError(f"unknown state {state!r}: expected one of {sorted(STATES)}") from None
