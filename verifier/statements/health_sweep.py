"""Public side of HEALTH SWEEP: per-chunk public inputs, the flags rule and the whole-tree check.

A health sweep is a sequence of chunk proofs (``circuits/health_sweep.circom``),
chunk ``c`` covering accounts ``c*K .. c*K+K-1``. Each proof shows its subtree
root and a bitmask ``flags`` whose bit k is 1 iff account ``c*K + k`` is
under maintenance margin (``BPS_DENOM * equity < sum |s| * P * mmf``; equity
exactly at MMR is healthy) at the public marks. The flags are computed by the
constraints from the hidden leaves, so a sweep cannot hide an account below
MMR; it is the liquidation-completeness evidence of issue 11.

This module recomputes a chunk's public inputs (``public_inputs``), defines
the flag of one account (``below_maintenance``, the one formula the prover's
witness builder also uses) and checks a full sweep (``check_sweep``): chunk
indices 0..n-1, the same marks and fractions in every chunk, subroots that
rebuild the expected account root; it returns the flagged account indices.

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier.field import FieldError, is_canonical, require_canonical, unsigned_in_range
from verifier.merkle import MerkleError, root_from_subroots
from verifier.params import BPS_BITS, BPS_DENOM, MAX_MARKETS, PRICE_BITS

# Shared with the slots statement, defined there (this list statement is being retired).
from verifier.statements.health_sweep_staged import SweepError, SweepResult, below_maintenance

__all__ = [
    "SweepChunkPublic",
    "SweepError",
    "SweepResult",
    "below_maintenance",
    "check_sweep",
    "public_inputs",
    "signal_count",
]

_FIXED_SIGNALS = 3  # chunkIndex, subRoot, flags


def signal_count(markets: int) -> int:
    return _FIXED_SIGNALS + 2 * markets


def public_inputs(
    *,
    chunk_index: int,
    sub_root: int,
    prices: Sequence[int],
    mmf_bps: Sequence[int],
    flags: int,
    chunk_height: int,
) -> list[int]:
    """[chunkIndex, subRoot, prices[M], mmfBps[M], flags] in the circuit's declaration order."""
    if not 1 <= len(prices) <= MAX_MARKETS or len(mmf_bps) != len(prices):
        raise SweepError("one price and one maintenance fraction per market is required")
    if not 0 <= flags < 1 << (1 << chunk_height):
        raise SweepError(f"flags {flags} do not fit {1 << chunk_height} accounts")
    for f in mmf_bps:
        if not 0 <= f <= BPS_DENOM:
            raise SweepError(f"maintenance fraction {f} is outside [0, {BPS_DENOM}]")
    return [
        unsigned_in_range(chunk_index, 32, "chunk index"),
        require_canonical(sub_root, "sub_root"),
        *(unsigned_in_range(p, PRICE_BITS, "price") for p in prices),
        *(unsigned_in_range(f, BPS_BITS, "mmf_bps") for f in mmf_bps),
        flags,
    ]


@dataclass(frozen=True)
class SweepChunkPublic:
    """One chunk's public signals, decoded."""

    chunk_index: int
    sub_root: int
    prices: tuple[int, ...]
    mmf_bps: tuple[int, ...]
    flags: int

    @classmethod
    def from_signals(cls, signals: Sequence[int], markets: int) -> "SweepChunkPublic":
        if len(signals) != signal_count(markets):
            raise SweepError(f"expected {signal_count(markets)} public signals, got {len(signals)}")
        if not all(is_canonical(s) for s in signals):
            raise SweepError("a public signal is not a field element")
        m = markets
        return cls(
            chunk_index=signals[0],
            sub_root=signals[1],
            prices=tuple(signals[2 : 2 + m]),
            mmf_bps=tuple(signals[2 + m : 2 + 2 * m]),
            flags=signals[2 + 2 * m],
        )


def check_sweep(
    chunk_signals: Sequence[Sequence[int]],
    *,
    account_depth: int,
    chunk_height: int,
    markets: int,
    expected_root: int,
    prices: Sequence[int],
    mmf_bps: Sequence[int],
) -> SweepResult:
    """Check a whole sweep's public signals against ledger data; return the flagged accounts.

    ``expected_root`` is the account root at the sweep's ledger position,
    ``prices`` the signed report the sweep names and ``mmf_bps`` the genesis
    maintenance fractions. Every failure is a reason (never an exception);
    ``flagged`` lists global account indices, ascending.
    """
    if not chunk_signals:
        return SweepResult((), None, ("no chunks",))
    reasons: list[str] = []
    chunks: list[SweepChunkPublic] = []
    for i, signals in enumerate(chunk_signals):
        try:
            chunks.append(SweepChunkPublic.from_signals(signals, markets))
        except SweepError as exc:
            reasons.append(f"chunk {i}: {exc}")
    if reasons:
        return SweepResult((), None, tuple(reasons))
    k = 1 << chunk_height
    flagged: list[int] = []
    for i, c in enumerate(chunks):
        if c.chunk_index != i:
            reasons.append(f"chunk {i}: chunkIndex {c.chunk_index}, expected {i}")
        if c.prices != tuple(prices):
            reasons.append(f"chunk {i}: prices differ from the signed report")
        if c.mmf_bps != tuple(mmf_bps):
            reasons.append(f"chunk {i}: maintenance fractions differ from genesis")
        if c.flags >= 1 << k:
            reasons.append(f"chunk {i}: flags {c.flags} do not fit {k} accounts")
            continue
        flagged.extend(i * k + b for b in range(k) if c.flags >> b & 1)
    try:
        root = root_from_subroots([c.sub_root for c in chunks], chunk_height, account_depth)
    except (MerkleError, FieldError) as exc:
        return SweepResult((), None, (*reasons, f"cannot rebuild the account root: {exc}"))
    if root != expected_root:
        reasons.append("rebuilt account root differs from the ledger's account root")
    return SweepResult(tuple(flagged), root, tuple(reasons))
