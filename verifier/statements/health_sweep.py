"""Public side of HEALTH SWEEP on the account-state leaf (``circuits/health_sweep.circom``).

The health sweep of the recycling-order state (8-input account leaf with funding checkpoints,
quaternary account tree). A sweep is a sequence of chunk proofs, chunk ``c``
covering accounts ``c*K .. c*K+K-1`` with ``K = 4^chunk_levels``. Each
proof shows its subtree root and a bitmask ``flags`` whose bit k is 1 iff
account ``c*K + k`` is under maintenance margin at the public marks AFTER
paying its pending funding to the public funding indices:
``BPS_DENOM * (balance - sum s (F - checkpoint) + sum s P) < sum |s| P mmf``
(equity exactly at MMR is healthy). The flags are computed by the
constraints from the hidden leaves, so a sweep cannot hide an account below MMR.

``public_inputs`` lays a chunk's inputs out as the circuit declares them,
``below_maintenance_after_funding`` is the one flag formula (the prover's
witness builder uses it), and ``check_sweep`` checks a full sweep against
ledger data (chunk indices 0..n-1, the same marks, funding indices and
fractions in every chunk, subroots that rebuild the ledger's account root)
and returns the flagged accounts.

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from verifier import accounting
from verifier.account_state import AccountRecord
from verifier.field import (
    FieldError,
    is_canonical,
    require_canonical,
    signed_to_field,
    unsigned_in_range,
)
from verifier.params import BPS_BITS, BPS_DENOM, FUNDING_BITS, MAX_MARKETS, PRICE_BITS
from verifier.quadtree import QuadTreeError, quad_root_from_subroots

__all__ = [
    "PER_MARKET",
    "PUBLIC_NAMES",
    "SweepChunkPublic",
    "SweepError",
    "SweepResult",
    "below_maintenance",
    "below_maintenance_after_funding",
    "check_sweep",
    "public_inputs",
    "signal_count",
]

# Circuit public inputs in declaration order; PER_MARKET ones have one entry per market.
PUBLIC_NAMES: tuple[str, ...] = ("chunkIndex", "subRoot", "prices", "funding", "mmfBps", "flags")
PER_MARKET = frozenset({"prices", "funding", "mmfBps"})
_FIXED_SIGNALS = 3  # chunkIndex, subRoot, flags


class SweepError(ValueError):
    """Sweep data that cannot describe a chunk (bad shape or range)."""


@dataclass(frozen=True)
class SweepResult:
    """Outcome of ``check_sweep``: ``reasons`` is empty iff the sweep is well formed."""

    flagged: tuple[int, ...]
    root: int | None
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


def below_maintenance(
    balance: int, positions: Sequence[int], prices: Sequence[int], mmf_bps: Sequence[int]
) -> bool:
    """True iff BPS_DENOM * equity < sum |s| * P * mmf (equity exactly at MMR is healthy)."""
    return not accounting.meets_margin(balance, positions, prices, mmf_bps)


def below_maintenance_after_funding(
    record: AccountRecord,
    prices: Sequence[int],
    funding: Sequence[int],
    mmf_bps: Sequence[int],
) -> bool:
    """The circuit's flag bit: equity after paying funding to ``funding`` is below MMR."""
    settled = record.balance - record.funding_payment(funding)
    return below_maintenance(settled, record.positions, prices, mmf_bps)


def signal_count(markets: int) -> int:
    return _FIXED_SIGNALS + 3 * markets


def public_inputs(
    *,
    chunk_index: int,
    sub_root: int,
    prices: Sequence[int],
    funding: Sequence[int],
    mmf_bps: Sequence[int],
    flags: int,
    chunk_levels: int,
) -> list[int]:
    """[chunkIndex, subRoot, prices[M], funding[M], mmfBps[M], flags] (declaration order).

    ``funding[m]`` is market m's signed cumulative funding index (quote units
    per lot, field-encoded here). Raises SweepError on bad shapes or ranges.
    """
    m = len(prices)
    if not 1 <= m <= MAX_MARKETS or len(mmf_bps) != m or len(funding) != m:
        raise SweepError("one price, funding index and maintenance fraction per market")
    if not 0 <= flags < 1 << (1 << (2 * chunk_levels)):
        raise SweepError(f"flags {flags} do not fit {1 << (2 * chunk_levels)} accounts")
    for f in mmf_bps:
        if not 0 <= f <= BPS_DENOM:
            raise SweepError(f"maintenance fraction {f} is outside [0, {BPS_DENOM}]")
    try:
        return [
            unsigned_in_range(chunk_index, 32, "chunk index"),
            require_canonical(sub_root, "sub_root"),
            *(unsigned_in_range(p, PRICE_BITS, "price") for p in prices),
            *(signed_to_field(f, FUNDING_BITS, "funding index") for f in funding),
            *(unsigned_in_range(f, BPS_BITS, "mmf_bps") for f in mmf_bps),
            flags,
        ]
    except FieldError as exc:
        raise SweepError(str(exc)) from exc


@dataclass(frozen=True)
class SweepChunkPublic:
    """One chunk's public signals, decoded (funding stays field-encoded)."""

    chunk_index: int
    sub_root: int
    prices: tuple[int, ...]
    funding: tuple[int, ...]
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
            funding=tuple(signals[2 + m : 2 + 2 * m]),
            mmf_bps=tuple(signals[2 + 2 * m : 2 + 3 * m]),
            flags=signals[2 + 3 * m],
        )


def check_sweep(
    chunk_signals: Sequence[Sequence[int]],
    *,
    account_levels: int,
    chunk_levels: int,
    markets: int,
    expected_root: int,
    prices: Sequence[int],
    funding: Sequence[int],
    mmf_bps: Sequence[int],
) -> SweepResult:
    """Check a whole sweep's public signals against ledger data; return the flagged accounts.

    ``expected_root`` is the account root at the sweep's ledger position,
    ``prices`` the signed report the sweep names, ``funding`` the funding
    indices in force there (signed) and ``mmf_bps`` the genesis maintenance
    fractions. Every failure is a reason (never an exception); ``flagged``
    lists global account indices, ascending.
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
    try:
        funding_field = tuple(signed_to_field(f, FUNDING_BITS, "funding index") for f in funding)
    except FieldError as exc:
        return SweepResult((), None, (f"ledger funding index: {exc}",))
    k = 1 << (2 * chunk_levels)
    flagged: list[int] = []
    for i, c in enumerate(chunks):
        if c.chunk_index != i:
            reasons.append(f"chunk {i}: chunkIndex {c.chunk_index}, expected {i}")
        if c.prices != tuple(prices):
            reasons.append(f"chunk {i}: prices differ from the signed report")
        if c.funding != funding_field:
            reasons.append(f"chunk {i}: funding indices differ from the ledger's")
        if c.mmf_bps != tuple(mmf_bps):
            reasons.append(f"chunk {i}: maintenance fractions differ from genesis")
        if c.flags >= 1 << k:
            reasons.append(f"chunk {i}: flags {c.flags} do not fit {k} accounts")
            continue
        flagged.extend(i * k + b for b in range(k) if c.flags >> b & 1)
    try:
        root = quad_root_from_subroots([c.sub_root for c in chunks], chunk_levels, account_levels)
    except QuadTreeError as exc:
        return SweepResult((), None, (*reasons, f"cannot rebuild the account root: {exc}"))
    if root != expected_root:
        reasons.append("rebuilt account root differs from the ledger's account root")
    return SweepResult(tuple(flagged), root, tuple(reasons))
