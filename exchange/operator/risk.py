"""The operator's risk transitions: health sweeps, liquidations and funding updates (issue 11).

``RiskEngine`` sits between ``SettlementPlanner`` and ``Operator``. Each
method proves first and appends one ledger entry only when every proof exists
(atomic like every transition; see ``exchange.operator.transitions``):

* ``health_sweep(report)``: ``health_sweep`` chunk proofs over every account
  at the report's marks; the entry lists the accounts below maintenance
  margin. Every flagged trader must be liquidated before the next batch, or
  ``darkpool-verify`` fails that batch.
* ``liquidate(index, report)``: the steps of ``exchange.domain.liquidation``
  (largest maintenance contribution first, just enough lots to restore
  initial margin, capped fee to the fund), each proven with ``liquidate``.
  A shortfall the fund cannot cover would need auto-deleveraging, which is
  not proven yet: ``OperatorError`` and nothing changes.
* ``update_funding(report)`` (``exchange.operator.funding.FundingUpdates``,
  shared with the slots operator): the next cumulative funding index per
  market, at most once per genesis ``funding.interval_s`` and, before a
  batch, at least that often (``run_batch`` refuses an overdue batch). The
  indices are public ledger data; this operator's leaves have no funding
  checkpoints, so only the recycling-order operator settles them into balances.

This module never writes state to disk and never prints.
"""

from typing import Any

from exchange.domain import AccountEntry
from exchange.domain import liquidation as liquidation_domain
from exchange.domain.margin import RiskParams
from exchange.operator.funding import FundingUpdates
from exchange.operator.settlement import SettlementPlanner
from exchange.operator.state import OperatorError, UnknownAccount
from prover.statements.health_sweep import build_sweep_witnesses
from prover.statements.liquidate import build_liquidation_step
from verifier.encoding import AccountState
from verifier.export import LedgerEntry, Roots
from verifier.oracle import OracleReport
from verifier.protocol import FEE_ACCOUNT

__all__ = ["RiskEngine"]


class RiskEngine(SettlementPlanner, FundingUpdates):
    """Sweeps, liquidations and funding on top of the operator state."""

    # ------------------------------------------------------------ parameters

    @property
    def risk_params(self) -> RiskParams:
        """Margin fractions and the genesis liquidation fee, for the domain engine."""
        return RiskParams(
            imf_bps=self.imf_bps,
            mmf_bps=tuple(m.mmf_bps for m in self.markets),
            liquidation_fee_bps=self.risk_rules.liquidation_fee_bps,
        )

    def sweep_due(self, time: int | None = None) -> bool:
        """A batch now (operator time ``time``) would break the genesis sweep interval."""
        rules = self.risk_rules
        n, t = rules.sweep_interval_batches, rules.sweep_interval_s
        if n and self.batches_since_sweep >= n:
            return True
        now = self._clock() if time is None else time
        return bool(t) and self.sweep_clock is not None and now - self.sweep_clock >= t

    def _genesis_rules(self) -> dict[str, Any]:
        """Genesis ``risk`` and (when set) ``funding``."""
        out: dict[str, Any] = {"risk": self.risk_rules.to_json()}
        if self.funding_rules is not None:
            out["funding"] = self.funding_rules.to_json()
        return out

    def _check_batch_risk(self, report: OracleReport, entry_time: int) -> None:
        """Refuse a batch (entry time ``entry_time``) that ``darkpool-verify`` would fail."""
        if self.pending_liquidations:
            raise OperatorError(
                f"account {self.pending_liquidations[0]} was flagged by the last health sweep: "
                "liquidate it (or sweep again) before the next batch"
            )
        # The verifier's order (verifier.ledger.risk.RiskChecks.before_batch).
        self._check_funding_overdue(report)
        n, t = self.risk_rules.sweep_interval_batches, self.risk_rules.sweep_interval_s
        late = t and self.sweep_clock is not None and entry_time - self.sweep_clock > t
        if (n and self.batches_since_sweep >= n) or late:
            raise OperatorError("health sweep overdue: sweep (health_sweep) before this batch")

    def _count_batch_risk(self, entry_time: int, report: OracleReport) -> None:
        self.batches_since_sweep += 1
        if self.sweep_clock is None:
            self.sweep_clock = entry_time
        if self.funding_clock is None:
            self.funding_clock = report.timestamp

    # ------------------------------------------------------------ sweeps

    def health_sweep(self, report: OracleReport) -> tuple[LedgerEntry, tuple[int, ...]]:
        """Prove every account's health at the report's marks; append a ``sweep`` entry.

        Returns the entry and the accounts below maintenance margin (the fund,
        index 0, included if it is); every other flagged account must be
        liquidated (``liquidate``) before the next batch.
        """
        self._check_report(report)
        entry_time = self._entry_time(report)
        n = len(self.accounts)
        accounts: list[AccountState | None] = [self.accounts.get(i) for i in range(n)]
        mmf = tuple(m.mmf_bps for m in self.markets)
        witnesses = build_sweep_witnesses(accounts, self.params, report.marks, mmf)
        chunks = self._prove_all(
            "health_sweep", [(w.to_circuit_inputs(), w.public_inputs()) for w in witnesses]
        )
        k = self.params.chunk_size
        flagged = tuple(
            w.chunk_index * k + b for w in witnesses for b in range(k) if w.flags >> b & 1
        )
        roots = self.roots
        entry = self.ledger.append(
            "sweep",
            roots,
            roots,
            {"oracle": report.to_json(), "chunks": chunks, "flagged": list(flagged)},
            time=entry_time,
        )
        self.latest_report = report
        self.batches_since_sweep = 0
        self.sweep_clock = entry_time
        self.pending_liquidations = [i for i in flagged if i != FEE_ACCOUNT]
        return entry, flagged

    def liquidate(self, index: int, report: OracleReport) -> LedgerEntry:
        """Liquidate one account below maintenance margin at the report's marks (proven)."""
        self._check_report(report)
        if index == FEE_ACCOUNT or index not in self.accounts:
            raise UnknownAccount(f"account {index} cannot be liquidated")
        entry_time = self._entry_time(report)
        params = self.risk_params
        book = {i: AccountEntry.of(a) for i, a in self.accounts.items()}
        try:
            new_book, record = liquidation_domain.liquidate(book, index, report.marks, params)
        except liquidation_domain.LiquidationError as exc:
            raise OperatorError(str(exc)) from None
        if record.deleveraging:
            raise OperatorError("the fund cannot cover this liquidation; ADL is not proven yet")
        tree, states = self.account_tree, dict(self.accounts)
        steps: list[dict[str, Any]] = []
        for k, s in enumerate(record.steps):
            w = build_liquidation_step(
                tree,
                account=index,
                before=states[index],
                fund_before=states[FEE_ACCOUNT],
                market=s.market,
                lots=s.lots,
                continuation=k > 0,
                prices=report.marks,
                imf_bps=params.imf_bps,
                mmf_bps=params.mmf_bps,
                liquidation_fee_bps=params.liquidation_fee_bps,
                new_blinding=self._new_blinding(),
                fund_new_blinding=self._new_blinding(),
                params=self.params,
            )
            steps.append(self._prove("liquidate", w.to_circuit_inputs(), w.public_inputs()))
            states[index], states[FEE_ACCOUNT], tree = w.after, w.fund_after, w.tree_after
        for i in (index, FEE_ACCOUNT):
            if AccountEntry.of(states[i]) != new_book[i]:
                raise OperatorError("liquidation witnesses differ from the risk engine")
        before = self.roots
        after = Roots(tree.root, before.fill, before.order)
        entry = self.ledger.append(
            "liquidation",
            before,
            after,
            {"account": index, "oracle": report.to_json(), "steps": steps},
            time=entry_time,
        )
        self.account_tree, self.accounts = tree, states
        self.latest_report = report
        self.liquidations.append(record)
        self.pending_liquidations = [i for i in self.pending_liquidations if i != index]
        return entry

    def sweep_and_liquidate(self, report: OracleReport) -> tuple[int, ...]:
        """A health sweep at ``report`` and the liquidation of every flagged trader."""
        _, flagged = self.health_sweep(report)
        done = tuple(i for i in flagged if i != FEE_ACCOUNT)
        for i in done:
            self.liquidate(i, report)
        return done
