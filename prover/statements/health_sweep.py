"""Witnesses for HEALTH SWEEP (``circuits/health_sweep.circom``).

``build_sweep_witnesses`` splits the used prefix of the account tree into
chunks of ``2^chunk_height`` accounts; each ``HealthSweepWitness`` turns into
the circuit's input JSON and its public inputs. The flag rule and the public
layout come from ``verifier.statements.health_sweep`` (one copy of each).
Pure: never runs node; the toolchain proves the witnesses.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from prover.statements.chunks import chunk_account_inputs, split_chunks
from prover.statements.layout import named_public_inputs
from verifier.encoding import AccountState
from verifier.merkle import root_from_prefix
from verifier.params import CircuitParams
from verifier.protocol import Tags
from verifier.statements import health_sweep as public
from verifier.statements.health_sweep import SweepError

TEMPLATE = "HealthSweepChunk"
PUBLIC = ["chunkIndex", "subRoot", "prices", "mmfBps", "flags"]


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """HealthSweepChunk(CHUNK_HEIGHT, M); no domain tag is hashed in this statement."""
    return [params.chunk_height, params.markets]


@dataclass(frozen=True)
class HealthSweepWitness:
    """One chunk: ``accounts`` has exactly ``2^chunk_height`` slots (``None`` = empty leaf)."""

    chunk_index: int
    chunk_height: int
    prices: tuple[int, ...]
    mmf_bps: tuple[int, ...]
    accounts: tuple[AccountState | None, ...]

    def __post_init__(self) -> None:
        if len(self.accounts) != 1 << self.chunk_height:
            raise SweepError(f"a chunk holds exactly {1 << self.chunk_height} account slots")
        if len(self.mmf_bps) != len(self.prices):
            raise SweepError("one maintenance fraction per market is required")
        for acc in self.accounts:
            if acc is not None and len(acc.positions) != len(self.prices):
                raise SweepError("every account needs one position per market")

    @cached_property
    def flags(self) -> int:
        return sum(
            1 << k
            for k, acc in enumerate(self.accounts)
            if acc is not None
            and public.below_maintenance(acc.balance, acc.positions, self.prices, self.mmf_bps)
        )

    @cached_property
    def sub_root(self) -> int:
        leaves = [0 if acc is None else acc.leaf() for acc in self.accounts]
        return root_from_prefix(leaves, self.chunk_height)

    def public_inputs(self) -> list[int]:
        return public.public_inputs(
            chunk_index=self.chunk_index,
            sub_root=self.sub_root,
            prices=self.prices,
            mmf_bps=self.mmf_bps,
            flags=self.flags,
            chunk_height=self.chunk_height,
        )

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (every value reduced mod r)."""
        m = len(self.prices)
        pub = self.public_inputs()
        return {
            **named_public_inputs(pub, PUBLIC, {"prices": m, "mmfBps": m}),
            **chunk_account_inputs(self.accounts, m),
        }


def build_sweep_witnesses(
    accounts: Sequence[AccountState | None],
    params: CircuitParams,
    prices: Sequence[int],
    mmf_bps: Sequence[int],
) -> list[HealthSweepWitness]:
    """One witness per chunk covering the used prefix of the account tree (at least one)."""
    if len(prices) != params.markets or len(mmf_bps) != params.markets:
        raise SweepError(f"expected {params.markets} prices and maintenance fractions")
    chunks = split_chunks(accounts, params, SweepError)
    return [
        HealthSweepWitness(
            chunk_index=c,
            chunk_height=params.chunk_height,
            prices=tuple(prices),
            mmf_bps=tuple(mmf_bps),
            accounts=chunk,
        )
        for c, chunk in enumerate(chunks)
    ]
