"""The service's engine: the recycling-order ("slots") state and what the service stores of it.

The operator is ``exchange.operator.slots.SlotsOperator`` (recycling
per-account order slots, quaternary account tree, cancels as ledger entries,
statements ``verifier.protocol.STATEMENTS``); the list state is
retired (``exchange.core.config.LIST_STATE_REFUSAL``). ``Engine`` supplies
what the service needs beyond the operator: the statements to build, the
sealed order's plaintext, what a change stores, restore, the inclusion
opening and the number of solvency proofs. What a change stores: the rows
(``prover.account_book.account_row``) of the accounts the change touched
(``take_dirty``) and the small private state (``private_state``: O(live
orders)), so a change costs O(touched accounts); the book after ledger entry
``i`` is the latest row per account stored up to ``i``
(``Store.account_rows``), which is how an inclusion under an older root is
answered.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from exchange.core.config import refuse_other_state
from exchange.errors import Internal, NotFound
from exchange.operator.slots import SlotsOperator
from exchange.service.results import Inclusion
from exchange.store import Store
from prover.account_book import BookError, book_from_rows, slots_opening
from prover.statements.chunks import split_record_chunks
from verifier import auth
from verifier.account_state import SlottedOrder
from verifier.eddsa import Signature
from verifier.protocol import STATEMENTS

__all__ = ["Engine", "check_genesis_state"]


class Engine:
    """The recycling-order state (``exchange.operator.slots.SlotsOperator``) as the service runs it."""

    state = "slots"
    statements: tuple[str, ...] = STATEMENTS
    parse_order = staticmethod(auth.parse_slotted_order_plaintext)
    """The sealed order's plaintext (``verifier.auth``); OrderFormatError if malformed."""

    def create(self, **kwargs: Any) -> SlotsOperator:
        """A new exchange: the operator writes genesis (its constructor's arguments)."""
        return SlotsOperator(**kwargs)

    def stored(self, op: SlotsOperator) -> dict[str, Any]:
        """The ``Change`` fields that make the private state after ``op``'s last entry durable:
        rows of the accounts changed since the last call + the small private state.

        ``snapshot`` always names its ``ledger_index`` and ``account_root``
        (``Store.snapshot_with_root`` finds older roots by it).
        """
        snapshot = {
            "ledger_index": len(op.ledger) - 1,
            "account_root": str(op.account_root),
            "private": op.private_state(),
        }
        return {"snapshot": snapshot, "rows": op.take_dirty()}

    def restore(
        self,
        store: Store,
        wiring: Mapping[str, Any],
        entries: Sequence[Mapping[str, Any]],
        orders: Mapping[int, tuple[SlottedOrder, Signature]],
    ) -> SlotsOperator:
        """The operator rebuilt from the database: its latest private state and account
        rows, the ledger ``entries`` and the decrypted ``orders`` (commitment -> (terms,
        signature)).

        OperatorError if they do not reproduce the ledger's latest roots.
        """
        snapshot = store.latest_snapshot()
        if snapshot is None:
            raise Internal("the database has ledger entries but no snapshot")
        if "private" not in snapshot:
            raise Internal("the latest snapshot is not a slots private state")
        return SlotsOperator.restore(
            **wiring,
            entries=entries,
            orders=orders,
            rows=store.account_rows(),
            private_state=snapshot["private"],
        )

    def inclusion(self, op: SlotsOperator, store: Store, index: int, root: int | None) -> Inclusion:
        """Opening + quaternary path of ``index`` under ``root``.

        An older root is answered from the account rows stored up to the
        ledger index whose private state names that root.
        """
        book = op.book
        if root is not None and root != op.account_root:
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

    def solvency_proofs(self, op: SlotsOperator) -> int:
        """Proofs a solvency job makes (one solvency_walk per chunk of account records)."""
        return len(split_record_chunks(op.book))

    def has_queued_work(self, op: SlotsOperator) -> bool:
        """Accepted cancels wait for a batch to execute them (their slots are busy until then).

        Queued places need no batch of their own: a live one is a live order, and
        one that expired unplaced costs no proof (the planner skips it).
        """
        return bool(op.pending_cancels)

    def holds_slot(self, op: SlotsOperator, order_index: int | None) -> bool:
        """Whether the order still keeps a newer id out of its slot (a pending one does)."""
        return True if order_index is None else op.holds_slot(order_index)


def check_genesis_state(genesis: Mapping[str, Any]) -> None:
    """ValueError (one line) unless the stored genesis names the slots state (an absent
    ``state`` is a list-state ledger: refused, ``exchange.core.config.LIST_STATE_REFUSAL``)."""
    refuse_other_state(genesis.get("state"), where="the database's genesis")
