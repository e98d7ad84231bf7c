"""The replay's checks of a recycling-order ledger (genesis ``"state": "slots"``; ``SlotsChecks``).

Mixed into ``verifier.ledger.replay._Replayer``, which sends every entry of a
slots ledger (and any ``cancel`` entry) to ``slots_entry``. Rules (each
failure names the entry):

* every entry's ``order`` and ``fill`` roots stay 0 (genesis sets them);
* ``order``: ``order_index`` is the order's sequence number (one more than
  the last), the commitment is a new non-zero field element; the order is
  unplaced until a batch places it;
* ``cancel``: cancels an order an earlier ``order``
  entry published and that no cancel since the last batch already names;
  the next batch must execute it;
* ``account_op``: ``_Replayer.account_op``'s rules with the
  ``account_update`` statement, whose public ``funding[M]`` are the replay's
  current funding indices;
* ``batch``: batch id and report timestamp strictly increase, the report is
  usable (``_use_report``), the proofs chain root to root from
  ``roots_before`` to ``roots_after`` (order and fill roots 0), ``order_ops``
  before any ``settle_fills`` group, and the ``order_ops`` proofs' public
  cancels are exactly the pending cancel entries in order, and every order
  their public places name is an unplaced order (published by an earlier
  ``order`` entry, never placed before: a private order, or one placed
  twice, fails naming it) (``verifier.batch_chain.check_batch_chain``);
  every proof's public inputs
  are recomputed (``verifier.statements.order_ops`` / ``settle_fills``: batch
  id, report timestamp and marks, the replay's funding indices, volume, the
  genesis fee / initial / maintenance fractions); the batch's volume is the
  sum of its fill groups';
* ``solvency`` (``verifier.ledger.solvency``) and ``funding``
  (``verifier.ledger.risk``) are the replay's; ``sweep`` and
  ``liquidation`` take their proofs in ``verifier.ledger.risk_slots``.

Pure: no I/O. Never imports prover or exchange.
"""

from verifier.batch_chain import BatchChainError, ChainLink, check_batch_chain
from verifier.ledger.checks import ReplayChecks
from verifier.ledger.entries import (
    ACCOUNT_OPS,
    AccountOpEntry,
    BatchEntry,
    Entry,
    OrderEntry,
)
from verifier.ledger.parse import EntryError
from verifier.ledger.slots import ORDER_OPS, CancelEntry, SlotsBatchProof
from verifier.statements import account_update as account_update_statement
from verifier.statements import order_ops as order_ops_statement
from verifier.statements import settle_fills as settle_fills_statement

__all__ = ["SlotsChecks"]


class SlotsChecks(ReplayChecks):
    """Checks of slots-ledger entries; see the module docstring."""

    # -- dispatch -------------------------------------------------------------

    def slots_entry(self, e: Entry) -> bool:
        """Check ``e`` if it is a slots-only kind or a kind whose slots check differs.

        Returns False when the replay's shared check applies. A non-zero order
        or fill root fails here.
        """
        after = e.roots_after
        if after.order or after.fill:
            raise EntryError(
                "roots_after: the order and fill roots of a slots ledger are 0 "
                f"(got order {after.order}, fill {after.fill})"
            )
        if isinstance(e, OrderEntry):
            self.slots_order(e)
        elif isinstance(e, CancelEntry):
            self.cancel(e)
        elif isinstance(e, BatchEntry):
            self.slots_batch(e)
        else:
            return False
        return True

    # -- kinds ----------------------------------------------------------------

    def slots_order(self, e: OrderEntry) -> None:
        s = self.state
        if e.order_index != len(s.order_commitments):
            raise EntryError(
                f"order_index is {e.order_index}, expected the next sequence number "
                f"{len(s.order_commitments)}"
            )
        if e.commitment == 0:
            raise EntryError("commitment 0 is not an order")
        if e.commitment in self.commitment_set:
            raise EntryError("commitment repeats an earlier order")
        s.unplaced_orders[e.commitment] = e.order_index
        s.order_commitments.append(e.commitment)
        self.commitment_set.add(e.commitment)

    def cancel(self, e: CancelEntry) -> None:
        h = e.commitment
        if h not in self.commitment_set:
            raise EntryError(f"cancel of order {h:#x}, which no order entry published"[:120])
        if h in self.state.pending_cancels:
            raise EntryError(f"cancel of order {h:#x} repeats a pending cancel"[:120])
        self.state.pending_cancels.append(h)

    def account_op_inputs(self, e: AccountOpEntry, prices: tuple[int, ...]) -> list[int]:
        """The ``account_update`` proof's public inputs (at the replay's funding indices)."""
        g = self.genesis
        try:
            return account_update_statement.public_inputs(
                old_acc_root=e.roots_before.account,
                new_acc_root=e.roots_after.account,
                op=ACCOUNT_OPS[e.op],
                index=e.account,
                amount=e.amount,
                pub=e.pubkey,
                prices=prices,
                imf_bps=g.imf_bps,
                funding=self.funding_indices(),
                account_levels=g.params.account_levels,
            )
        except ValueError as exc:
            raise EntryError(f"public inputs: {exc}") from None

    def slots_batch(self, e: BatchEntry) -> None:
        s = self.state
        g = self.genesis
        p = g.params
        report = self.open_batch(e)
        funding = self.funding_indices()
        cursor = e.roots_before
        summed = [0] * p.markets
        links: list[ChainLink] = []
        for k, proof in enumerate(e.proofs):
            if not isinstance(proof, SlotsBatchProof):  # pragma: no cover - parser guarantees
                raise EntryError(f"batch proof {k} does not name its statement")
            label = f"batch proof {k} ({proof.statement})"
            if proof.roots_before != cursor:
                where = "the batch's roots_before" if k == 0 else f"proof {k - 1}'s roots_after"
                raise EntryError(f"{label} does not start from {where}")
            after = proof.roots_after
            if after.order or after.fill:
                raise EntryError(f"{label}: the order and fill roots of a slots ledger are 0")
            try:
                if proof.statement == ORDER_OPS:
                    # cancels[j] / places[j] are op j's: h for a cancel / place, 0 otherwise
                    expected = order_ops_statement.public_inputs(
                        old_acc_root=proof.roots_before.account,
                        new_acc_root=after.account,
                        batch_id=e.batch_id,
                        funding=funding,
                        cancels=proof.cancels,
                        places=proof.places,
                        op_slots=p.op_slots,
                    )
                else:
                    summed = [a + b for a, b in zip(summed, proof.volume, strict=True)]
                    expected = settle_fills_statement.public_inputs(
                        old_acc_root=proof.roots_before.account,
                        new_acc_root=after.account,
                        batch_id=e.batch_id,
                        timestamp=report.timestamp,
                        prices=report.marks,
                        funding=funding,
                        volume=proof.volume,
                        fee_bps=g.fee_bps,
                        imf_bps=g.imf_bps,
                        mmf_bps=[m.mmf_bps for m in g.markets],
                    )
            except ValueError as exc:
                raise EntryError(f"{label} public inputs: {exc}") from None
            self._proof(proof.statement, proof.proof.to_json(), expected, e.index, label)
            links.append(
                ChainLink(
                    proof.statement,
                    proof.roots_before.account,
                    after.account,
                    proof.cancels,
                    proof.places,
                )
            )
            cursor = after
        if cursor != e.roots_after:
            raise EntryError("the last batch proof does not end at the batch's roots_after")
        try:
            placed = check_batch_chain(
                old_root=e.roots_before.account,
                new_root=e.roots_after.account,
                links=links,
                pending_cancels=s.pending_cancels,
                published=self.commitment_set,
                unplaced=s.unplaced_orders,
            )
        except BatchChainError as exc:
            raise EntryError(str(exc)) from None
        if summed != list(e.volume):
            raise EntryError(
                f"volume {list(e.volume)} is not the sum of the fill groups' volumes {summed}"
            )
        for h in placed:
            del s.unplaced_orders[h]
        s.pending_cancels = []
        self.close_batch(e)
