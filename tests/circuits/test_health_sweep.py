"""HEALTH SWEEP: circuit (prove/verify, MMR boundary, tampered witnesses) and check_sweep.

The circuit is built once per module for the ``test`` profile (K = 4 accounts
per chunk, 2 markets, account depth 4). The boundary under test is the one
issue 11 names: equity exactly at maintenance margin is not flagged, one
quote unit less is, and a proof cannot claim otherwise (flags are tampered
in the honest witness and the R1CS must reject).
"""

from pathlib import Path

import pytest

from prover import circuits, toolchain
from prover.statements import health_sweep as stmt
from prover.statements.health_sweep import HealthSweepWitness, build_sweep_witnesses
from tests.circuits import proving
from tests.circuits.conftest import honest_witness, symbols, tamper_check, unsatisfied
from verifier import groth16
from verifier.encoding import AccountState
from verifier.field import R
from verifier.params import CircuitParams
from verifier.statements import health_sweep as vhs
from verifier.statements.health_sweep import check_sweep

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "health_sweep.circom"
PRICES = (100, 7)
MMF = (500, 1000)  # 5% and 10%


def params() -> CircuitParams:
    return circuits.load_params("test")


def account(i: int, balance: int, positions: tuple[int, int]) -> AccountState:
    return proving.fake_account(i, balance, positions)


def accounts_with_boundary() -> list[AccountState | None]:
    """Six slots, two chunks.

    Account 1: long 10 @ 100 (MMR 50) and short 10 @ 7 (MMR 7): MMR 57.
    Balance -873 gives equity -873 + 1000 - 70 = 57: exactly at MMR, healthy.
    Account 2: the same with one quote unit less: equity 56 < 57, flagged.
    Account 5: a short (-20 @ 100, MMR 100) with equity 99: flagged.
    """
    return [
        account(0, 10_000, (0, 0)),
        account(1, -873, (10, -10)),
        account(2, -874, (10, -10)),
        None,
        account(4, 50, (0, 20)),
        account(5, 2099, (-20, 0)),
    ]


def check(pubs: list[list[int]], accounts: list[AccountState | None]) -> vhs.SweepResult:
    p = params()
    return check_sweep(
        pubs,
        account_depth=p.account_depth,
        chunk_height=p.chunk_height,
        markets=p.markets,
        expected_root=proving.tree_root(accounts, p.account_depth),
        prices=PRICES,
        mmf_bps=MMF,
    )


# ---------------------------------------------------------------- fast: layout and check_sweep


def test_public_matches_declaration_order() -> None:
    assert proving.declared_public_inputs(CIRCUIT, "HealthSweepChunk", "// Private") == stmt.PUBLIC


def test_flags_mark_exactly_the_accounts_below_mmr() -> None:
    accounts = accounts_with_boundary()
    ws = build_sweep_witnesses(accounts, params(), PRICES, MMF)
    assert [w.flags for w in ws] == [0b0100, 0b0010]
    result = check([w.public_inputs() for w in ws], accounts)
    assert result.ok, result.reasons
    assert result.flagged == (2, 5)
    assert not vhs.below_maintenance(-873, (10, -10), PRICES, MMF)
    assert vhs.below_maintenance(-874, (10, -10), PRICES, MMF)


def test_check_sweep_rejects_wrong_root_prices_fractions_and_order() -> None:
    accounts = accounts_with_boundary()
    pubs = [w.public_inputs() for w in build_sweep_witnesses(accounts, params(), PRICES, MMF)]
    p = params()
    other = check_sweep(
        pubs,
        account_depth=p.account_depth,
        chunk_height=p.chunk_height,
        markets=p.markets,
        expected_root=proving.tree_root(accounts[:-1], p.account_depth),
        prices=(101, 7),
        mmf_bps=(400, 1000),
    )
    joined = " | ".join(other.reasons)
    assert "rebuilt account root differs" in joined
    assert "prices differ from the signed report" in joined
    assert "maintenance fractions differ from genesis" in joined
    # A missing chunk drops accounts 4 and 5 from the root: a sweep cannot skip accounts.
    assert "rebuilt account root differs" in " | ".join(check(pubs[:1], accounts).reasons)
    assert "chunkIndex 1, expected 0" in " | ".join(check(pubs[::-1], accounts).reasons)
    assert "expected 7 public signals" in " | ".join(check([pubs[0][:-1]], accounts).reasons)
    assert "not a field element" in " | ".join(check([[R, *pubs[0][1:]]], accounts).reasons)
    assert check([], accounts).reasons == ("no chunks",)


def test_builder_refuses_bad_shapes() -> None:
    p = params()
    with pytest.raises(vhs.SweepError):
        build_sweep_witnesses(accounts_with_boundary(), p, PRICES, (500,))
    with pytest.raises(vhs.SweepError):
        build_sweep_witnesses([account(i, 1, (0, 0)) for i in range(17)], p, PRICES, MMF)
    with pytest.raises(vhs.SweepError):
        vhs.public_inputs(
            chunk_index=0, sub_root=1, prices=PRICES, mmf_bps=MMF, flags=16, chunk_height=2
        )


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CircuitArtifacts:
    return circuits.build_statement("health_sweep", "test")


@pytest.fixture(scope="module")
def witnesses() -> list[HealthSweepWitness]:
    return build_sweep_witnesses(accounts_with_boundary(), params(), PRICES, MMF)


@pytest.mark.slow
def test_proves_and_verifies(
    artifacts: toolchain.CircuitArtifacts, witnesses: list[HealthSweepWitness]
) -> None:
    vk = proving.verification_key(artifacts)
    signals = [values for _, values in proving.prove_each(artifacts, vk, witnesses)]
    result = check(signals, accounts_with_boundary())
    assert result.ok and result.flagged == (2, 5)
    # The flags and the index are bound: a proof does not verify under other values.
    proof, _ = proving.prove(artifacts, witnesses[0].to_circuit_inputs())
    assert groth16.verify(vk, proof, signals[0])
    assert not groth16.verify(vk, proof, [*signals[0][:-1], 0])
    assert not groth16.verify(vk, proof, [1, *signals[0][1:]])


@pytest.mark.slow
def test_mmr_boundary_is_in_the_constraints(
    artifacts: toolchain.CircuitArtifacts, witnesses: list[HealthSweepWitness]
) -> None:
    inputs = witnesses[0].to_circuit_inputs()
    honest = honest_witness(artifacts, inputs)
    assert unsatisfied(artifacts, honest) == []
    table = symbols(artifacts.sym)
    assert honest.values[table.wire("slack[1].neg")] == 0  # exactly at MMR
    assert honest.values[table.wire("slack[2].neg")] == 1  # one unit below
    # Hiding the flagged account, or flagging the healthy one, breaks the constraints.
    assert tamper_check(artifacts, inputs, "flags", 0)
    assert tamper_check(artifacts, inputs, "flags", 0b0110)
    assert tamper_check(artifacts, inputs, "slack[2].neg", 0)
    assert tamper_check(artifacts, inputs, "slack[1].neg", 1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("balance[2]", 0),
        ("balance[1]", -874 % R),
        ("positions[1][0]", 9),
        ("isEmpty[3]", 0),
        ("isEmpty[1]", 1),
        ("blinding[0]", 7),
        ("prices[0]", 101),
        ("mmfBps[1]", 999),
        ("subRoot", 1),
    ],
)
def test_tampered_chunk_fails(
    artifacts: toolchain.CircuitArtifacts,
    witnesses: list[HealthSweepWitness],
    name: str,
    value: int,
) -> None:
    assert tamper_check(artifacts, witnesses[0].to_circuit_inputs(), name, value)
