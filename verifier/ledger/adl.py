"""Auto-deleveraging entries of a recycling-order (``"state": "slots"``) ledger and their replay.

``deleverage`` (docs/ledger.md): the ADL of one bankrupt account whose
negative equity the insurance fund (account 0) could not cover, at a real
signed report. Body ``{"account", "oracle", "shortfall", "trades"}``:
``trades`` are ``deleverage`` proofs (``circuits/deleverage.circom``), one per
(counterparty, market) closing, chained from ``roots_before.account`` to
``roots_after.account``; ``shortfall`` is the bad debt left after the fund
paid all its equity (proven by trade 0). Only the account root changes.

Rules the replay adds (``ADLChecks``, mixed into the replayer):

* the genesis is a slots genesis with risk rules, and the account is a
  trader's (``0 < account < accounts``);
* the trades follow ``verifier.statements.deleverage.check_trades`` with the
  report's marks, the replay's funding indices and the entry's shortfall:
  trade 0 pays the fund's cover and proves the shortfall, markets close in
  ascending id at the bankruptcy price the verifier recomputes, and within a
  market the counterparties' proven rank keys are in the published ranking
  order (fund last, key descending, index ascending); the bankrupt ends flat;
* the account leaves the pending-liquidation list (ADL replaces its
  liquidation); ``darkpool-verify --json`` counts ``adl_events`` (entries)
  and ``adl_trades``.

Pure: no I/O. Never imports prover or exchange.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from verifier.ledger.entries import Entry, Genesis, ProofData, register
from verifier.ledger.parse import EntryError, get, uint
from verifier.ledger.risk_slots import SlotsRiskChecks
from verifier.oracle import OracleReport
from verifier.statements import deleverage as statement

__all__ = ["ADL_STATEMENT", "ADLChecks", "DeleverageEntry"]

ADL_STATEMENT = "deleverage"


@register
@dataclass(frozen=True, kw_only=True)
class DeleverageEntry(Entry):
    """The ADL of one bankrupt account: its deleverage trade proofs, in order, at a signed report."""

    kind: ClassVar[str] = "deleverage"
    may_change: ClassVar[frozenset[str]] = frozenset({"account"})

    account: int
    oracle: OracleReport
    shortfall: int
    trades: tuple[ProofData, ...]

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "DeleverageEntry":
        trades = ProofData.list_from_json(d, "trades", "deleverage", "ADL trade proof")
        if not trades:
            raise EntryError("a deleveraging has at least one trade")
        shortfall = uint(get(d, "shortfall", "deleverage"), "deleverage shortfall")
        if not 0 < shortfall < 1 << statement.SHORTFALL_BITS:
            raise EntryError(f"deleverage shortfall {shortfall} is out of range")
        return cls(
            **header,
            account=uint(get(d, "account", "deleverage"), "deleverage account"),
            oracle=genesis.report(d, "deleverage"),
            shortfall=shortfall,
            trades=trades,
        )

    def body_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "oracle": self.oracle.to_json(),
            "shortfall": str(self.shortfall),
            "trades": [t.to_json() for t in self.trades],
        }


class ADLChecks(SlotsRiskChecks):
    """The replay's ``deleverage`` check; mixed into ``verifier.ledger.replay._Replayer``."""

    def deleverage(self, e: DeleverageEntry) -> None:
        g = self.genesis
        if not g.slots or g.risk is None:
            raise EntryError("a deleveraging needs a slots genesis with risk rules")
        report = e.oracle
        self._use_report(report, e.time, "oracle report")
        if not 0 < e.account < self.state.account_count:
            raise EntryError(f"deleveraging of account {e.account}, which is not a trader's")
        funding = tuple(self.funding_indices())
        trades: list[statement.DeleverageTradePublic] = []
        for k, signals in enumerate(self._signals(ADL_STATEMENT, e.trades, "ADL trade")):
            try:
                trades.append(
                    statement.DeleverageTradePublic.from_signals(signals, g.params.markets)
                )
            except ValueError as exc:
                raise EntryError(f"ADL trade {k}: {exc}") from None
        end_root, reasons = statement.check_trades(
            trades,
            bankrupt=e.account,
            shortfall=e.shortfall,
            start_root=e.roots_before.account,
            prices=report.marks,
            funding=funding,
        )
        if reasons:
            raise EntryError(reasons[0])
        if end_root != e.roots_after.account:
            raise EntryError("the last ADL trade does not end at roots_after")
        expected = [
            replace(
                decoded,
                bankrupt=e.account,
                shortfall=e.shortfall,
                prices=report.marks,
                funding=funding,
                first=k == 0,
            )
            for k, decoded in enumerate(trades)
        ]
        self._expected_proofs(ADL_STATEMENT, e.trades, expected, e.index, "ADL trade")
        risk = self.state.risk
        risk.pending = [i for i in risk.pending if i != e.account]
        risk.adl_events += 1
        risk.adl_trades += len(trades)
