"""LIQUIDATE: circuit (prove/verify, boundaries, tampered witnesses), builder and check_steps.

Built once per module for the ``test`` profile (account depth 4, 2 markets).
The steps are cross-checked against the pure domain engine
(``exchange.domain.liquidation``), which decides the market order and the
lot counts: the circuit must accept exactly what the domain does. Boundaries
named by issue 11: equity exactly at MMR cannot be liquidated, one unit
below can; a partial liquidation lands exactly on IMR and one lot fewer
would not restore it; the fee cap and the insurance cover of negative equity.
"""

from dataclasses import replace
from pathlib import Path

import pytest

from exchange.domain.liquidation import liquidate
from exchange.domain.margin import RiskParams
from exchange.domain.matching import AccountEntry
from prover import circuits, toolchain
from prover.errors import WitnessError
from prover.statements import liquidate as stmt
from prover.statements.liquidate import LiquidationStepWitness, build_liquidation_step
from tests.circuits import proving
from tests.circuits.conftest import honest_witness, symbols, tamper_check, unsatisfied
from verifier import groth16
from verifier.encoding import AccountState
from verifier.field import R
from verifier.merkle import MerkleTree
from verifier.params import CircuitParams
from verifier.statements import liquidate as vl
from verifier.statements.liquidate import LiquidationStatementError, LiquidationStepPublic

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "liquidate.circom"
PRICES = (100, 7)
IMF = (1000, 2000)
MMF = (500, 1000)
LIQ_FEE = (100, 0)
RISK = RiskParams(IMF, MMF, LIQ_FEE)


def params() -> CircuitParams:
    return circuits.load_params("test")


def account(i: int, balance: int, positions: tuple[int, int], blinding: int = 0) -> AccountState:
    return proving.fake_account(i, balance, positions, blinding=blinding)


def world() -> dict[int, AccountState]:
    """Fund 0; account 1 needs a partial liquidation that lands exactly on IMR
    (equity 460 < MMR 500 on 100 lots at 100; 60 lots with fee 60 leave
    equity 400 = IMR of 40 lots); account 3 has equity -50 (cover by the fund);
    account 4 needs a full close of market 1 then a continuation in market 0
    (equity 90: MMR 120, IMR 240; without market 1 IMR is 100 > 90; then 2 lots).
    Account 2 and 5 hold the opposite positions (sum of positions = 0)."""
    return {
        0: account(0, 100_000, (0, 0)),
        1: account(1, 460 - 10_000, (100, 0)),
        2: account(2, 1_000_000, (-120, 100)),
        3: account(3, -1050, (10, 0)),
        4: account(4, -210, (10, -100)),
    }


def tree_of(states: dict[int, AccountState]) -> MerkleTree:
    tree = MerkleTree(params().account_depth)
    for i, a in sorted(states.items()):
        tree.update(i, a.leaf())
    return tree


def step(
    states: dict[int, AccountState],
    tree: MerkleTree,
    index: int,
    market: int,
    lots: int,
    continuation: bool = False,
) -> LiquidationStepWitness:
    return build_liquidation_step(
        tree,
        account=index,
        before=states[index],
        fund_before=states[0],
        market=market,
        lots=lots,
        continuation=continuation,
        prices=PRICES,
        imf_bps=IMF,
        mmf_bps=MMF,
        liquidation_fee_bps=LIQ_FEE,
        new_blinding=states[index].blinding + 1,
        fund_new_blinding=states[0].blinding + 1,
        params=params(),
    )


def run_domain_plan() -> tuple[list[LiquidationStepWitness], dict[int, AccountState]]:
    """Liquidate 1, 3 and 4 with the domain's lot counts; return the witnesses in order."""
    states = world()
    book = {i: AccountEntry(a.balance, a.positions) for i, a in states.items()}
    tree = tree_of(states)
    out: list[LiquidationStepWitness] = []
    for index in (1, 3, 4):
        book, record = liquidate(book, index, PRICES, RISK)
        assert not record.deleveraging
        for k, s in enumerate(record.steps):
            w = step(states, tree, index, s.market, s.lots, continuation=k > 0)
            assert w.fee == s.fee
            states[index], states[0], tree = w.after, w.fund_after, w.tree_after
            out.append(w)
        # The circuit's states match the domain's book.
        assert (states[index].balance, states[index].positions) == tuple(book[index])
        assert (states[0].balance, states[0].positions) == tuple(book[0])
    return out, states


# ---------------------------------------------------------------- fast: builder and rules


def test_public_matches_declaration_order() -> None:
    assert proving.declared_public_inputs(CIRCUIT, "LiquidateStep", "// Private") == stmt.PUBLIC


def test_domain_plan_matches_the_statement() -> None:
    steps, states = run_domain_plan()
    summary = [
        (w.public.account, w.public.market, w.lots, w.fee, w.cover, w.public.closed_all)
        for w in steps
    ]
    assert summary == [
        (1, 0, 60, 60, 0, False),  # partial, exactly to IMR
        (3, 0, 10, 0, 50, False),  # fund covers -50, fee capped at 0
        (4, 1, 100, 0, 0, True),  # market 1 (larger MMR share) closed, still below IMR
        (4, 0, 2, 2, 0, False),  # continuation: 2 lots restore IMR, 1 would not
    ]
    assert states[1].positions == (40, 0) and states[3].positions == (0, 0)
    assert steps[1].public.flat_after and not steps[0].public.flat_after
    decoded = [vl.LiquidationStepPublic.from_signals(w.public_inputs(), 2) for w in steps]
    assert decoded == [w.public for w in steps]
    liquidated, root, reasons = vl.check_steps(
        decoded,
        start_root=tree_of(world()).root,
        prices=PRICES,
        imf_bps=IMF,
        mmf_bps=MMF,
        liquidation_fee_bps=LIQ_FEE,
    )
    assert reasons == [] and liquidated == (1, 3, 4)
    assert root == tree_of(states).root


def test_check_steps_rejects_sequence_violations() -> None:
    steps, _ = run_domain_plan()
    pubs = [w.public for w in steps]
    kw: dict[str, object] = {
        "prices": PRICES,
        "imf_bps": IMF,
        "mmf_bps": MMF,
        "liquidation_fee_bps": LIQ_FEE,
    }
    start = tree_of(world()).root

    def reasons(seq: list[LiquidationStepPublic], root: int = start) -> str:
        return " | ".join(vl.check_steps(seq, start_root=root, **kw)[2])  # type: ignore[arg-type]

    # Dropping the continuation leaves account 4 half-liquidated.
    assert "account 4 stopped below initial margin" in reasons(pubs[:3])
    # A continuation with no unfinished predecessor.
    assert "continuation without a preceding unfinished step" in reasons([pubs[0], pubs[3]])
    # Removing a step breaks the root chain.
    assert "oldAccountRoot does not follow" in reasons([pubs[0], pubs[2], pubs[3]])
    assert "oldAccountRoot does not follow" in reasons(pubs, root=123)
    wrong = replace(pubs[0], prices=(101, 7))
    assert "prices differ" in reasons([wrong])
    assert "fractions differ" in reasons([replace(pubs[0], mmf_bps=(400, 1000))])
    with pytest.raises(LiquidationStatementError, match="expected 15 public signals"):
        LiquidationStepPublic.from_signals([0] * 14, 2)
    with pytest.raises(LiquidationStatementError, match="0 or 1"):
        LiquidationStepPublic.from_signals([0, 0, 1, 0, 2, *([0] * 10)], 2)
    with pytest.raises(LiquidationStatementError, match="never liquidated"):
        replace(pubs[0], account=0).signals()


def test_builder_refuses_what_the_circuit_refuses() -> None:
    states = world()
    tree = tree_of(states)
    # Equity exactly at MMR (500 on 100 lots at 100) is not eligible; one unit below is.
    at_mmr = {**states, 1: account(1, 500 - 10_000, (100, 0))}
    with pytest.raises(LiquidationStatementError, match="not below maintenance"):
        step(at_mmr, tree_of(at_mmr), 1, 0, 50)
    below = {**states, 1: account(1, 499 - 10_000, (100, 0))}
    # 499 - q >= 1000 - 10 q  <=>  q >= 55.7: 56 lots, and 57 is not minimal.
    assert step(below, tree_of(below), 1, 0, 56).lots == 56
    with pytest.raises(LiquidationStatementError, match="56 lots would already restore"):
        step(below, tree_of(below), 1, 0, 57)
    with pytest.raises(LiquidationStatementError, match="60 lots would already restore"):
        step(states, tree, 1, 0, 61)
    with pytest.raises(LiquidationStatementError, match="must move the whole position"):
        step(states, tree, 1, 0, 59)
    with pytest.raises(LiquidationStatementError, match="cannot move"):
        step(states, tree, 1, 0, 101)
    with pytest.raises(LiquidationStatementError, match="never liquidated"):
        step(states, tree, 0, 0, 1)
    poor = {**states, 0: account(0, 49, (0, 0))}
    with pytest.raises(LiquidationStatementError, match="needs ADL"):
        step(poor, tree_of(poor), 3, 0, 10)
    with pytest.raises(LiquidationStatementError, match="not the tree's leaf"):
        step(states, tree_of(below), 1, 0, 60)


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CircuitArtifacts:
    return circuits.build_statement("liquidate", "test")


@pytest.fixture(scope="module")
def plan() -> list[LiquidationStepWitness]:
    return run_domain_plan()[0]


def _wire(artifacts: toolchain.CircuitArtifacts, inputs: dict[str, object], name: str) -> int:
    return honest_witness(artifacts, inputs).values[symbols(artifacts.sym).wire(name)]


@pytest.mark.slow
def test_proves_and_verifies_every_step(
    artifacts: toolchain.CircuitArtifacts, plan: list[LiquidationStepWitness]
) -> None:
    vk = proving.verification_key(artifacts)
    proofs = proving.prove_each(artifacts, vk, plan)
    # Public inputs are bound: the partial step does not verify as a full close,
    # for another account, or under other marks.
    proof, values = proofs[0]
    assert not groth16.verify(vk, proof, [*values[:5], 1, *values[6:]])
    assert not groth16.verify(vk, proof, [*values[:2], 3, *values[3:]])
    assert not groth16.verify(vk, proof, [*values[:7], 101, *values[8:]])


@pytest.mark.slow
def test_partial_step_lands_exactly_on_initial_margin(
    artifacts: toolchain.CircuitArtifacts, plan: list[LiquidationStepWitness]
) -> None:
    inputs = plan[0].to_circuit_inputs()
    assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []
    assert _wire(artifacts, inputs, "after.in") == 0  # BPS_DENOM * equity - IMR = 0
    assert _wire(artifacts, inputs, "fewer.neg") == 1  # 59 lots would not restore
    # Claiming the step did not restore IMR, or hiding the minimality, fails.
    assert tamper_check(artifacts, inputs, "closedAll", 1)
    assert tamper_check(artifacts, inputs, "fewer.neg", 0)
    assert tamper_check(artifacts, inputs, "lots", 61)
    assert tamper_check(artifacts, inputs, "lots", 59)


@pytest.mark.slow
def test_equity_at_mmr_cannot_be_liquidated(
    tmp_path: Path, artifacts: toolchain.CircuitArtifacts
) -> None:
    """At MMR only a continuation witness exists; with continuation = 0 the
    constraints refuse it. One unit below, continuation = 0 is accepted."""
    at_mmr = {**world(), 1: account(1, 500 - 10_000, (100, 0))}
    w = step(at_mmr, tree_of(at_mmr), 1, 0, 56, continuation=True)
    inputs = w.to_circuit_inputs()
    assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []
    assert _wire(artifacts, inputs, "belowM.neg") == 0
    with pytest.raises(WitnessError):
        toolchain.witness(artifacts, {**inputs, "continuation": 0}, tmp_path / "at.wtns")
    assert tamper_check(artifacts, inputs, "continuation", 0)
    below = {**world(), 1: account(1, 499 - 10_000, (100, 0))}
    ok = step(below, tree_of(below), 1, 0, 56).to_circuit_inputs()
    assert unsatisfied(artifacts, honest_witness(artifacts, ok)) == []
    assert _wire(artifacts, ok, "belowM.neg") == 1


@pytest.mark.slow
def test_fee_cap_and_cover(
    artifacts: toolchain.CircuitArtifacts, plan: list[LiquidationStepWitness]
) -> None:
    cover = plan[1].to_circuit_inputs()  # account 3: equity -50, fee capped at 0
    assert _wire(artifacts, cover, "cover") == 50
    assert _wire(artifacts, cover, "feeRaw") == 10 and _wire(artifacts, cover, "fee") == 0
    assert tamper_check(artifacts, cover, "fee", 10)  # the uncapped fee is refused
    assert tamper_check(artifacts, cover, "cover", 0)
    assert tamper_check(artifacts, cover, "flatAfter", 0)
    partial = plan[0].to_circuit_inputs()
    assert tamper_check(artifacts, partial, "fee", 59)
    assert tamper_check(artifacts, partial, "feeRaw", 61)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("account", 0),
        ("market", 1),
        ("balance", 460 - 10_000 + 1),
        ("positions[1]", 1),
        ("newBlinding", 5),
        ("fundBalance", 99_999),
        ("fundPositions[0]", 1),
        ("fundNewBlinding", 5),
        ("siblings[0]", 1),
        ("fundSiblings[3]", 1),
        # continuation = 1 is also true of an account below MMR (below IMR too);
        # check_steps decides where it may appear. It must be boolean.
        ("continuation", 2),
        ("flatAfter", 1),
        ("newAccountRoot", 1),
        ("mmfBps[0]", 499),
        ("imfBps[0]", 999),
        ("liqFeeBps[0]", 99),
        ("prices[0]", R - 1),
    ],
)
def test_tampered_step_fails(
    artifacts: toolchain.CircuitArtifacts,
    plan: list[LiquidationStepWitness],
    name: str,
    value: int,
) -> None:
    inputs = plan[0].to_circuit_inputs()
    assert tamper_check(artifacts, inputs, name, value % R)
