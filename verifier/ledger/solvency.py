"""The replay's solvency check (``SolvencyChecks``, mixed into the replayer).

A ``solvency`` entry claims, at the current account root and total
collateral, a signed real report (optionally a public shock vector) and a
sequence of ``solvency_walk`` chunk proofs (quaternary chunks, funding
settled in the sums at the replay's funding indices). The check, in order:

* ``account_root`` is the current account root, ``total_collateral`` the
  ledger's; the report is a real one the entry may use (``_use_report``)
  and is not past the funding deadline (``_funding_overdue``: the chunks
  settle funding at the replay's indices, so at a report with an update
  owed they would count longs' and shorts' equity before the funding they
  owe; a stress entry uses the same signed report, so the same rule);
  a shock vector must move at least one mark;
* the chunks' public signals tie together (``check_solvency_walk``: indices, flags, commitment chain, one price vector
  = the (stressed) marks, one funding vector = the replay's, the account root
  rebuilt from the subroots, balance sum = total collateral, open interest
  nets to zero); each chunk's public inputs are recomputed and its proof queued;
* ``result`` equals what the last chunk opens, and ``solvent`` / ``reasons``
  what the replay concludes; an insolvent real (non-stress) result fails.

Pure: no I/O. Never imports prover or exchange.
"""

from verifier.field import signed_to_field
from verifier.ledger.checks import ReplayChecks
from verifier.ledger.entries import SolvencyEntry
from verifier.ledger.genesis import chunk_signals
from verifier.ledger.parse import EntryError
from verifier.ledger.state import SolvencySummary
from verifier.oracle import OracleFormatError, stressed_prices
from verifier.params import FUNDING_BITS
from verifier.statements import solvency_base as solvency_statement
from verifier.statements import solvency_walk as walk_statement

STATEMENT = "solvency_walk"

__all__ = ["SolvencyChecks"]


class SolvencyChecks(ReplayChecks):
    """``solvency`` entries; mixed into ``verifier.ledger.replay._Replayer``."""

    def solvency(self, e: SolvencyEntry) -> None:
        s = self.state
        g = self.genesis
        p = g.params
        account_root = e.account_root
        if account_root != e.roots_before.account:
            raise EntryError("account_root is not the current account root")
        if e.total_collateral != s.total_collateral:
            raise EntryError(
                f"total_collateral {e.total_collateral} differs from the ledger's "
                f"{s.total_collateral}"
            )
        stress = e.stress is not None
        report = e.oracle
        self._use_report(report, e.time, "oracle report")
        self._funding_overdue(report.timestamp)  # the chunks settle funding at our indices
        marks = report.marks
        if e.stress is not None:
            try:
                marks = stressed_prices(report.marks, e.stress)
            except OracleFormatError as exc:
                raise EntryError(f"stress: {exc}") from None
            # A "stress" scenario that moves no mark is the real report relabelled:
            # an insolvent result would then read as a stress warning, not a failure.
            if tuple(marks) == tuple(report.marks):
                raise EntryError("stress: the shock vector leaves every mark unchanged")
        chunks = e.chunks
        most = 4 ** (p.account_levels - p.chunk_levels)
        n_public = self.keys[STATEMENT][0].n_public
        signals = chunk_signals(chunks, n_public, most, "a solvency report", "solvency chunk")
        funding = self.funding_indices()
        # the walk's signals are the base chunk's with funding[M] after prices[M]
        at = walk_statement.PUBLIC_NAMES.index("prices") + p.markets
        result = walk_statement.check_solvency_walk(
            signals,
            p.account_levels,
            p.chunk_levels,
            s.total_collateral,
            p.markets,
            expected_root=account_root,
            prices=marks,
            funding=funding,
        )
        signals = [x[:at] + x[at + p.markets :] for x in signals]
        if result.totals is None:
            raise EntryError(f"solvency chunks: {'; '.join(result.reasons)}")
        totals = result.totals
        deficit_reason = f"deficit {totals.deficit} exceeds the insurance fund {totals.fund}"
        structural = [r for r in result.reasons if r != deficit_reason]
        if structural:
            raise EntryError(f"solvency: {'; '.join(structural)}")
        # Recompute each chunk's public inputs from the values that tie the
        # chunks together, so the layout (flags, indices, prices, opening)
        # is ours, not the operator's.
        decoded = [solvency_statement.ChunkPublic.from_signals(x, p.markets) for x in signals]
        for k, (chunk_data, chunk) in enumerate(zip(chunks, decoded, strict=True)):
            try:
                expected = solvency_statement.public_inputs(
                    chunk_index=k,
                    chunk_count=len(chunks),
                    sub_root=chunk.sub_root,
                    prev_commit=chunk.prev_commit,
                    next_commit=chunk.next_commit,
                    prices=marks,
                    opening=totals if k == len(chunks) - 1 else None,
                )
                # the walk's funding[M] follow prices[M]
                expected[at:at] = [signed_to_field(f, FUNDING_BITS, "funding") for f in funding]
            except ValueError as exc:
                raise EntryError(f"solvency chunk {k} public inputs: {exc}") from None
            self._proof(STATEMENT, chunk_data.to_json(), expected, e.index, f"solvency chunk {k}")
        claimed = e.result
        claim = (claimed.balance, claimed.positions, claimed.deficit, claimed.fund)
        opened = (totals.balance, totals.positions, totals.deficit, totals.fund)
        solvent = totals.deficit <= totals.fund
        if claimed.solvent is not solvent:
            raise EntryError(f"result.solvent is {claimed.solvent!r}, the proofs say {solvent}")
        if claimed.reasons != result.reasons:
            raise EntryError(
                f"result.reasons are {list(claimed.reasons)!r:.200}, "
                f"but the replay finds {list(result.reasons)!r:.200}"
            )
        for name, theirs, ours in zip(
            ("balance", "positions", "deficit", "fund"), claim, opened, strict=True
        ):
            if theirs != ours:
                raise EntryError(f"result.{name} is {theirs}, but the proofs open {ours}")
        if not solvent and not stress:
            raise EntryError(f"insolvent: {deficit_reason}")
        s.latest_solvency = SolvencySummary(
            entry_index=e.index,
            stress=stress,
            solvent=solvent,
            account_root=account_root,
            total_collateral=s.total_collateral,
            balance=totals.balance,
            positions=totals.positions,
            deficit=totals.deficit,
            fund=totals.fund,
            prices=marks,
        )
