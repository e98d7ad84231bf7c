"""Public side of SOLVENCY WALK: the solvency proof of the account tree.

A solvency proof of the account state (``verifier.account_state``: 8-input
leaves with funding checkpoints, quaternary account tree) is a sequence of
SOLVENCY WALK chunk proofs (``circuits/solvency_walk.circom``), chunk ``c``
covering accounts ``c*K .. c*K+K-1`` with ``K = 4^chunk_levels``
(``CircuitParams.chunk_levels``). Every account is settled to the public
funding indices ``funding[m]`` inside the sums (a leaf's balance is only
current up to its checkpoints). The running totals, their commitment, the
chain and the solvency verdict live in ``verifier.statements.solvency_base``
(one copy); this module adds the funding indices to the public inputs and
checks a whole walk:

* ``public_inputs`` recomputes a chunk's public inputs from ledger data;
* ``check_solvency_walk`` checks a full sequence of chunk public inputs: one
  funding vector for every chunk (equal to ``funding`` if given), then
  everything ``check_solvency`` checks, with the account root rebuilt from
  quaternary subroots (``verifier.quadtree.quad_root_from_subroots``).

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Sequence

from verifier.field import FieldError, field_to_signed, signed_to_field
from verifier.params import FUNDING_BITS, MAX_MARKETS
from verifier.quadtree import QuadTreeError, quad_root_from_subroots
from verifier.statements import solvency_base
from verifier.statements.solvency_base import SolvencyError, SolvencyResult, SolvencyTotals

__all__ = [
    "PER_MARKET",
    "PUBLIC_NAMES",
    "SolvencyError",
    "SolvencyResult",
    "SolvencyTotals",
    "check_solvency_walk",
    "public_inputs",
]

# Circuit public inputs in declaration order; PER_MARKET ones have one entry per market.
PUBLIC_NAMES: tuple[str, ...] = (
    "chunkIndex",
    "subRoot",
    "prevCommit",
    "nextCommit",
    "isFirst",
    "isLast",
    "prices",
    "funding",
    "openBalance",
    "openPositions",
    "openDeficit",
    "openFund",
)
PER_MARKET = frozenset({"prices", "funding", "openPositions"})
_FUNDING_AT = 6  # funding follows the 6 scalars and prices[M]


def public_inputs(
    *,
    chunk_index: int,
    chunk_count: int,
    sub_root: int,
    prev_commit: int,
    next_commit: int,
    prices: Sequence[int],
    funding: Sequence[int],
    opening: SolvencyTotals | None,
) -> list[int]:
    """The chunk's public inputs in circuit order (``PUBLIC_NAMES``).

    As ``solvency_base.public_inputs`` with ``funding`` (signed funding
    indices, one per market, quote units per lot) after the prices. Raises
    SolvencyError on bad data.
    """
    if len(funding) != len(prices):
        raise SolvencyError("funding needs one index per market")
    try:
        funding_list = [signed_to_field(f, FUNDING_BITS, "funding index") for f in funding]
    except FieldError as exc:
        raise SolvencyError(str(exc)) from None
    chunk = solvency_base.public_inputs(
        chunk_index=chunk_index,
        chunk_count=chunk_count,
        sub_root=sub_root,
        prev_commit=prev_commit,
        next_commit=next_commit,
        prices=prices,
        opening=opening,
    )
    at = _FUNDING_AT + len(prices)
    return chunk[:at] + funding_list + chunk[at:]


def check_solvency_walk(
    chunk_publics: Sequence[Sequence[int]],
    account_levels: int,
    chunk_levels: int,
    total_collateral: int,
    markets: int,
    *,
    expected_root: int | None = None,
    prices: Sequence[int] | None = None,
    funding: Sequence[int] | None = None,
) -> SolvencyResult:
    """Check the public signals of a full solvency walk, chunk 0 first.

    The chunk proofs themselves must be verified separately (Groth16). Fails
    (reasons) if a chunk has the wrong signal count, if the chunks use
    different funding vectors or one other than ``funding`` (when given), and
    for everything ``solvency_base.check_solvency`` checks: chunk indices and
    flags, the commitment chain, zero openings before the last, one price
    vector (= ``prices`` if given), the root rebuilt from the quaternary
    subroots (= ``expected_root`` if given), balance sum = ``total_collateral``,
    every position sum 0, deficit <= insurance fund.
    """
    if not 1 <= markets <= MAX_MARKETS:
        raise SolvencyError(f"markets must be in [1, {MAX_MARKETS}]")
    width = len(PUBLIC_NAMES) - len(PER_MARKET) + len(PER_MARKET) * markets
    lo, hi = _FUNDING_AT + markets, _FUNDING_AT + 2 * markets
    reasons: list[str] = []
    stripped: list[list[int]] = []
    vectors: list[tuple[int, ...]] = []
    for i, signals in enumerate(chunk_publics):
        if len(signals) != width:
            reasons.append(f"chunk {i}: expected {width} public signals, got {len(signals)}")
            continue
        vectors.append(tuple(signals[lo:hi]))
        stripped.append(list(signals[:lo]) + list(signals[hi:]))
    if reasons:
        return SolvencyResult(tuple(reasons), None, None, None)
    for i, vector in enumerate(vectors):
        if vector != vectors[0]:
            reasons.append(f"chunk {i}: uses other funding indices than chunk 0")
    if funding is not None and vectors:
        try:
            decoded = tuple(field_to_signed(f, FUNDING_BITS, "funding") for f in vectors[0])
        except FieldError as exc:
            decoded = None
            reasons.append(f"chunk 0: {exc}")
        if decoded is not None and decoded != tuple(funding):
            reasons.append("the chunks' funding indices differ from the ledger's")

    def rebuild(subroots: Sequence[int]) -> int:
        try:
            return quad_root_from_subroots(subroots, chunk_levels, account_levels)
        except QuadTreeError as exc:
            raise SolvencyError(str(exc)) from None

    result = solvency_base.check_solvency(
        stripped,
        total_collateral,
        markets,
        rebuild_root=rebuild,
        expected_root=expected_root,
        prices=prices,
    )
    return SolvencyResult(
        tuple(reasons) + result.reasons, result.root, result.totals, result.prices
    )
