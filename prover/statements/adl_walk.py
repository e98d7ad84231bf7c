"""Witnesses for ADL RANKING COMPLETENESS (``circuits/adl_walk.circom``).

``build_adl_walk`` splits the used prefix of an ``AccountBook``'s quaternary
account tree into chunks of ``4^chunk_levels`` accounts (exactly as the health
sweep does, ``prover.statements.chunks.split_record_chunks``); each
``AdlWalkWitness`` counts the accounts that rank above a threshold on one side
of one market and turns into the circuit's input JSON and its public inputs.
``adl_walk_for_trades`` derives market, side and threshold from a market's
ADL trades with the verifier's own rule (``verifier.statements.adl_walk``),
so what the operator proves is what the verifier expects. The rank key and
its division are ``verifier.statements.deleverage.rank_key`` (one copy).
A walk reads the book and never changes it. Pure: never runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from prover.account_book import AccountBook
from prover.statements.chunks import record_chunk_inputs, split_record_chunks
from prover.statements.layout import named_public_inputs
from verifier import accounting
from verifier.account_state import AccountRecord
from verifier.encoding import to_field
from verifier.params import BPS_DENOM, CircuitParams
from verifier.protocol import FEE_ACCOUNT, Tags
from verifier.quadtree import QuadTree
from verifier.statements import adl_walk as public
from verifier.statements.adl_walk import AdlWalkChunkPublic, AdlWalkError
from verifier.statements.deleverage import DeleverageTradePublic, rank_key

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "AdlWalkWitness",
    "adl_walk_for_trades",
    "build_adl_walk",
    "rank_division",
    "template_args",
]

TEMPLATE = "AdlWalkChunk"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """AdlWalkChunk(CHUNK_LEVELS, M); no domain tag is hashed in this statement."""
    return [params.chunk_levels, params.markets]


def rank_division(settled: AccountRecord, prices: Sequence[int]) -> tuple[int, int, int]:
    """(rank key, quotient, remainder) of a funding-settled account: the circuit's
    witness of ``10^4 * N = q * E + r`` (q = r = 0 when equity <= 0)."""
    equity = accounting.equity(settled.balance, settled.positions, prices)
    if equity <= 0:
        return 0, 0, 0
    scaled = BPS_DENOM * sum(abs(s) * p for s, p in zip(settled.positions, prices, strict=True))
    q, r = divmod(scaled, equity)
    key = rank_key(settled.balance, settled.positions, prices)
    if key != q + 1:  # pragma: no cover - one formula, two spellings
        raise AdlWalkError("rank key and its division disagree")
    return key, q, r


@dataclass(frozen=True)
class AdlWalkWitness:
    """One chunk: ``accounts`` has exactly ``4^chunk_levels`` slots (``None`` = empty leaf)."""

    chunk_index: int
    chunk_levels: int
    market: int
    side: int
    threshold_key: int
    threshold_index: int
    prices: tuple[int, ...]
    funding: tuple[int, ...]
    accounts: tuple[AccountRecord | None, ...]

    def __post_init__(self) -> None:
        if len(self.accounts) != 1 << (2 * self.chunk_levels):
            raise AdlWalkError(f"a chunk holds exactly {1 << (2 * self.chunk_levels)} slots")
        if len(self.funding) != len(self.prices):
            raise AdlWalkError("one funding index per market is required")

    def _settled(self, acc: AccountRecord) -> AccountRecord:
        return AccountRecord(
            acc.pub_x,
            acc.pub_y,
            acc.balance - acc.funding_payment(self.funding),
            acc.positions,
            tuple(self.funding),
            acc.order_root,
        )

    @cached_property
    def divisions(self) -> tuple[tuple[int, int, int], ...]:
        """(key, quotient, remainder) per slot (zeros for empty slots)."""
        return tuple(
            (0, 0, 0) if acc is None else rank_division(self._settled(acc), self.prices)
            for acc in self.accounts
        )

    @cached_property
    def counted(self) -> tuple[int, ...]:
        """Global indices of the chunk's accounts ranked above the threshold on the side."""
        k = len(self.accounts)
        out: list[int] = []
        for slot, acc in enumerate(self.accounts):
            index = self.chunk_index * k + slot
            if acc is None or index == FEE_ACCOUNT or self.side * acc.positions[self.market] < 1:
                continue
            key = self.divisions[slot][0]
            if public.ranked_above(key, index, self.threshold_key, self.threshold_index):
                out.append(index)
        return tuple(out)

    @cached_property
    def sub_root(self) -> int:
        leaves = [0 if acc is None else acc.leaf() for acc in self.accounts]
        return QuadTree.from_leaves(leaves, self.chunk_levels).root

    @property
    def public(self) -> AdlWalkChunkPublic:
        return AdlWalkChunkPublic(
            chunk_index=self.chunk_index,
            sub_root=self.sub_root,
            market=self.market,
            side=self.side,
            threshold_key=self.threshold_key,
            threshold_index=self.threshold_index,
            count=len(self.counted),
            prices=self.prices,
            funding=self.funding,
        )

    def public_inputs(self) -> list[int]:
        return self.public.signals()

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (every value reduced mod r)."""
        m = len(self.prices)
        return {
            **named_public_inputs(
                self.public_inputs(), PUBLIC, dict.fromkeys(public.PER_MARKET, m)
            ),
            **record_chunk_inputs(self.accounts, m),
            "keyQuotient": [to_field(q) for _, q, _ in self.divisions],
            "keyRemainder": [to_field(r) for _, _, r in self.divisions],
        }


def build_adl_walk(
    book: AccountBook,
    *,
    market: int,
    side: int,
    threshold: tuple[int, int],
    prices: Sequence[int],
    funding: Sequence[int],
) -> list[AdlWalkWitness]:
    """One witness per chunk covering the used prefix of ``book`` (at least one chunk).

    ``side``: +1 counts longs, -1 shorts; ``threshold``: (rank key, account
    index) as ``verifier.statements.adl_walk.walk_threshold``; ``prices`` the
    signed marks, ``funding`` the current cumulative funding indices.
    Raises AdlWalkError on mismatched shapes or a bad side/market.
    """
    params = book.params
    m = params.markets
    if not len(prices) == len(funding) == m:
        raise AdlWalkError(f"expected {m} prices and funding indices")
    if not 0 <= market < m or side not in (1, -1):
        raise AdlWalkError(f"no walk for market {market} side {side}")
    return [
        AdlWalkWitness(
            chunk_index=c,
            chunk_levels=params.chunk_levels,
            market=market,
            side=side,
            threshold_key=threshold[0],
            threshold_index=threshold[1],
            prices=tuple(prices),
            funding=tuple(funding),
            accounts=chunk,
        )
        for c, chunk in enumerate(split_record_chunks(book))
    ]


def adl_walk_for_trades(
    book: AccountBook,
    trades: Sequence[DeleverageTradePublic],
    *,
    prices: Sequence[int],
    funding: Sequence[int],
) -> list[AdlWalkWitness]:
    """The walk of the market of ``trades`` (one market's consecutive ADL trades, in
    order) on ``book``, the book right before the first of them."""
    if not trades or len({t.market for t in trades}) != 1:
        raise AdlWalkError("a walk covers the trades of exactly one market")
    market = trades[0].market
    side = -1 if trades[0].bankrupt_positions[market] > 0 else 1
    last = trades[-1]
    threshold = public.walk_threshold(
        last.counterparty, last.rank_key, book.params.account_levels, FEE_ACCOUNT
    )
    return build_adl_walk(
        book, market=market, side=side, threshold=threshold, prices=prices, funding=funding
    )
