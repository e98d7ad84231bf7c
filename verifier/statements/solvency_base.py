"""The solvency chunk walk: running totals, chunk public inputs and the whole-tree check.

The base of the statement ``verifier.statements.solvency_walk`` (which adds
the public funding indices to each chunk's public inputs and rebuilds the
quaternary account root). A solvency proof is a sequence of chunk proofs,
chunk ``c`` covering accounts ``c*K .. c*K+K-1``. Each proof shows its
subtree root and carries hidden running totals forward as a Poseidon
commitment; the last chunk opens the totals. This module

* defines the running totals and their commitment (the one Python copy of
  what the circuit hashes; the prover imports it from here),
* lays out a chunk's public inputs without the funding indices (``public_inputs``),
* checks a full sequence of chunk public inputs (``check_solvency``): the
  commit chain, the flags and indices, the account root rebuilt by the
  caller's tree, and that the opened totals are solvent.

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verifier import accounting
from verifier.account_state import AccountRecord
from verifier.field import (
    FieldError,
    field_to_signed,
    is_canonical,
    require_canonical,
    signed_to_field,
    unsigned_in_range,
)
from verifier.params import MAX_MARKETS, PRICE_BITS
from verifier.poseidon import poseidon

# Widths of the running totals, mirrored by the SOLVENCY_* functions in
# circuits/lib/solvency_totals.circom (tests/circuits/test_solvency_walk.py checks
# they agree); see the circuit for why nothing wraps.
EQUITY_BITS = 100
SUM_BALANCE_BITS = 130
SUM_POSITION_BITS = 82
DEFICIT_BITS = 130
FUND_BITS = EQUITY_BITS  # the fund is account 0's equity at the marks

# Public signals per chunk: 6 scalars, prices[M], openBalance, openPositions[M],
# openDeficit, openFund.
_FIXED_SIGNALS = 9


class SolvencyError(ValueError):
    """Solvency data that cannot describe a chunk (bad shape, range or flags)."""


@dataclass(frozen=True)
class SolvencyTotals:
    """Running totals over the accounts seen so far (signed integers, not field elements).

    ``fund`` is the equity of account 0 (the insurance fund) at the mark
    prices; ``deficit`` is the sum over the other accounts of max(-equity, 0)
    at the mark prices.
    """

    balance: int
    positions: tuple[int, ...]
    deficit: int
    fund: int

    @classmethod
    def zero(cls, markets: int) -> "SolvencyTotals":
        return cls(balance=0, positions=(0,) * markets, deficit=0, fund=0)

    def add_chunk(
        self,
        accounts: Sequence[AccountRecord | None],
        prices: Sequence[int],
        funding: Sequence[int],
        *,
        is_first: bool,
    ) -> "SolvencyTotals":
        """Totals after adding a chunk's accounts (``None`` = empty slot) at ``prices``.

        Every account counts settled to the funding indices ``funding`` (one
        per market, quote units per lot): balance minus
        ``AccountRecord.funding_payment(funding)``, as the circuit settles it.
        In the first chunk, account 0 is the insurance fund: its equity at
        ``prices`` (balance plus positions at the marks, not just its cash)
        becomes ``fund`` and its own shortfall is not counted as a trader
        deficit (a negative fund already fails ``deficit <= fund``); later
        chunks carry ``fund`` over unchanged. Raises SolvencyError if an
        account's position count differs from the totals'.
        """
        balance = self.balance
        positions = list(self.positions)
        deficit = self.deficit
        if len(funding) != len(positions):
            raise SolvencyError("funding needs one index per market")
        fund = 0 if is_first else self.fund
        for k, acc in enumerate(accounts):
            if acc is None:
                continue
            if len(acc.positions) != len(positions) or len(acc.checkpoints) != len(positions):
                raise SolvencyError("an account has a position count unlike the totals")
            settled = acc.balance - acc.funding_payment(funding)
            balance += settled
            positions = [p + s for p, s in zip(positions, acc.positions, strict=True)]
            if is_first and k == 0:
                fund = accounting.equity(settled, acc.positions, prices)
            else:
                deficit += accounting.deficit(settled, acc.positions, prices)
        return SolvencyTotals(
            balance=balance, positions=tuple(positions), deficit=deficit, fund=fund
        )

    def field_elements(self) -> tuple[int, tuple[int, ...], int, int]:
        """(balance, positions, deficit, fund) encoded as the circuit holds them.

        Raises FieldError if a total does not fit the width the circuit checks.
        """
        return (
            signed_to_field(self.balance, SUM_BALANCE_BITS, "balance sum"),
            tuple(signed_to_field(p, SUM_POSITION_BITS, "position sum") for p in self.positions),
            unsigned_in_range(self.deficit, DEFICIT_BITS, "deficit sum"),
            signed_to_field(self.fund, FUND_BITS, "insurance fund"),
        )


def totals_commitment(totals: SolvencyTotals, salt: int) -> int:
    """C = Poseidon(sumBalance, Poseidon(sumPositions), deficit, fund, salt), as the circuit."""
    balance, positions, deficit, fund = totals.field_elements()
    return poseidon(
        [balance, poseidon(list(positions)), deficit, fund, require_canonical(salt, "salt")]
    )


def public_inputs(
    *,
    chunk_index: int,
    chunk_count: int,
    sub_root: int,
    prev_commit: int,
    next_commit: int,
    prices: Sequence[int],
    opening: SolvencyTotals | None,
) -> list[int]:
    """The chunk's public inputs in circuit order (the walk inserts funding[M] after prices[M]).

    ``opening`` is the opened totals and must be given exactly for the last
    chunk (``chunk_index == chunk_count - 1``); other chunks open zeros.
    """
    if not isinstance(chunk_count, int) or chunk_count < 1:
        raise SolvencyError("a solvency proof has at least one chunk")
    if not isinstance(chunk_index, int) or not 0 <= chunk_index < chunk_count:
        raise SolvencyError(f"chunk index {chunk_index!r} is not in [0, {chunk_count})")
    if not 1 <= len(prices) <= MAX_MARKETS:
        raise SolvencyError(f"prices must cover 1..{MAX_MARKETS} markets")
    is_first = chunk_index == 0
    is_last = chunk_index == chunk_count - 1
    if is_last != (opening is not None):
        raise SolvencyError("exactly the last chunk opens the totals")
    if opening is None:
        opened: tuple[int, tuple[int, ...], int, int] = (0, (0,) * len(prices), 0, 0)
    else:
        if len(opening.positions) != len(prices):
            raise SolvencyError("the opened totals need one position sum per market")
        opened = opening.field_elements()
    balance, positions, deficit, fund = opened
    return [
        chunk_index,
        require_canonical(sub_root, "subtree root"),
        require_canonical(prev_commit, "previous commitment"),
        require_canonical(next_commit, "next commitment"),
        int(is_first),
        int(is_last),
        *(unsigned_in_range(p, PRICE_BITS, "price") for p in prices),
        balance,
        *positions,
        deficit,
        fund,
    ]


@dataclass(frozen=True)
class ChunkPublic:
    """One chunk proof's public signals, decoded (opened totals as signed integers)."""

    chunk_index: int
    sub_root: int
    prev_commit: int
    next_commit: int
    is_first: int
    is_last: int
    prices: tuple[int, ...]
    open_balance: int
    open_positions: tuple[int, ...]
    open_deficit: int
    open_fund: int

    @classmethod
    def from_signals(cls, signals: Sequence[int], markets: int) -> "ChunkPublic":
        """Decode public signals in PUBLIC order; raises SolvencyError if malformed."""
        if len(signals) != _FIXED_SIGNALS + 2 * markets:
            raise SolvencyError(
                f"expected {_FIXED_SIGNALS + 2 * markets} public signals, got {len(signals)}"
            )
        if not all(is_canonical(s) for s in signals):
            raise SolvencyError("a public signal is not a field element in [0, r)")
        m = markets
        try:
            return cls(
                chunk_index=signals[0],
                sub_root=signals[1],
                prev_commit=signals[2],
                next_commit=signals[3],
                is_first=signals[4],
                is_last=signals[5],
                prices=tuple(signals[6 : 6 + m]),
                open_balance=field_to_signed(signals[6 + m], SUM_BALANCE_BITS, "openBalance"),
                open_positions=tuple(
                    field_to_signed(s, SUM_POSITION_BITS, "openPositions")
                    for s in signals[7 + m : 7 + 2 * m]
                ),
                open_deficit=unsigned_in_range(signals[7 + 2 * m], DEFICIT_BITS, "openDeficit"),
                open_fund=field_to_signed(signals[8 + 2 * m], FUND_BITS, "openFund"),
            )
        except FieldError as exc:
            raise SolvencyError(str(exc)) from None

    @property
    def opened_totals(self) -> SolvencyTotals:
        return SolvencyTotals(
            balance=self.open_balance,
            positions=self.open_positions,
            deficit=self.open_deficit,
            fund=self.open_fund,
        )


@dataclass(frozen=True)
class SolvencyResult:
    """Outcome of ``check_solvency``: ``ok`` iff ``reasons`` is empty.

    ``root`` is the account root rebuilt from the chunk subroots (None if the
    input was too malformed to rebuild it); the caller compares it with the
    ledger's root unless it passed ``expected_root``. ``totals`` are the
    opened totals of the last chunk, ``prices`` the marks every chunk used.
    """

    reasons: tuple[str, ...]
    root: int | None
    totals: SolvencyTotals | None
    prices: tuple[int, ...] | None

    @property
    def ok(self) -> bool:
        return not self.reasons


def check_solvency(
    chunk_publics: Sequence[Sequence[int]],
    total_collateral: int,
    markets: int,
    *,
    rebuild_root: Callable[[Sequence[int]], int],
    expected_root: int | None = None,
    prices: Sequence[int] | None = None,
) -> SolvencyResult:
    """Check the public signals of a full solvency proof, chunk 0 first.

    The chunk proofs themselves must be verified separately (Groth16); this
    checks what ties them together: chunk indices 0..n-1, isFirst only on the
    first and isLast only on the last chunk, prevCommit 0 on the first,
    each nextCommit equal to the following prevCommit, nextCommit 0 on the
    last, zero openings before the last, one price vector for all chunks
    (equal to ``prices`` if given), the root rebuilt from the subroots (equal
    to ``expected_root`` if given), and solvency of the opening: balance sum
    = ``total_collateral``, every position sum 0, deficit <= insurance fund.
    ``rebuild_root(subroots)`` is the account tree's root over the chunk
    subroots (SOLVENCY WALK: the quaternary tree); it raises SolvencyError
    if they cannot form a root.
    """
    reasons: list[str] = []
    if not chunk_publics:
        return SolvencyResult(("no chunks",), None, None, None)
    chunks: list[ChunkPublic] = []
    for i, signals in enumerate(chunk_publics):
        try:
            chunks.append(ChunkPublic.from_signals(signals, markets))
        except SolvencyError as exc:
            reasons.append(f"chunk {i}: {exc}")
    if reasons:
        return SolvencyResult(tuple(reasons), None, None, None)

    n = len(chunks)
    for i, chunk in enumerate(chunks):
        if chunk.chunk_index != i:
            reasons.append(f"chunk {i}: has chunkIndex {chunk.chunk_index}")
        if chunk.is_first != int(i == 0):
            reasons.append(f"chunk {i}: isFirst is {chunk.is_first}")
        if chunk.is_last != int(i == n - 1):
            reasons.append(f"chunk {i}: isLast is {chunk.is_last}")
        if i == 0 and chunk.prev_commit != 0:
            reasons.append("chunk 0: prevCommit is not 0")
        if i > 0 and chunk.prev_commit != chunks[i - 1].next_commit:
            reasons.append(f"chunk {i}: prevCommit differs from chunk {i - 1}'s nextCommit")
        if i == n - 1 and chunk.next_commit != 0:
            reasons.append(f"chunk {i}: last chunk's nextCommit is not 0")
        if i < n - 1 and chunk.opened_totals != SolvencyTotals.zero(markets):
            reasons.append(f"chunk {i}: opens totals before the last chunk")
        if chunk.prices != chunks[0].prices:
            reasons.append(f"chunk {i}: uses other prices than chunk 0")
    if prices is not None and tuple(prices) != chunks[0].prices:
        reasons.append("the chunks' prices differ from the oracle prices")

    root: int | None = None
    subroots = [c.sub_root for c in chunks]
    try:
        root = rebuild_root(subroots)
    except SolvencyError as exc:
        reasons.append(f"cannot rebuild the account root: {exc}")
    if root is not None and expected_root is not None and root != expected_root:
        reasons.append("rebuilt account root differs from the expected root")

    totals = chunks[-1].opened_totals
    if totals.balance != total_collateral:
        reasons.append(
            f"balance sum {totals.balance} differs from total collateral {total_collateral}"
        )
    for m, s in enumerate(totals.positions):
        if s != 0:
            reasons.append(f"market {m}: open interest does not net to zero ({s})")
    if totals.deficit > totals.fund:
        reasons.append(f"deficit {totals.deficit} exceeds the insurance fund {totals.fund}")
    return SolvencyResult(tuple(reasons), root, totals, chunks[0].prices)
