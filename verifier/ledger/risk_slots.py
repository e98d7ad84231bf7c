"""Health sweeps and liquidations of a recycling-order (``"state": "slots"``) ledger.

The ``sweep`` and ``liquidation`` entry kinds are defined in
``verifier.ledger.risk``; this module checks their proofs, statements on the
account-state leaf and the quaternary account tree:

* ``sweep`` chunks are ``health_sweep`` proofs: chunk ``c`` covers
  accounts ``c * 4^chunk_levels ..``; the flags are taken after every
  account's pending funding at the replay's current funding indices, and the
  subroots rebuild the quaternary account root
  (``verifier.statements.health_sweep.check_sweep``);
* ``liquidation`` steps are ``liquidate`` proofs: the live sequence
  rules plus every step settling to the replay's funding indices
  (``verifier.statements.liquidate.check_liquidate_steps``).

The funding indices are the replay's (from ``funding`` entries, zeros before
the first): entries do not carry them, the public inputs do. Mixed into
``RiskChecks``, whose ``sweep`` / ``liquidation`` call ``_slots_sweep_flags`` /
``_slots_liquidation_steps``. Pure: no I/O. Never imports prover or exchange.
"""

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from verifier import groth16
from verifier.ledger.checks import ReplayChecks
from verifier.ledger.entries import ProofData
from verifier.ledger.genesis import chunk_signals
from verifier.ledger.parse import EntryError
from verifier.oracle import OracleReport
from verifier.statements import health_sweep, liquidate

if TYPE_CHECKING:
    from verifier.ledger.risk import LiquidationEntry, SweepEntry

__all__ = ["SLOTS_LIQUIDATE", "SLOTS_SWEEP", "SlotsRiskChecks"]

SLOTS_SWEEP = "health_sweep"
SLOTS_LIQUIDATE = "liquidate"


class _Encodes(Protocol):
    def signals(self) -> list[int]: ...


class SlotsRiskChecks(ReplayChecks):
    """Slots-ledger halves of ``RiskChecks.sweep`` / ``RiskChecks.liquidation``."""

    def _expected_proofs(
        self,
        statement: str,
        proofs: Sequence[ProofData],
        expected: Sequence[_Encodes],
        index: int,
        what: str,
    ) -> None:
        """Queue proof ``k`` against the public inputs ``expected[k]`` encodes.

        Raises EntryError ``"{what} {k} public inputs: ..."`` when one does not encode.
        """
        for k, (proof, public) in enumerate(zip(proofs, expected, strict=True)):
            try:
                signals_expected = public.signals()
            except ValueError as exc:
                raise EntryError(f"{what} {k} public inputs: {exc}") from None
            self._proof(statement, proof.to_json(), signals_expected, index, f"{what} {k}")

    def _signals(self, statement: str, proofs: Sequence[ProofData], what: str) -> list[list[int]]:
        n_public = self.keys[statement][0].n_public
        out: list[list[int]] = []
        for k, proof in enumerate(proofs):
            try:
                out.append(groth16.parse_public_signals(proof.public_signals, n_public))
            except groth16.Groth16Error as exc:
                raise EntryError(f"{what} {k}: {exc}") from None
        return out

    def _slots_sweep_flags(self, e: "SweepEntry", report: OracleReport) -> tuple[int, ...]:
        """Check a slots sweep's chunk proofs; return the proven flagged accounts."""
        p = self.genesis.params
        mmf = [m.mmf_bps for m in self.genesis.markets]
        funding = tuple(self.funding_indices())
        signals = chunk_signals(
            e.chunks,
            self.keys[SLOTS_SWEEP][0].n_public,
            1 << (2 * (p.account_levels - p.chunk_levels)),
            "a health sweep",
            "sweep chunk",
        )
        result = health_sweep.check_sweep(
            signals,
            account_levels=p.account_levels,
            chunk_levels=p.chunk_levels,
            markets=p.markets,
            expected_root=e.roots_before.account,
            prices=report.marks,
            funding=funding,
            mmf_bps=mmf,
        )
        if not result.ok:
            raise EntryError(f"health sweep: {'; '.join(result.reasons)}")
        for k, chunk in enumerate(e.chunks):
            decoded = health_sweep.SweepChunkPublic.from_signals(signals[k], p.markets)
            try:
                expected = health_sweep.public_inputs(
                    chunk_index=k,
                    sub_root=decoded.sub_root,
                    prices=report.marks,
                    funding=funding,
                    mmf_bps=mmf,
                    flags=decoded.flags,
                    chunk_levels=p.chunk_levels,
                )
            except ValueError as exc:
                raise EntryError(f"sweep chunk {k} public inputs: {exc}") from None
            self._proof(SLOTS_SWEEP, chunk.to_json(), expected, e.index, f"sweep chunk {k}")
        return result.flagged

    def _slots_liquidation_steps(self, e: "LiquidationEntry", report: OracleReport) -> int:
        """Check a slots liquidation's step proofs; return the number of steps."""
        g = self.genesis
        rules = g.risk
        if rules is None:  # pragma: no cover - RiskChecks.liquidation checks it first
            raise EntryError("a liquidation in a ledger whose genesis has no risk rules")
        funding = tuple(self.funding_indices())
        steps: list[liquidate.LiquidateStepPublic] = []
        for k, signals in enumerate(self._signals(SLOTS_LIQUIDATE, e.steps, "liquidation step")):
            try:
                steps.append(liquidate.LiquidateStepPublic.from_signals(signals, g.params.markets))
            except ValueError as exc:
                raise EntryError(f"liquidation step {k}: {exc}") from None
            if steps[-1].account != e.account:
                raise EntryError(f"liquidation step {k} liquidates account {steps[-1].account}")
        if steps[0].continuation:
            raise EntryError("liquidation step 0 is a continuation")
        imf = tuple(m.imf_bps for m in g.markets)
        mmf = tuple(m.mmf_bps for m in g.markets)
        fees = rules.liquidation_fee_bps
        _, end_root, reasons = liquidate.check_liquidate_steps(
            steps,
            start_root=e.roots_before.account,
            prices=report.marks,
            funding=funding,
            imf_bps=imf,
            mmf_bps=mmf,
            liquidation_fee_bps=fees,
        )
        if reasons:
            raise EntryError(reasons[0])
        if end_root != e.roots_after.account:
            raise EntryError("the last liquidation step does not end at roots_after")
        expected = [
            replace(
                decoded,
                prices=report.marks,
                funding=funding,
                imf_bps=imf,
                mmf_bps=mmf,
                liquidation_fee_bps=fees,
            )
            for decoded in steps
        ]
        self._expected_proofs(SLOTS_LIQUIDATE, e.steps, expected, e.index, "liquidation step")
        return len(steps)
