"""Auto-deleveraging entries of a recycling-order (``"state": "slots"``) ledger and their replay.

``deleverage`` (docs/ledger.md): the ADL of one bankrupt account whose
negative equity the insurance fund (account 0) could not cover, at a real
signed report. Body ``{"account", "oracle", "shortfall", "trades",
"ranking"}``: ``trades`` are ``deleverage`` proofs
(``circuits/deleverage.circom``), one per (counterparty, market) closing,
chained from ``roots_before.account`` to ``roots_after.account``;
``shortfall`` is the bad debt left after the fund paid all its equity (proven
by trade 0); ``ranking`` are ``adl_walk`` chunk proofs
(``circuits/adl_walk.circom``), market by market in the trades' order, chunks
0..n-1 each. Only the account root changes.

Rules the replay adds (``ADLChecks``, mixed into the replayer):

* the genesis has risk rules, the account is a trader's
  (``0 < account < accounts``), and funding is not overdue at its report
  (the liquidation's rule: every trade settles funding first);
* the trades follow ``verifier.statements.deleverage.check_trades`` with the
  report's marks, the replay's funding indices and the entry's shortfall:
  trade 0 pays the fund's cover and proves the shortfall, markets close in
  ascending id at the bankruptcy price the verifier recomputes, and within a
  market the counterparties' proven rank keys are in the published ranking
  order (fund last, key descending, index ascending); the bankrupt ends flat;
* ranking completeness (``verifier.statements.adl_walk.check_walk``): for
  every deleveraged market, its walk's subroots rebuild the account root
  before the market's first trade, its side, threshold, marks and funding are
  the ones the verifier derives from the trades, and the number of accounts
  proven to outrank the market's last counterparty equals the number of
  counterparties before it: nobody who outranks a deleveraged account was
  skipped (when the fund closes the market: every trader on the side was used);
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
from verifier.statements import adl_walk
from verifier.statements import deleverage as statement

__all__ = ["ADL_STATEMENT", "WALK_STATEMENT", "ADLChecks", "DeleverageEntry"]

ADL_STATEMENT = "deleverage"
WALK_STATEMENT = "adl_walk"


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
    ranking: tuple[ProofData, ...]

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "DeleverageEntry":
        trades = ProofData.list_from_json(d, "trades", "deleverage", "ADL trade proof")
        if not trades:
            raise EntryError("a deleveraging has at least one trade")
        ranking = ProofData.list_from_json(d, "ranking", "deleverage", "ADL ranking proof")
        if not ranking:
            raise EntryError("a deleveraging has at least one ranking proof")
        shortfall = uint(get(d, "shortfall", "deleverage"), "deleverage shortfall")
        if not 0 < shortfall < 1 << statement.SHORTFALL_BITS:
            raise EntryError(f"deleverage shortfall {shortfall} is out of range")
        return cls(
            **header,
            account=uint(get(d, "account", "deleverage"), "deleverage account"),
            oracle=genesis.report(d, "deleverage"),
            shortfall=shortfall,
            trades=trades,
            ranking=ranking,
        )

    def body_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "oracle": self.oracle.to_json(),
            "shortfall": str(self.shortfall),
            "trades": [t.to_json() for t in self.trades],
            "ranking": [r.to_json() for r in self.ranking],
        }


class ADLChecks(SlotsRiskChecks):
    """The replay's ``deleverage`` check; mixed into ``verifier.ledger.replay._Replayer``."""

    def deleverage(self, e: DeleverageEntry) -> None:
        g = self.genesis
        if g.risk is None:
            raise EntryError("a deleveraging in a ledger whose genesis has no risk rules")
        report = e.oracle
        self._use_report(report, e.time, "oracle report")
        self._funding_overdue(report.timestamp)  # every trade settles funding first
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
        self._ranking(e, trades, report.marks, funding)
        risk = self.state.risk
        risk.pending = [i for i in risk.pending if i != e.account]
        risk.adl_events += 1
        risk.adl_trades += len(trades)

    def _ranking(
        self,
        e: DeleverageEntry,
        trades: list[statement.DeleverageTradePublic],
        marks: tuple[int, ...],
        funding: tuple[int, ...],
    ) -> None:
        """Check the entry's ranking walks against its (already checked) trades."""
        p = self.genesis.params
        chunks: list[adl_walk.AdlWalkChunkPublic] = []
        for k, signals in enumerate(self._signals(WALK_STATEMENT, e.ranking, "ADL ranking proof")):
            try:
                chunks.append(adl_walk.AdlWalkChunkPublic.from_signals(signals, p.markets))
            except ValueError as exc:
                raise EntryError(f"ADL ranking proof {k}: {exc}") from None
        by_market: dict[int, list[statement.DeleverageTradePublic]] = {}
        for t in trades:  # check_trades: markets come in ascending runs
            by_market.setdefault(t.market, []).append(t)
        walks: dict[int, list[adl_walk.AdlWalkChunkPublic]] = {}
        for c in chunks:
            if walks and c.market != list(walks)[-1] and c.market in walks:
                raise EntryError(f"ADL ranking: market {c.market}'s chunks are not consecutive")
            walks.setdefault(c.market, []).append(c)
        if list(walks) != list(by_market):
            raise EntryError(
                f"ADL ranking walks markets {list(walks)}, the trades deleverage {list(by_market)}"
            )
        tree_chunks = 1 << (2 * (p.account_levels - p.chunk_levels))
        expected: list[adl_walk.AdlWalkChunkPublic] = []
        for market, market_trades in by_market.items():
            walk = walks[market]
            if len(walk) > tree_chunks:
                raise EntryError(
                    f"ADL ranking of market {market}: {len(walk)} chunks, "
                    f"but the tree has only {tree_chunks}"
                )
            last = market_trades[-1]
            side = -1 if market_trades[0].bankrupt_positions[market] > 0 else 1
            threshold = adl_walk.walk_threshold(last.counterparty, last.rank_key, p.account_levels)
            reasons = adl_walk.check_walk(
                walk,
                market=market,
                side=side,
                threshold=threshold,
                start_root=market_trades[0].old_root,
                prices=marks,
                funding=funding,
                account_levels=p.account_levels,
                chunk_levels=p.chunk_levels,
                traded_before_last=len(market_trades) - 1,
            )
            if reasons:
                raise EntryError(reasons[0])
            expected.extend(
                adl_walk.AdlWalkChunkPublic(
                    chunk_index=i,
                    sub_root=c.sub_root,
                    market=market,
                    side=side,
                    threshold_key=threshold[0],
                    threshold_index=threshold[1],
                    count=c.count,
                    prices=marks,
                    funding=funding,
                )
                for i, c in enumerate(walk)
            )
        self._expected_proofs(WALK_STATEMENT, e.ranking, expected, e.index, "ADL ranking proof")
