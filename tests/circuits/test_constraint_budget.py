"""Constraint budgets of the statement circuits at the ``test`` profile.

A budget is ~10% above the count measured when it was set, so an accidental
blow-up (a dropped ``--O2``, a gadget instantiated per market instead of per
slot) fails loudly, while small honest changes pass. Raising a budget is a
deliberate edit here, with the new count in the commit message. Every test
profile circuit (the largest is settle_fills) must also stay within the shared
2^16 development powers of tau (snarkjs needs a domain of 2^k > constraints +
public signals).

Compile only (cached): no trusted setup, no witness. Production-size budgets
(a production compile takes about a minute per statement) are checked by
``uv run python -m benchmarks.constraints``, which exits 1 when one is broken.
"""

import pytest

from prover import circuits
from prover.r1cs import read_r1cs_header
from verifier.statements import settle_fills

pytestmark = pytest.mark.slow

# Measured with circom 2.2.3 --O2: order_ops 17,990 (2 ops); settle_fills 24,497
# (2 fills); account_update 8,099; solvency_walk 6,934 (4 accounts per chunk);
# health_sweep 5,412 (4 accounts per chunk; production 25,018 with 16);
# liquidate 8,638 (production 19,491); deleverage 10,441 (production 26,192);
# adl_walk 7,714 (4 accounts per chunk; production 33,666 with 16).
BUDGETS = {
    "order_ops": 19_800,
    "settle_fills": 27_000,
    "account_update": 8_900,
    "solvency_walk": 7_600,
    "health_sweep": 6_000,
    "liquidate": 9_500,
    "deleverage": 11_500,
    "adl_walk": 8_500,
}
SHARED_PTAU_POWER = 16


@pytest.mark.parametrize("statement", circuits.STATEMENTS)
def test_constraints_within_budget(statement: str) -> None:
    r1cs_path, count = circuits.compile_statement(statement, "test")
    header = read_r1cs_header(r1cs_path)
    assert count == header.n_constraints
    assert count <= BUDGETS[statement], (
        f"{statement} has {count} constraints, budget {BUDGETS[statement]}"
    )
    assert header.required_ptau_power <= SHARED_PTAU_POWER


# Public inputs that are arrays: one entry per market (SETTLE FILLS' per-market
# inputs, the liquidation fees, the solvency opening's and the ADL bankrupt's
# positions), or one per op slot (cancels, places).
PER_MARKET = settle_fills.PER_MARKET | {"liqFeeBps", "openPositions", "bankruptPositions"}


@pytest.mark.parametrize("statement", circuits.STATEMENTS)
def test_public_signal_count_matches_statement(statement: str) -> None:
    # A public input silently dropped (or a stray public output) changes what
    # the verifier binds; the r1cs header must agree with the statement module.
    params = circuits.load_params("test")
    r1cs_path, _ = circuits.compile_statement(statement, "test")
    header = read_r1cs_header(r1cs_path)
    module = circuits.statement_module(statement)
    assert header.n_pub_out == 0
    expected = sum(
        params.markets
        if name in PER_MARKET
        else params.op_slots
        if name in ("cancels", "places")
        else 1
        for name in module.PUBLIC
    )
    assert header.n_pub_in == expected


def test_largest_circuit_fits_shared_ptau() -> None:
    r1cs_path, _ = circuits.compile_statement("settle_fills", "test")
    header = read_r1cs_header(r1cs_path)
    assert max(BUDGETS.values()) == BUDGETS["settle_fills"]
    assert header.required_ptau_power <= SHARED_PTAU_POWER
    # Headroom left for growth within the budget (the budget itself must fit).
    assert (BUDGETS["settle_fills"] + header.n_public).bit_length() <= SHARED_PTAU_POWER
