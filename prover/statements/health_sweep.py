"""Witnesses for HEALTH SWEEP on the account-state leaf (``circuits/health_sweep.circom``).

``build_sweep`` splits the used prefix of an ``AccountBook``'s
quaternary account tree into chunks of ``4^chunk_levels`` accounts; each
``SweepWitness`` turns into the circuit's input JSON and its public
inputs. The flag rule (equity after pending funding below MMR) and the public
layout come from ``verifier.statements.health_sweep`` (one copy of
each). A sweep reads the book and never changes it. Pure: never runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from prover.account_book import AccountBook
from prover.statements.chunks import record_chunk_inputs, split_record_chunks
from prover.statements.layout import named_public_inputs
from verifier.account_state import AccountRecord
from verifier.params import CircuitParams
from verifier.protocol import Tags
from verifier.quadtree import QuadTree
from verifier.statements import health_sweep as public
from verifier.statements.health_sweep import SweepError

__all__ = ["PUBLIC", "TEMPLATE", "SweepWitness", "build_sweep", "template_args"]

TEMPLATE = "HealthSweepChunk"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """HealthSweepChunk(CHUNK_LEVELS, M); no domain tag is hashed in this statement."""
    return [params.chunk_levels, params.markets]


@dataclass(frozen=True)
class SweepWitness:
    """One chunk: ``accounts`` has exactly ``4^chunk_levels`` slots (``None`` = empty leaf)."""

    chunk_index: int
    chunk_levels: int
    prices: tuple[int, ...]
    funding: tuple[int, ...]
    mmf_bps: tuple[int, ...]
    accounts: tuple[AccountRecord | None, ...]

    def __post_init__(self) -> None:
        if len(self.accounts) != 1 << (2 * self.chunk_levels):
            raise SweepError(f"a chunk holds exactly {1 << (2 * self.chunk_levels)} account slots")
        if not len(self.mmf_bps) == len(self.funding) == len(self.prices):
            raise SweepError("one funding index and maintenance fraction per market is required")
        for acc in self.accounts:
            if acc is not None and len(acc.positions) != len(self.prices):
                raise SweepError("every account needs one position per market")

    @cached_property
    def flags(self) -> int:
        return sum(
            1 << k
            for k, acc in enumerate(self.accounts)
            if acc is not None
            and public.below_maintenance_after_funding(acc, self.prices, self.funding, self.mmf_bps)
        )

    @cached_property
    def sub_root(self) -> int:
        leaves = [0 if acc is None else acc.leaf() for acc in self.accounts]
        return QuadTree.from_leaves(leaves, self.chunk_levels).root

    def public_inputs(self) -> list[int]:
        return public.public_inputs(
            chunk_index=self.chunk_index,
            sub_root=self.sub_root,
            prices=self.prices,
            funding=self.funding,
            mmf_bps=self.mmf_bps,
            flags=self.flags,
            chunk_levels=self.chunk_levels,
        )

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (every value reduced mod r)."""
        m = len(self.prices)
        pub = self.public_inputs()
        return {
            **named_public_inputs(pub, PUBLIC, dict.fromkeys(public.PER_MARKET, m)),
            **record_chunk_inputs(self.accounts, m),
        }


def build_sweep(
    book: AccountBook,
    *,
    prices: Sequence[int],
    funding: Sequence[int],
    mmf_bps: Sequence[int],
) -> list[SweepWitness]:
    """One witness per chunk covering the used prefix of ``book`` (at least one chunk).

    ``prices`` are the signed marks, ``funding`` the current cumulative funding
    indices (signed, quote units per lot), ``mmf_bps`` the genesis maintenance
    fractions. Raises SweepError on mismatched vector lengths or ranges.
    """
    params = book.params
    m = params.markets
    if not len(prices) == len(funding) == len(mmf_bps) == m:
        raise SweepError(f"expected {m} prices, funding indices and maintenance fractions")
    return [
        SweepWitness(
            chunk_index=c,
            chunk_levels=params.chunk_levels,
            prices=tuple(prices),
            funding=tuple(funding),
            mmf_bps=tuple(mmf_bps),
            accounts=chunk,
        )
        for c, chunk in enumerate(split_record_chunks(book))
    ]
