"""Risk engine of the slots operator: health sweeps, liquidations and funding on the account book.

``SlotsRiskEngine`` is mixed into ``exchange.operator.slots.SlotsOperator``;
every method proves first and appends one ledger entry only when every proof
exists, so a refused call changes nothing:

* ``health_sweep``: ``health_sweep`` chunk proofs over every account
  at a signed report and the current funding indices (flags are taken after
  each account's pending funding) -> a ``sweep`` entry;
* ``liquidate``: the domain engine (``exchange.domain.liquidation``) decides
  the steps on the accounts' SETTLED balances; each step is a
  ``liquidate`` proof that settles the account's and the fund's
  funding and writes the checkpoints -> a ``liquidation`` entry. A shortfall
  the fund cannot cover is auto-deleveraged instead: the domain engine's
  ADL trades (``exchange.domain.adl``: bankruptcy price, published ranking)
  become ``deleverage`` proofs, and each deleveraged market's ranking walk
  (``adl_walk`` chunk proofs: nobody outranking the last counterparty was
  skipped) is proven on the book before that market's first trade -> a
  ``deleverage`` entry;
* ``update_funding`` (``exchange.operator.funding.FundingUpdates``): the next
  cumulative funding indices from the
  report -> a ``funding`` entry; from then on every proof takes them as its
  public ``funding[M]`` and settles touched accounts to them.

The batch guards (``_check_batch_risk``: flagged accounts liquidated, funding
not overdue; ``sweep_due``) mirror the verifier's rules
(``verifier.ledger.risk``). Never writes to disk.
"""

from collections.abc import Callable
from typing import Any

from exchange.domain import MarketSpec
from exchange.domain import liquidation as liquidation_domain
from exchange.domain.margin import RiskParams
from exchange.domain.matching import AccountEntry
from exchange.operator.common import OperatorError, UnknownAccount
from exchange.operator.funding import FundingUpdates
from prover.account_book import AccountBook
from prover.statements.adl_walk import adl_walk_for_trades
from prover.statements.deleverage import DeleverageOutcome, build_deleveraging
from prover.statements.health_sweep import build_sweep
from prover.statements.liquidate import build_liquidation_step
from verifier.export import LedgerEntry, Roots
from verifier.ledger.rules import FundingRules, RiskRules
from verifier.oracle import OracleReport
from verifier.protocol import FEE_ACCOUNT
from verifier.statements.adl_walk import AdlWalkError
from verifier.statements.deleverage import DeleverageError
from verifier.statements.liquidate import LiquidationStatementError

__all__ = ["SlotsRiskEngine"]

SWEEP = "health_sweep"
LIQUIDATE = "liquidate"
ADL = "deleverage"
ADL_WALK = "adl_walk"


class SlotsRiskEngine(FundingUpdates):
    """Sweeps, liquidations and funding on top of the slots operator's ``AccountBook``."""

    book: AccountBook
    markets: tuple[MarketSpec, ...]
    funding_indices: tuple[int, ...]
    _new_blinding: Callable[[], int]

    def _init_risk(self, risk: RiskRules | None, funding: FundingRules | None) -> None:
        """Genesis rules (None = off) and the risk clocks, as the verifier counts them."""
        if risk is not None and len(risk.liquidation_fee_bps) != self.params.markets:
            raise OperatorError(f"risk rules need {self.params.markets} liquidation fees")
        self.risk_rules = risk
        self.funding_rules = funding
        self.pending_liquidations: list[int] = []
        self.batches_since_sweep = 0
        self.sweep_clock: int | None = None
        self.funding_timestamp: int | None = None
        self.funding_clock: int | None = None
        self.liquidations: list[liquidation_domain.Liquidation] = []

    def genesis_rules(self) -> dict[str, Any]:
        """Genesis ``risk`` / ``funding`` objects, only those that are set."""
        out: dict[str, Any] = {}
        if self.risk_rules is not None:
            out["risk"] = self.risk_rules.to_json()
        if self.funding_rules is not None:
            out["funding"] = self.funding_rules.to_json()
        return out

    @property
    def risk_params(self) -> RiskParams:
        """Margin fractions and the genesis liquidation fee, for the domain engine."""
        rules = self._rules()
        return RiskParams(
            imf_bps=tuple(m.imf_bps for m in self.markets),
            mmf_bps=tuple(m.mmf_bps for m in self.markets),
            liquidation_fee_bps=rules.liquidation_fee_bps,
        )

    def _rules(self) -> RiskRules:
        if self.risk_rules is None:
            raise OperatorError("genesis has no risk rules: no health sweeps or liquidations")
        return self.risk_rules

    # ------------------------------------------------------------ batch guards

    def sweep_due(self, time: int | None = None) -> bool:
        """A batch now (operator time ``time``) would break the genesis sweep interval."""
        rules = self.risk_rules
        if rules is None:
            return False
        n, t = rules.sweep_interval_batches, rules.sweep_interval_s
        if n and self.batches_since_sweep >= n:
            return True
        now = self._clock() if time is None else time
        return bool(t) and self.sweep_clock is not None and now - self.sweep_clock >= t

    def _check_batch_risk(self, report: OracleReport) -> None:
        """Refuse a batch at ``report`` that ``darkpool-verify`` would fail (OperatorError)."""
        if self.pending_liquidations:
            raise OperatorError(
                f"account {self.pending_liquidations[0]} was flagged by the last health sweep: "
                "liquidate it (or sweep again) before the next batch"
            )
        if self.risk_rules is not None and self.sweep_due(self._entry_time(report)):
            raise OperatorError("a health sweep is due before this batch (health_sweep)")
        self._check_funding_overdue(report)

    def _count_batch_risk(self, entry_time: int, report: OracleReport) -> None:
        self.batches_since_sweep += 1
        if self.sweep_clock is None:
            self.sweep_clock = entry_time
        if self.funding_clock is None:
            self.funding_clock = report.timestamp

    # ------------------------------------------------------------ sweeps

    def health_sweep(self, report: OracleReport) -> tuple[LedgerEntry, tuple[int, ...]]:
        """Prove every account's health (after funding) at the report's marks; append a ``sweep``.

        Returns the entry and the accounts below maintenance margin (the fund,
        index 0, included if it is); every other flagged account must be
        liquidated (``liquidate``) before the next batch.
        """
        self._rules()
        self._check_report(report)
        self._check_funding_overdue(report)  # the verifier's rule for sweeps too
        entry_time = self._entry_time(report)
        witnesses = build_sweep(
            self.book,
            prices=report.marks,
            funding=self.funding_indices,
            mmf_bps=tuple(m.mmf_bps for m in self.markets),
        )
        chunks = self._prove_all(
            SWEEP, [(w.to_circuit_inputs(), w.public_inputs()) for w in witnesses]
        )
        k = 1 << (2 * self.params.chunk_levels)
        flagged = tuple(
            w.chunk_index * k + b for w in witnesses for b in range(k) if w.flags >> b & 1
        )
        roots = Roots(self.book.root, 0, 0)
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
        """Liquidate one account below maintenance margin (after funding) at the report's marks."""
        params = self.risk_params
        self._check_report(report)
        self._check_funding_overdue(report)
        if index == FEE_ACCOUNT or index not in self.book.records:
            raise UnknownAccount(f"account {index} cannot be liquidated")
        entry_time = self._entry_time(report)
        funding = self.funding_indices
        settled = {
            i: AccountEntry(s.balance, s.positions)
            for i, s in (
                (i, self.book.settle_funding(r, funding)) for i, r in self.book.records.items()
            )
        }
        try:
            new_book, record = liquidation_domain.liquidate(settled, index, report.marks, params)
        except liquidation_domain.LiquidationError as exc:
            raise OperatorError(str(exc)) from None
        if record.deleveraging:
            return self._deleverage(record, new_book, report, entry_time)
        book = self.book
        steps: list[dict[str, Any]] = []
        for k, s in enumerate(record.steps):
            try:
                out = build_liquidation_step(
                    book,
                    account=index,
                    market=s.market,
                    lots=s.lots,
                    continuation=k > 0,
                    prices=report.marks,
                    funding=funding,
                    imf_bps=params.imf_bps,
                    mmf_bps=params.mmf_bps,
                    liquidation_fee_bps=params.liquidation_fee_bps,
                    new_blinding=self._new_blinding,
                )
            except LiquidationStatementError as exc:
                raise OperatorError(f"liquidation step {k}: {exc}") from None
            steps.append(self._prove(LIQUIDATE, out.inputs, out.public_inputs))
            book = out.book
        for i in (index, FEE_ACCOUNT):
            r = book.record(i)
            if AccountEntry(r.balance, r.positions) != new_book[i]:
                raise OperatorError("liquidation witnesses differ from the risk engine")
        body = {"account": index, "oracle": report.to_json(), "steps": steps}
        return self._append_liquidation("liquidation", body, record, book, report, entry_time)

    def _append_liquidation(
        self,
        kind: str,
        body: dict[str, Any],
        record: liquidation_domain.Liquidation,
        book: AccountBook,
        report: OracleReport,
        entry_time: int,
    ) -> LedgerEntry:
        """Append a ``liquidation`` / ``deleverage`` entry ending at ``book``; adopt it."""
        entry = self.ledger.append(
            kind, Roots(self.book.root, 0, 0), Roots(book.root, 0, 0), body, time=entry_time
        )
        self.book = book
        self.latest_report = report
        self.liquidations.append(record)
        self.pending_liquidations = [i for i in self.pending_liquidations if i != record.account]
        return entry

    def _deleverage(
        self,
        record: liquidation_domain.Liquidation,
        new_book: dict[int, AccountEntry],
        report: OracleReport,
        entry_time: int,
    ) -> LedgerEntry:
        """Prove the domain's ADL trades of ``record.account``; append a ``deleverage`` entry."""
        index = record.account
        try:
            outs = build_deleveraging(
                self.book,
                bankrupt=index,
                trades=[(d.counterparty, d.market, d.lots, d.price) for d in record.deleveraging],
                prices=report.marks,
                funding=self.funding_indices,
                new_blinding=self._new_blinding,
            )
        except DeleverageError as exc:
            raise OperatorError(f"deleveraging: {exc}") from None
        book = outs[-1].book
        touched = {index, FEE_ACCOUNT, *(d.counterparty for d in record.deleveraging)}
        if outs[0].shortfall != record.shortfall or any(
            AccountEntry(book.record(i).balance, book.record(i).positions) != new_book[i]
            for i in touched
        ):
            raise OperatorError("deleveraging witnesses differ from the risk engine")
        trades = [self._prove(ADL, o.inputs, o.public_inputs) for o in outs]
        body = {
            "account": index,
            "oracle": report.to_json(),
            "shortfall": str(record.shortfall),
            "trades": trades,
            "ranking": self._prove_ranking(outs, report),
        }
        return self._append_liquidation("deleverage", body, record, book, report, entry_time)

    def _prove_ranking(
        self, outs: list[DeleverageOutcome], report: OracleReport
    ) -> list[dict[str, Any]]:
        """The ``adl_walk`` proofs of every deleveraged market, in the trades' market order:
        each walks the book right before the market's first trade."""
        groups: list[tuple[AccountBook, list[DeleverageOutcome]]] = []
        for k, o in enumerate(outs):
            if groups and groups[-1][1][0].public.market == o.public.market:
                groups[-1][1].append(o)
            else:
                groups.append((outs[k - 1].book if k else self.book, [o]))
        try:
            witnesses = [
                w
                for book, group in groups
                for w in adl_walk_for_trades(
                    book,
                    [o.public for o in group],
                    prices=report.marks,
                    funding=self.funding_indices,
                )
            ]
        except AdlWalkError as exc:
            raise OperatorError(f"ADL ranking: {exc}") from None
        return self._prove_all(
            ADL_WALK, [(w.to_circuit_inputs(), w.public_inputs()) for w in witnesses]
        )

    def sweep_and_liquidate(self, report: OracleReport) -> tuple[int, ...]:
        """A health sweep at ``report`` and the liquidation of every flagged trader."""
        _, flagged = self.health_sweep(report)
        done = tuple(i for i in flagged if i != FEE_ACCOUNT)
        for i in done:
            self.liquidate(i, report)
        return done
