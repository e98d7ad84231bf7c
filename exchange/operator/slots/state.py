"""State of the recycling-order operator: the AccountBook, accepted orders, the ledger.

``SlotsState`` holds what the slots operator (``exchange.operator.slots``)
knows: the private ``prover.account_book.AccountBook`` (quaternary account
tree, 8-input leaves, per-account order slot trees), every accepted order
(terms, owner signature, where it is in its life: waiting to be placed,
placed, cancel accepted, cancel executed, replaced in its slot), the domain
``OrderBook`` the matching engine reads (indexed by the order's sequence
number, its time priority), the latest marks and the signed public ledger
(genesis ``"state": "slots"``: the order and fill roots are always 0).
Changes nothing by itself; the transitions are in ``intake``, ``batch`` and
``operator``. Never writes to disk except ``export``, never prints.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from exchange.domain import MarketSpec, OrderBook, RestingOrder
from exchange.operator.common import OperatorError, ProveFn, wall_clock
from exchange.operator.proving import ProvingMixin
from oracle.signer import Oracle
from prover import backends, toolchain
from prover.account_book import AccountBook, random_blinding, slots_opening
from prover.circuits import build_statement, load_params
from verifier.account_state import AccountRecord, SlottedOrder, slot_index
from verifier.eddsa import PrivateKey, Signature
from verifier.encoding import Order
from verifier.export import Ledger, LedgerError, Roots
from verifier.ledger import DEFAULT_LIMITS_JSON, Limits
from verifier.oracle import OracleReport
from verifier.params import CircuitParams
from verifier.protocol import DEFAULT_EXCHANGE_ID, STATEMENTS, Tags

__all__ = [
    "SLOTS_STATEMENTS",
    "AcceptedOrder",
    "OrderConflict",
    "SlotsState",
    "UnknownOrder",
    "domain_order",
]

#: The statements a slots ledger proves with (genesis ``vkey_hashes``).
SLOTS_STATEMENTS: tuple[str, ...] = STATEMENTS


class UnknownOrder(OperatorError):
    """No accepted order has this commitment (HTTP 404)."""


class OrderConflict(OperatorError):
    """The request contradicts the order's state: already filled or cancelled (HTTP 409)."""


@dataclass
class AcceptedOrder:
    """An order the operator accepted (its ``order`` ledger entry exists).

    ``index`` is its sequence number (the entry's ``order_index``, time
    priority). ``placed``: an ORDER OPS proof wrote it into its slot.
    ``cancel_accepted``: a ``cancel`` entry exists (the next batch executes it,
    before any fill); ``cancelled``: a batch executed it (slot filled = size).
    ``replaced``: a newer order id of the account took its slot.
    ``unplaced``: a batch finished it without placing it (it had expired, or
    its place was refused: ``order_reasons`` says why); its slot is free.
    ``cancel_signature``: the owner's signature over Poseidon(CANCEL_TAG, h).
    """

    index: int
    order: SlottedOrder
    commitment: int
    signature: Signature
    placed: bool = False
    cancel_accepted: bool = False
    cancelled: bool = False
    replaced: bool = False
    unplaced: bool = False
    cancel_signature: Signature | None = None


def domain_order(order: SlottedOrder) -> Order:
    """The terms the matching engine and intake margin checks read (reduce-only aside)."""
    return Order(
        account=order.account,
        market=order.market,
        side=order.side,
        size=order.size,
        limit_price=order.limit_price,
        expiry=order.expiry,
        salt=order.salt,
    )


class SlotsState(ProvingMixin):
    """All state of the slots operator in memory (no genesis until the subclass writes it)."""

    def _init_state(
        self,
        *,
        markets: Sequence[MarketSpec],
        oracle: Oracle,
        operator_key: PrivateKey | None = None,
        profile: str = "test",
        exchange_id: str = DEFAULT_EXCHANGE_ID,
        clock: Callable[[], int] = wall_clock,
        prove: ProveFn = backends.prove_inputs,
        new_blinding: Callable[[], int] = random_blinding,
    ) -> None:
        """The wiring (``SlotsOperator``'s constructor arguments; a fresh operator key if None)."""
        if operator_key is None:
            operator_key = PrivateKey.generate()
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
        self.min_deposit = 0
        self.oracle = oracle
        self._clock = clock
        self._prove_fn = prove
        self._new_blinding = new_blinding
        self._artifacts: dict[str, toolchain.CircuitArtifacts] = {}
        self.book = AccountBook(self.params)
        # Matching engine view: one RestingOrder per accepted order, by sequence number.
        self.orders = OrderBook()
        self.accepted: list[AcceptedOrder] = []
        self._by_commitment: dict[int, int] = {}
        # (account, slot) -> sequence number of the newest order accepted for that slot.
        self._slot_owner: dict[int, dict[int, int]] = {}
        # (account, slot) -> sequence number of the order the proven slot holds.
        self._in_slot: dict[tuple[int, int], int] = {}
        self.pending_places: list[int] = []  # accepted since the last batch, acceptance order
        self.pending_cancels: list[int] = []  # cancel entries since the last batch, in order
        self.order_reasons: dict[int, str] = {}
        # Lots filled by orders whose slot no longer shows them (cancelled: the slot
        # says filled = size; replaced: the slot holds a newer order). Private state.
        self.finished_fills: dict[int, int] = {}
        self.total_collateral = 0
        self.latest_report: OracleReport | None = None
        self.last_batch_timestamp: int | None = None
        self.next_batch_id = 1
        self.ledger = Ledger(operator_key, exchange_id)
        self.operator_key = operator_key
        self.limits = Limits.from_json(DEFAULT_LIMITS_JSON)
        # Funding indices settled into every touched leaf: zeros until the slots
        # operator writes funding entries (FundingUpdates.update_funding).
        self.funding_indices: tuple[int, ...] = (0,) * self.params.markets
        self.proof_seconds: dict[str, float] = dict.fromkeys(SLOTS_STATEMENTS, 0.0)
        self.proof_counts: dict[str, int] = dict.fromkeys(SLOTS_STATEMENTS, 0)

    # ------------------------------------------------------------ views

    @property
    def roots(self) -> Roots:
        """Ledger roots: the account tree root; no order list or fill tree (0)."""
        return Roots(self.book.root, 0, 0)

    @property
    def imf_bps(self) -> tuple[int, ...]:
        return tuple(m.imf_bps for m in self.markets)

    @property
    def mmf_bps(self) -> tuple[int, ...]:
        return tuple(m.mmf_bps for m in self.markets)

    @property
    def fee_bps(self) -> tuple[int, ...]:
        return tuple(m.fee_bps for m in self.markets)

    def artifacts(self, statement: str) -> toolchain.CircuitArtifacts:
        """Compiled + set-up circuit (built once per operator, cached on disk by the toolchain)."""
        if statement not in self._artifacts:
            self._artifacts[statement] = build_statement(statement, self.profile, self.exchange_id)
        return self._artifacts[statement]

    def verification_keys(self) -> dict[str, dict[str, Any]]:
        return {s: self.artifacts(s).verification_key() for s in SLOTS_STATEMENTS}

    def account_state(self, index: int) -> AccountRecord:
        """The hidden leaf contents of one account (for its owner; the service authenticates)."""
        record = self.book.records.get(index)
        if record is None:
            raise OperatorError(f"account {index} does not exist")
        return record

    def slot_number(self, order: SlottedOrder) -> int:
        return slot_index(order.order_id, self.params.slot_levels)

    @property
    def account_root(self) -> int:
        """The account tree root (the ledger's ``roots.account``)."""
        return self.book.root

    @property
    def accounts(self) -> Mapping[int, AccountRecord]:
        """Read-only view of every open account's leaf contents (SECRET), by index."""
        return MappingProxyType(self.book.records)

    def inclusion_opening(self, index: int) -> dict[str, Any]:
        """Account ``index``'s opening under the current root (``prover.account_book.slots_opening``).

        The JSON ``verifier.inclusion_slots.parse_slots_opening`` reads;
        OperatorError if the account does not exist.
        """
        self.account_state(index)
        return slots_opening(self.book, index)

    @property
    def commitments(self) -> list[int]:
        """Every accepted order's commitment ``h``, by sequence number (the ``order`` entries)."""
        return [held.commitment for held in self.accepted]

    def held(self, order_index: int) -> AcceptedOrder:
        """The accepted order with this sequence number; UnknownOrder if there is none."""
        if (
            not isinstance(order_index, int)
            or isinstance(order_index, bool)
            or not 0 <= order_index < len(self.accepted)
        ):
            raise UnknownOrder(f"order {order_index} does not exist")
        return self.accepted[order_index]

    def order_terms(self, order_index: int) -> SlottedOrder:
        """The plaintext terms of an accepted order (for its owner; never published)."""
        return self.held(order_index).order

    def accepted_order(self, commitment: int) -> AcceptedOrder:
        """The accepted order with commitment ``h``; UnknownOrder if there is none."""
        index = self._by_commitment.get(commitment)
        if index is None:
            raise UnknownOrder("no accepted order has this commitment")
        return self.accepted[index]

    def resting(self, order_index: int) -> RestingOrder:
        """The matching engine's record of an accepted order (UnknownOrder if there is none)."""
        return self.orders.get(self.held(order_index).index)

    def order_status(self, order_index: int) -> tuple[int, bool]:
        """(lots filled, cancelled) of an accepted order (cancelled once the cancel is accepted)."""
        r = self.resting(order_index)
        return r.filled, self.accepted[order_index].cancel_accepted

    # ------------------------------------------------------------ transitions

    def _slot_written(self, index: int, *, cancelled: bool) -> int | None:
        """A batch's ORDER OPS op wrote order ``index`` into its slot (placed, or cancelled
        with filled = size); returns the older order it replaced there, if any."""
        held = self.accepted[index]
        key = (held.order.account, self.slot_number(held.order))
        previous = self._in_slot.get(key)
        self._in_slot[key] = index
        if cancelled:
            held.cancelled = True
        else:
            held.placed = True
        if previous is None or previous == index:
            return None
        self.accepted[previous].replaced = True
        return previous

    def _finish(self, index: int) -> None:
        """Stop a finished order from matching or holding margin (once)."""
        if not self.orders.get(index).cancelled:
            self.orders.cancel(index)

    # ------------------------------------------------------------ export

    def export(self, directory: Path | str) -> Path:
        """The ledger export ``darkpool-verify`` replays (docs/ledger.md)."""
        try:
            return self.ledger.export(directory, self.verification_keys())
        except LedgerError as exc:
            raise OperatorError(str(exc)) from None
