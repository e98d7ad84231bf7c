"""Witnesses for SOLVENCY WALK (``circuits/solvency_walk.circom``) from the operator's ``AccountBook``.

``build_solvency_walk`` splits the used prefix of the quaternary account tree
into chunks of ``4^chunk_levels`` accounts and chains their hidden running
totals with fresh random salts; each ``SolvencyWalkWitness`` turns into the
circuit's input JSON and its public inputs. Every account enters the totals
settled to the public funding indices (the leaves themselves are only read).
Totals, commitment and layout come from ``verifier.statements.solvency_base``
/ ``solvency_walk`` (one copy of each formula). Pure: never runs node.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from prover.account_book import AccountBook
from prover.statements.chunks import record_chunk_inputs, split_record_chunks
from prover.statements.layout import named_public_inputs
from verifier.account_state import AccountRecord
from verifier.field import R
from verifier.params import CircuitParams
from verifier.protocol import Tags
from verifier.quadtree import QuadTree
from verifier.statements import solvency_base
from verifier.statements import solvency_walk as public
from verifier.statements.solvency_walk import SolvencyError, SolvencyTotals

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "SolvencyError",
    "SolvencyWalkWitness",
    "build_solvency_walk",
    "template_args",
]

TEMPLATE = "SolvencyWalk"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """SolvencyWalk(CHUNK_LEVELS, M); no domain tag is hashed in this statement."""
    return [params.chunk_levels, params.markets]


@dataclass(frozen=True)
class SolvencyWalkWitness:
    """Everything the prover knows for one chunk proof.

    ``accounts`` has exactly ``4^chunk_levels`` slots (``None`` = empty leaf);
    ``prev_totals`` are the totals after the previous chunk (zero for the
    first), ``prev_salt`` / ``next_salt`` the salts of the incoming and
    outgoing commitments (0 by convention at the ends).
    """

    chunk_index: int
    chunk_count: int
    chunk_levels: int
    prices: tuple[int, ...]
    funding: tuple[int, ...]
    accounts: tuple[AccountRecord | None, ...]
    prev_totals: SolvencyTotals
    prev_salt: int = field(repr=False)
    next_salt: int = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.accounts) != 1 << (2 * self.chunk_levels):
            raise SolvencyError(f"a chunk holds exactly {4**self.chunk_levels} account slots")
        if len(self.funding) != len(self.prices):
            raise SolvencyError("funding needs one index per market")
        if self.chunk_index == 0 and self.prev_totals != SolvencyTotals.zero(len(self.prices)):
            raise SolvencyError("the first chunk starts from zero totals")
        for salt in (self.prev_salt, self.next_salt):
            if not 0 <= salt < R:
                raise SolvencyError("a salt is not a field element in [0, r)")

    @property
    def is_last(self) -> bool:
        return self.chunk_index == self.chunk_count - 1

    @cached_property
    def sub_root(self) -> int:
        leaves = [0 if acc is None else acc.leaf() for acc in self.accounts]
        if self.chunk_levels == 0:
            return leaves[0]
        return QuadTree.from_leaves(leaves, self.chunk_levels).root

    @cached_property
    def next_totals(self) -> SolvencyTotals:
        return self.prev_totals.add_chunk(
            self.accounts, self.prices, self.funding, is_first=self.chunk_index == 0
        )

    def public_inputs(self) -> list[int]:
        first = self.chunk_index == 0
        return public.public_inputs(
            chunk_index=self.chunk_index,
            chunk_count=self.chunk_count,
            sub_root=self.sub_root,
            prev_commit=0
            if first
            else solvency_base.totals_commitment(self.prev_totals, self.prev_salt),
            next_commit=0
            if self.is_last
            else solvency_base.totals_commitment(self.next_totals, self.next_salt),
            prices=self.prices,
            funding=self.funding,
            opening=self.next_totals if self.is_last else None,
        )

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (every value reduced mod r)."""
        m = len(self.prices)
        pub = self.public_inputs()
        prev_balance, prev_positions, prev_deficit, prev_fund = self.prev_totals.field_elements()
        return {
            **named_public_inputs(pub, PUBLIC, dict.fromkeys(public.PER_MARKET, m)),
            **record_chunk_inputs(self.accounts, m),
            "prevBalance": prev_balance,
            "prevPositions": list(prev_positions),
            "prevDeficit": prev_deficit,
            "prevFund": prev_fund,
            "prevSalt": self.prev_salt,
            "nextSalt": self.next_salt,
        }


def build_solvency_walk(
    book: AccountBook,
    prices: Sequence[int],
    funding: Sequence[int],
    rng: random.Random,
) -> list[SolvencyWalkWitness]:
    """One witness per chunk covering the used prefix of ``book``'s account tree.

    Trailing empty slots are not covered (the verifier treats missing chunks
    as empty): ``ceil((highest open index + 1) / K)`` chunks, at least one.
    Each link of the commitment chain gets a fresh salt from ``rng`` (pass
    ``random.SystemRandom()`` in production: the salt hides the totals).
    Raises SolvencyError if prices / funding do not cover the markets.
    """
    params = book.params
    m = params.markets
    if len(prices) != m or len(funding) != m:
        raise SolvencyError(f"expected {m} prices and {m} funding indices")
    chunks = split_record_chunks(book)
    count = len(chunks)
    salts = [rng.randrange(1, R) for _ in range(count - 1)]
    witnesses: list[SolvencyWalkWitness] = []
    totals = SolvencyTotals.zero(m)
    for c in range(count):
        w = SolvencyWalkWitness(
            chunk_index=c,
            chunk_count=count,
            chunk_levels=params.chunk_levels,
            prices=tuple(prices),
            funding=tuple(funding),
            accounts=chunks[c],
            prev_totals=totals,
            prev_salt=salts[c - 1] if c > 0 else 0,
            next_salt=salts[c] if c < count - 1 else 0,
        )
        witnesses.append(w)
        totals = w.next_totals
    return witnesses
