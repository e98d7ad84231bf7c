"""Test-only: the small in-process operator the ledger and inclusion tests build on.

Imports exchange/prover lazily: the verifier package itself never does, only
these tests, to produce an honest ledger to replay.
"""

from typing import Any

from tests.verifier.ledger_files import OPERATOR_KEY, ORACLE_KEY
from verifier.eddsa import PrivateKey

__all__ = ["OPERATOR_KEY", "ORACLE_KEY", "small_operator"]


def small_operator(**operator_kwargs: Any) -> tuple[Any, Any, PrivateKey, PrivateKey]:
    """(operator, tags, alice key, bob key): two markets, fixed keys, a fixed clock.

    ``operator_kwargs`` go to ``Operator`` (e.g. genesis ``risk`` / ``funding`` rules).
    """
    from exchange.operator import MarketSpec, Operator
    from oracle.signer import SimulatedOracle
    from verifier.protocol import Tags

    tags = Tags.for_exchange("darkpool-dev")
    oracle = SimulatedOracle([100, 50], tags.oracle, seed=1, key=ORACLE_KEY)
    markets = [
        MarketSpec(0, "BTC-PERP", 1, 1, imf_bps=500, mmf_bps=300, fee_bps=5),
        MarketSpec(1, "ETH-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
    ]
    insurance, alice, bob = (PrivateKey(bytes([i]) * 32) for i in (2, 3, 4))
    op = Operator(
        markets=markets,
        oracle=oracle,
        insurance_pubkey=insurance.public_key(),
        insurance_fund=1000,
        clock=lambda: 1000,
        operator_key=OPERATOR_KEY,
        **operator_kwargs,
    )
    return op, tags, alice, bob
