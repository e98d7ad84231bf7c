"""Witnesses for SOLVENCY CHUNK (``circuits/solvency_chunk.circom``).

``build_solvency_witnesses`` splits the used prefix of the account tree into
chunks of ``2^chunk_height`` accounts and chains their hidden running totals
with fresh random salts; each ``SolvencyChunkWitness`` turns into the circuit's
input JSON and its public inputs. The totals, their commitment and the public
input layout come from ``verifier.statements.solvency_chunk`` (one copy of
each formula). Pure: never runs node; the toolchain proves the witnesses.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from prover.statements.chunks import chunk_account_inputs, split_chunks
from prover.statements.layout import named_public_inputs
from verifier.encoding import AccountState
from verifier.field import R
from verifier.merkle import root_from_prefix
from verifier.params import CircuitParams
from verifier.protocol import Tags
from verifier.statements import solvency_chunk as public
from verifier.statements.solvency_chunk import SolvencyError, SolvencyTotals

TEMPLATE = "SolvencyChunk"
PUBLIC = [
    "chunkIndex",
    "subRoot",
    "prevCommit",
    "nextCommit",
    "isFirst",
    "isLast",
    "prices",
    "openBalance",
    "openPositions",
    "openDeficit",
    "openFund",
]


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """SolvencyChunk(CHUNK_HEIGHT, M); no domain tag is hashed in this statement."""
    return [params.chunk_height, params.markets]


@dataclass(frozen=True)
class SolvencyChunkWitness:
    """Everything the prover knows for one chunk proof.

    ``accounts`` has exactly ``2^chunk_height`` slots (``None`` = empty leaf);
    ``prev_totals`` are the totals after the previous chunk (zero for the
    first), ``prev_salt`` / ``next_salt`` the salts of the incoming and
    outgoing commitments (unused, and 0 by convention, at the ends).
    """

    chunk_index: int
    chunk_count: int
    chunk_height: int
    prices: tuple[int, ...]
    accounts: tuple[AccountState | None, ...]
    prev_totals: SolvencyTotals
    prev_salt: int = field(repr=False)
    next_salt: int = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.accounts) != 1 << self.chunk_height:
            raise SolvencyError(f"a chunk holds exactly {1 << self.chunk_height} account slots")
        if not 0 <= self.chunk_index < self.chunk_count:
            raise SolvencyError(f"chunk index {self.chunk_index} is not in [0, {self.chunk_count})")
        markets = len(self.prices)
        if len(self.prev_totals.positions) != markets:
            raise SolvencyError("previous totals need one position sum per market")
        for acc in self.accounts:
            if acc is not None and len(acc.positions) != markets:
                raise SolvencyError("every account needs one position per market")
        if self.is_first and self.prev_totals != SolvencyTotals.zero(markets):
            raise SolvencyError("the first chunk starts from zero totals")
        for salt in (self.prev_salt, self.next_salt):
            if not 0 <= salt < R:
                raise SolvencyError("a salt is not a field element in [0, r)")

    @property
    def markets(self) -> int:
        return len(self.prices)

    @property
    def is_first(self) -> bool:
        return self.chunk_index == 0

    @property
    def is_last(self) -> bool:
        return self.chunk_index == self.chunk_count - 1

    @cached_property
    def leaves(self) -> tuple[int, ...]:
        return tuple(0 if acc is None else acc.leaf() for acc in self.accounts)

    @cached_property
    def sub_root(self) -> int:
        return root_from_prefix(self.leaves, self.chunk_height)

    @cached_property
    def next_totals(self) -> SolvencyTotals:
        return self.prev_totals.add_chunk(self.accounts, self.prices, is_first=self.is_first)

    @property
    def prev_commit(self) -> int:
        return 0 if self.is_first else public.totals_commitment(self.prev_totals, self.prev_salt)

    @property
    def next_commit(self) -> int:
        return 0 if self.is_last else public.totals_commitment(self.next_totals, self.next_salt)

    def public_inputs(self) -> list[int]:
        return public.public_inputs(
            chunk_index=self.chunk_index,
            chunk_count=self.chunk_count,
            sub_root=self.sub_root,
            prev_commit=self.prev_commit,
            next_commit=self.next_commit,
            prices=self.prices,
            opening=self.next_totals if self.is_last else None,
        )

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (every value reduced mod r)."""
        m = self.markets
        pub = self.public_inputs()
        prev_balance, prev_positions, prev_deficit, prev_fund = self.prev_totals.field_elements()
        return {
            **named_public_inputs(pub, PUBLIC, {"prices": m, "openPositions": m}),
            **chunk_account_inputs(self.accounts, m),
            "prevBalance": prev_balance,
            "prevPositions": list(prev_positions),
            "prevDeficit": prev_deficit,
            "prevFund": prev_fund,
            "prevSalt": self.prev_salt,
            "nextSalt": self.next_salt,
        }


def build_solvency_witnesses(
    accounts: Sequence[AccountState | None],
    params: CircuitParams,
    prices: Sequence[int],
    rng: random.Random,
) -> list[SolvencyChunkWitness]:
    """One witness per chunk covering the used prefix of the account tree.

    ``accounts[i]`` is the account at index i (``None`` = empty slot); trailing
    empty slots are not covered (the verifier treats missing chunks as empty).
    ``ceil(n / K)`` chunks, at least one; each link of the commitment chain gets
    a fresh salt from ``rng`` (pass ``random.SystemRandom()`` in production:
    the salt hides the totals).
    """
    if len(prices) != params.markets:
        raise SolvencyError(f"expected {params.markets} prices, got {len(prices)}")
    chunks = split_chunks(accounts, params, SolvencyError)
    count = len(chunks)
    salts = [rng.randrange(1, R) for _ in range(count - 1)]

    witnesses: list[SolvencyChunkWitness] = []
    totals = SolvencyTotals.zero(params.markets)
    for c, chunk in enumerate(chunks):
        w = SolvencyChunkWitness(
            chunk_index=c,
            chunk_count=count,
            chunk_height=params.chunk_height,
            prices=tuple(prices),
            accounts=chunk,
            prev_totals=totals,
            prev_salt=salts[c - 1] if c > 0 else 0,
            next_salt=salts[c] if c < count - 1 else 0,
        )
        witnesses.append(w)
        totals = w.next_totals
    return witnesses
