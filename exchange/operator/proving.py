"""The operator around a proof: proving, the oracle report rules, entry times.

``ProvingMixin`` is a base of the in-process operator
(``exchange.operator.slots.SlotsOperator``): it proves a statement and checks the proof's
public signals against the statement, proves independent statements in
parallel on a proof pool, checks a signed oracle report exactly as the
verifier will (``verifier.ledger.replay``), and picks an entry's operator
time. The host class provides the attributes listed on the mixin. Never
writes to disk, never prints.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from exchange.operator.common import OperatorError, ProveFn
from oracle.signer import Oracle
from prover import toolchain
from verifier.export import Ledger, LedgerEntry, Roots
from verifier.ledger import Limits
from verifier.oracle import OracleReport
from verifier.params import BPS_DENOM, CircuitParams
from verifier.protocol import Tags
from verifier.statements.solvency_walk import SolvencyResult

__all__ = ["ProvingMixin"]


class ProvingMixin:
    """Proving and report rules; the host sets these attributes before using them."""

    params: CircuitParams
    tags: Tags
    oracle: Oracle
    limits: Limits
    ledger: Ledger
    latest_report: OracleReport | None
    proof_seconds: dict[str, float]
    proof_counts: dict[str, int]
    total_collateral: int
    _clock: Callable[[], int]
    _prove_fn: ProveFn

    @property
    def roots(self) -> Roots:
        raise NotImplementedError

    def artifacts(self, statement: str) -> toolchain.CircuitArtifacts:
        raise NotImplementedError

    def _prove(
        self, statement: str, inputs: Mapping[str, object], expected: Sequence[int]
    ) -> dict[str, Any]:
        """Prove one statement; OperatorError if the circuit's public signals differ from ours."""
        started = time.perf_counter()
        proof, public = self._prove_fn(self.artifacts(statement), inputs)
        self.proof_seconds[statement] += time.perf_counter() - started
        self.proof_counts[statement] += 1
        if [int(x) for x in public] != [int(x) for x in expected]:
            # The circuit computed other public signals than the statement says:
            # a bug in a witness builder, never something to publish.
            raise OperatorError(f"{statement}: proof's public signals differ from the statement")
        return {"proof": proof, "public_signals": [str(x) for x in public]}

    def _append_solvency(
        self,
        report: OracleReport,
        shock_bps: Sequence[int] | None,
        chunks: list[dict[str, Any]],
        result: SolvencyResult,
        entry_time: int,
    ) -> LedgerEntry:
        """Append the ``solvency`` entry for checked chunk proofs (both states share the body).

        ``result`` is the verifier's own check of ``chunks`` (``check_solvency`` or
        ``check_solvency_walk``); OperatorError if it could not open the totals.
        """
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
                "oracle": report.to_json(),
                "stress": None if shock_bps is None else {"shock_bps": list(shock_bps)},
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
            time=entry_time,
        )

    def _prove_all(
        self, statement: str, items: Sequence[tuple[Mapping[str, object], Sequence[int]]]
    ) -> list[dict[str, Any]]:
        """Prove independent statements (witnesses already built, in order); results in order.

        With a ``prover.jobs.ProofPool`` (anything with ``map``) the proofs run
        in parallel on its workers; otherwise one after the other.
        """
        pool_map = getattr(self._prove_fn, "map", None)
        if pool_map is None or len(items) < 2:
            return [self._prove(statement, inputs, expected) for inputs, expected in items]
        started = time.perf_counter()
        results = pool_map(self.artifacts(statement), [inputs for inputs, _ in items])
        self.proof_seconds[statement] += time.perf_counter() - started
        self.proof_counts[statement] += len(items)
        out = []
        for (proof, public), (_, expected) in zip(results, items, strict=True):
            if [int(x) for x in public] != [int(x) for x in expected]:
                raise OperatorError(
                    f"{statement}: proof's public signals differ from the statement"
                )
            out.append({"proof": proof, "public_signals": [str(x) for x in public]})
        return out

    def _check_report(self, report: OracleReport) -> None:
        """The verifier's report rules (verifier.ledger.replay), so no entry we write fails them."""
        if len(report.prices) != self.params.markets:
            raise OperatorError(f"oracle report needs {self.params.markets} prices")
        if not report.verify(self.tags.oracle, self.oracle.public_key):
            raise OperatorError("oracle report signature does not verify")
        if min(report.marks + report.index) < self.limits.min_price:
            raise OperatorError("oracle report has a price below the genesis minimum")
        latest = self.latest_report
        if latest is None or report.seq > latest.seq:
            if latest is not None and report.timestamp <= latest.timestamp:
                raise OperatorError("oracle report is not later than the latest one")
            if latest is not None:
                for new, old in zip(report.marks, latest.marks, strict=True):
                    if abs(new - old) * BPS_DENOM > self.limits.max_move_bps * old:
                        raise OperatorError("oracle report moves a mark beyond the price band")
        elif report.seq < latest.seq or not report.same_content(latest):
            raise OperatorError("oracle report is older than the latest one")

    def _entry_time(self, report: OracleReport | None) -> int:
        """Operator time of the next entry: never before the last entry or the report it uses."""
        t = max(self._clock(), self.ledger.last_time)
        if report is not None:
            t = max(t, report.timestamp)
            if t - report.timestamp > self.limits.max_report_age_s:
                raise OperatorError(
                    f"oracle report is {t - report.timestamp} s old, more than "
                    f"{self.limits.max_report_age_s} s: fetch a fresh one"
                )
        return t

    def next_entry_time(self, report: OracleReport) -> int:
        """The operator time an entry using ``report`` would get now (OperatorError if stale)."""
        return self._entry_time(report)

    def observe(self, report: OracleReport) -> None:
        """Take a signed report as the latest marks (used for margin at intake and withdrawals)."""
        self._check_report(report)
        self.latest_report = report
