"""SOLVENCY CHUNK: circuit (prove/verify, boundaries, tampered witnesses) and check_solvency.

The circuit is built once per module for the ``test`` profile (K = 4 accounts
per chunk, 2 markets, account depth 4). Tampering uses the shared
``tamper_check`` of tests/circuits/conftest.py: the honest witness with ONE
signal changed must violate the R1CS.
"""

import random
import re
import time
from pathlib import Path

import pytest

from prover import circuits, toolchain
from prover.errors import WitnessError
from prover.statements import solvency_chunk as stmt
from prover.statements.solvency_chunk import SolvencyChunkWitness, build_solvency_witnesses
from tests.circuits import proving
from tests.circuits.conftest import honest_witness, load_r1cs, symbols, tamper_check, unsatisfied
from verifier import groth16
from verifier.encoding import AccountState
from verifier.field import FieldError, R
from verifier.params import CircuitParams
from verifier.statements import solvency_chunk as vsc
from verifier.statements.solvency_chunk import SolvencyResult, SolvencyTotals, check_solvency

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "solvency_chunk.circom"
PRICES = (100, 7)


def params() -> CircuitParams:
    return circuits.load_params("test")


def account(i: int, balance: int, positions: tuple[int, int], nonce: int = 0) -> AccountState:
    # Distinct fake keys and blindings per index; solvency does not check keys.
    return proving.fake_account(i, balance, positions, nonce=nonce)


def six_accounts() -> list[AccountState | None]:
    """6 used slots (one empty) -> 2 chunks of 4 at chunk height 2.

    Index 0 is the insurance fund. At PRICES, account 2's equity is
    -300 - 300 + 14 = -586 (deficit 586); positions net to zero.
    """
    return [
        account(0, 1000, (0, 0)),
        account(1, 500, (3, -2), nonce=4),
        account(2, -300, (-3, 2)),
        None,
        account(4, 40, (0, 0)),
        account(5, 10, (0, 0)),
    ]


def collateral(accounts: list[AccountState | None]) -> int:
    return sum(a.balance for a in accounts if a is not None)


def publics(witnesses: list[SolvencyChunkWitness]) -> list[list[int]]:
    return [w.public_inputs() for w in witnesses]


# ---------------------------------------------------------------- fast: layout and check_solvency


def test_widths_match_circuit() -> None:
    text = CIRCUIT.read_text()
    found = {
        name: int(v)
        for name, v in re.findall(r"function (SOLVENCY_\w+)\(\) \{ return (\d+); \}", text)
    }
    assert found == {
        "SOLVENCY_EQUITY_BITS": vsc.EQUITY_BITS,
        "SOLVENCY_SUM_BALANCE_BITS": vsc.SUM_BALANCE_BITS,
        "SOLVENCY_SUM_POSITION_BITS": vsc.SUM_POSITION_BITS,
        "SOLVENCY_DEFICIT_BITS": vsc.DEFICIT_BITS,
    }


def test_public_matches_declaration_order() -> None:
    assert proving.declared_public_inputs(CIRCUIT, "SolvencyChunk", "// Private") == stmt.PUBLIC


def test_builder_splits_into_chunks() -> None:
    p = params()
    rng = random.Random(7)
    ws = build_solvency_witnesses(six_accounts(), p, PRICES, rng)
    assert [w.chunk_index for w in ws] == [0, 1]
    assert all(len(w.accounts) == 4 for w in ws)
    assert ws[1].accounts == (*six_accounts()[4:], None, None)
    # Salt of the link between chunks is shared, fresh and nonzero.
    assert ws[0].next_salt == ws[1].prev_salt != 0
    again = build_solvency_witnesses(six_accounts(), p, PRICES, random.Random(8))
    assert again[0].next_salt != ws[0].next_salt
    assert ws[0].next_commit == ws[1].prev_commit != 0
    # Totals: sum of balances, positions net, deficit of account 2, fund = account 0.
    assert ws[1].next_totals == SolvencyTotals(
        balance=1250, positions=(0, 0), deficit=586, fund=1000
    )
    # An empty tree still has one chunk; 8 accounts exactly fill 2 chunks.
    assert len(build_solvency_witnesses([], p, PRICES, rng)) == 1
    eight = [account(i, 1, (0, 0)) for i in range(8)]
    assert len(build_solvency_witnesses(eight, p, PRICES, rng)) == 2
    assert len(build_solvency_witnesses([*eight, account(8, 1, (0, 0))], p, PRICES, rng)) == 3


def test_builder_refuses_out_of_range_inputs() -> None:
    p = params()
    rng = random.Random(1)
    too_rich = [account(0, 1 << 95, (0, 0))]
    with pytest.raises(FieldError):
        build_solvency_witnesses(too_rich, p, PRICES, rng)[0].public_inputs()
    with pytest.raises(FieldError):
        build_solvency_witnesses(six_accounts(), p, (1 << 40, 7), rng)[0].public_inputs()
    with pytest.raises(vsc.SolvencyError):
        build_solvency_witnesses(six_accounts(), p, (100,), rng)
    with pytest.raises(vsc.SolvencyError):
        build_solvency_witnesses([account(i, 1, (0, 0)) for i in range(17)], p, PRICES, rng)


def test_check_solvency_accepts_honest_multi_chunk_tree() -> None:
    p = params()
    accounts = six_accounts()
    pubs = publics(build_solvency_witnesses(accounts, p, PRICES, random.Random(3)))
    result = check_honest(pubs, accounts)
    assert result.ok, result.reasons
    assert result.root == proving.tree_root(accounts, p.account_depth)
    assert result.totals == SolvencyTotals(balance=1250, positions=(0, 0), deficit=586, fund=1000)


def check(
    pubs: list[list[int]],
    accounts: list[AccountState | None],
    *,
    expected_root: int | None = None,
    prices: tuple[int, ...] | None = None,
) -> SolvencyResult:
    """check_solvency at the test profile against the collateral of ``accounts``."""
    p = params()
    return check_solvency(
        pubs,
        p.account_depth,
        p.chunk_height,
        collateral(accounts),
        p.markets,
        expected_root=expected_root,
        prices=prices,
    )


def check_honest(pubs: list[list[int]], accounts: list[AccountState | None]) -> SolvencyResult:
    """``check`` with the root of ``accounts`` and PRICES, as the ledger would pin them."""
    return check(
        pubs,
        accounts,
        expected_root=proving.tree_root(accounts, params().account_depth),
        prices=PRICES,
    )


def _reasons(
    pubs: list[list[int]],
    accounts: list[AccountState | None],
    *,
    expected_root: int | None = None,
    prices: tuple[int, ...] | None = None,
) -> str:
    result = check(pubs, accounts, expected_root=expected_root, prices=prices)
    assert not result.ok
    return " | ".join(result.reasons)


def test_check_solvency_rejects_broken_commit_chain() -> None:
    accounts = six_accounts()
    a = publics(build_solvency_witnesses(accounts, params(), PRICES, random.Random(1)))
    b = publics(build_solvency_witnesses(accounts, params(), PRICES, random.Random(2)))
    # Two honest runs with different salts: chunk 0 of one, chunk 1 of the other.
    assert "prevCommit differs" in _reasons([a[0], b[1]], accounts)


def test_check_solvency_rejects_missing_or_misordered_chunks() -> None:
    accounts = six_accounts()
    pubs = publics(build_solvency_witnesses(accounts, params(), PRICES, random.Random(1)))
    # Last chunk dropped: chunk 0 is not flagged last, its nextCommit is open.
    missing_last = _reasons(pubs[:1], accounts)
    assert "isLast" in missing_last and "nextCommit is not 0" in missing_last
    # First chunk dropped: indices and flags are wrong.
    missing_first = _reasons(pubs[1:], accounts)
    assert "chunkIndex 1" in missing_first and "isFirst" in missing_first
    assert "isFirst" in _reasons(pubs[::-1], accounts)
    assert check_solvency([], 4, 2, 0, 2).reasons == ("no chunks",)


def test_check_solvency_rejects_nonzero_position_sum() -> None:
    accounts = six_accounts()
    accounts[5] = account(5, 10, (0, 1))  # one lot long with no counterparty
    pubs = publics(build_solvency_witnesses(accounts, params(), PRICES, random.Random(1)))
    assert "market 1: open interest does not net to zero (1)" in _reasons(pubs, accounts)


def test_check_solvency_rejects_balance_sum_mismatch() -> None:
    accounts = six_accounts()
    pubs = publics(build_solvency_witnesses(accounts, params(), PRICES, random.Random(1)))
    p = params()
    result = check_solvency(pubs, p.account_depth, p.chunk_height, 1251, p.markets)
    assert not result.ok
    assert result.reasons == ("balance sum 1250 differs from total collateral 1251",)


def test_check_solvency_deficit_vs_fund_boundary() -> None:
    p = params()
    for fund, ok in ((586, True), (585, False)):
        accounts = six_accounts()
        accounts[0] = account(0, fund, (0, 0))
        pubs = publics(build_solvency_witnesses(accounts, p, PRICES, random.Random(1)))
        result = check_solvency(
            pubs, p.account_depth, p.chunk_height, collateral(accounts), p.markets
        )
        assert result.ok is ok, result.reasons
        if not ok:
            assert result.reasons == ("deficit 586 exceeds the insurance fund 585",)


def test_check_solvency_rejects_root_and_price_mismatch() -> None:
    accounts = six_accounts()
    pubs = publics(build_solvency_witnesses(accounts, params(), PRICES, random.Random(1)))
    other_root = proving.tree_root(accounts[:-1], params().account_depth)
    assert "rebuilt account root differs" in _reasons(pubs, accounts, expected_root=other_root)
    assert "differ from the oracle prices" in _reasons(pubs, accounts, prices=(101, 7))
    # A chunk that switched prices (a different price vector in chunk 1).
    other = publics(build_solvency_witnesses(accounts, params(), (101, 7), random.Random(1)))
    mixed = [pubs[0], [*other[1][:2], pubs[1][2], *other[1][3:]]]
    assert "uses other prices" in _reasons(mixed, accounts)
    # Malformed signals are reasons, not crashes.
    assert "expected 13 public signals" in _reasons([pubs[0][:-1], pubs[1]], accounts)
    assert "not a field element" in _reasons([pubs[0], [R, *pubs[1][1:]]], accounts)


def test_public_inputs_requires_opening_exactly_on_last_chunk() -> None:
    kw: dict[str, object] = {"sub_root": 1, "prev_commit": 0, "next_commit": 0, "prices": PRICES}
    with pytest.raises(vsc.SolvencyError):
        vsc.public_inputs(chunk_index=0, chunk_count=1, opening=None, **kw)  # type: ignore[arg-type]
    with pytest.raises(vsc.SolvencyError):
        vsc.public_inputs(
            chunk_index=0,
            chunk_count=2,
            opening=SolvencyTotals.zero(2),
            **kw,  # type: ignore[arg-type]
        )
    with pytest.raises(vsc.SolvencyError):
        vsc.public_inputs(chunk_index=2, chunk_count=2, opening=None, **kw)  # type: ignore[arg-type]


def fund_with_positions() -> list[AccountState | None]:
    """Issue 10 case 3: the insurance fund (account 0) sold 150 lots, raising its cash.

    At PRICES its cash is 15,560 but its equity only 15,560 - 150 * 100 = 560;
    account 1 (long 150, cash -23,711) has equity -8,711: a deficit of 8,711.
    Counting the fund's cash would call this solvent; its equity does not.
    """
    return [account(0, 15_560, (-150, 0)), account(1, -23_711, (150, 0))]


def test_fund_is_account_zero_equity_not_cash() -> None:
    accounts = fund_with_positions()
    p = params()
    (w,) = build_solvency_witnesses(accounts, p, PRICES, random.Random(2))
    result = check_honest([w.public_inputs()], accounts)
    assert result.totals == SolvencyTotals(
        balance=-8_151, positions=(0, 0), deficit=8_711, fund=560
    )
    assert not result.ok
    assert result.reasons == ("deficit 8711 exceeds the insurance fund 560",)
    # The fund's own shortfall is not a trader's deficit: a fund at equity -10 is -10.
    broke = [account(0, 1_490, (-15, 0)), account(1, -1_490, (15, 0))]
    (w,) = build_solvency_witnesses(broke, p, PRICES, random.Random(3))
    totals = vsc.ChunkPublic.from_signals(w.public_inputs(), p.markets).opened_totals
    assert (totals.deficit, totals.fund) == (0, -10)


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CircuitArtifacts:
    return circuits.build_statement("solvency_chunk", "test")


@pytest.fixture(scope="module")
def chain() -> tuple[list[AccountState | None], list[SolvencyChunkWitness]]:
    accounts = six_accounts()
    return accounts, build_solvency_witnesses(accounts, params(), PRICES, random.Random(5))


def _wire_value(artifacts: toolchain.CircuitArtifacts, inputs: dict[str, object], name: str) -> int:
    return honest_witness(artifacts, inputs).values[symbols(artifacts.sym).wire(name)]


@pytest.mark.slow
def test_proves_and_verifies_multi_chunk(
    artifacts: toolchain.CircuitArtifacts,
    chain: tuple[list[AccountState | None], list[SolvencyChunkWitness]],
) -> None:
    accounts, witnesses = chain
    vk = proving.verification_key(artifacts)
    signals: list[list[int]] = []
    proofs: list[groth16.Proof] = []
    for w in witnesses:
        started = time.perf_counter()
        proof, values = proving.prove(artifacts, w.to_circuit_inputs())
        print(
            f"solvency chunk {w.chunk_index}: witness + prove {time.perf_counter() - started:.2f}s"
        )
        assert values == w.public_inputs()
        assert groth16.verify(vk, proof, values)
        signals.append(values)
        proofs.append(proof)
    # The verifier's side: the real public signals chain, rebuild the root and are solvent.
    result = check_honest(signals, accounts)
    assert result.ok, result.reasons
    # A proof does not verify under another chunk's public inputs.
    assert not groth16.verify(vk, proofs[1], signals[0])


@pytest.mark.slow
def test_one_chunk_tree_first_and_last(artifacts: toolchain.CircuitArtifacts) -> None:
    p = params()
    accounts: list[AccountState | None] = [
        account(0, 50, (0, 0)),
        account(1, 20, (1, 0)),
        account(2, 130, (-1, 0)),  # equity 130 - 100 = 30: no deficit
    ]
    (w,) = build_solvency_witnesses(accounts, p, PRICES, random.Random(1))
    assert w.is_first and w.is_last
    inputs = w.to_circuit_inputs()
    honest = honest_witness(artifacts, inputs)
    assert unsatisfied(artifacts, honest) == []
    assert list(honest.values[1 : 1 + len(w.public_inputs())]) == w.public_inputs()
    result = check_solvency([w.public_inputs()], p.account_depth, p.chunk_height, 200, p.markets)
    assert result.ok, result.reasons
    assert result.root == proving.tree_root(accounts, p.account_depth)


@pytest.mark.slow
def test_deficit_boundaries(artifacts: toolchain.CircuitArtifacts) -> None:
    """Equity exactly 0 adds no deficit; equity -21 adds exactly 21; the circuit pins the value."""
    p = params()
    zero_equity = account(1, -300, (3, 0))  # -300 + 3 * 100 = 0
    in_debt = account(2, -321, (3, 0))  # -321 + 3 * 100 = -21
    hedge = account(3, 700, (-6, 0))  # 700 - 600 = 100
    accounts: list[AccountState | None] = [account(0, 500, (0, 0)), zero_equity, in_debt, hedge]
    (w,) = build_solvency_witnesses(accounts, p, PRICES, random.Random(1))
    inputs = w.to_circuit_inputs()
    assert _wire_value(artifacts, inputs, "accountDeficit[1]") == 0
    assert _wire_value(artifacts, inputs, "accountDeficit[2]") == 21
    assert _wire_value(artifacts, inputs, "openDeficit") == 21
    # Claiming one unit more or less deficit, or none, breaks the constraints.
    for claimed in (20, 22, 0):
        assert tamper_check(artifacts, inputs, "openDeficit", claimed)
    # The zero-equity account may not be booked as owing 1.
    assert tamper_check(artifacts, inputs, "accountDeficit[1]", 1)


def _product_constraints(artifacts: toolchain.CircuitArtifacts, left: str, right: str) -> set[int]:
    """Indices of the constraints (a * b = c) whose a and b read the wires of ``left`` and ``right``."""
    table = symbols(artifacts.sym)
    x, y = table.wire(left), table.wire(right)
    found = set()
    for i, c in enumerate(load_r1cs(artifacts.r1cs).constraints):
        a = {w for w, _ in c.a}
        b = {w for w, _ in c.b}
        if (x in a and y in b) or (y in a and x in b):
            found.add(i)
    assert found, f"no constraint multiplies {left} by {right}"
    return found


@pytest.mark.slow
def test_empty_slot_cannot_hold_value(
    tmp_path: Path,
    artifacts: toolchain.CircuitArtifacts,
    chain: tuple[list[AccountState | None], list[SolvencyChunkWitness]],
) -> None:
    _, witnesses = chain
    inputs = witnesses[0].to_circuit_inputs()
    assert inputs["isEmpty"] == [0, 0, 0, 1]
    # Changing the value alone would also break the running sums, so check that
    # the dedicated constraint isEmpty * value = 0 is among those that fail.
    for name, value in (("balance[3]", 5), ("balance[3]", R - 5), ("positions[3][0]", 1)):
        failed = set(tamper_check(artifacts, inputs, name, value))
        assert failed & _product_constraints(artifacts, "isEmpty[3]", name)
    # The honest generator refuses such inputs as well (constraint asserts fire).
    bad = dict(inputs)
    bad["balance"] = [*inputs["balance"][:3], 5]  # type: ignore[index]
    with pytest.raises(WitnessError):
        toolchain.witness(artifacts, bad, tmp_path / "bad.wtns")


FIRST_CHUNK_TAMPERS = [
    ("balance[1]", 501),
    ("balance[0]", 999),
    ("positions[1][0]", 4),
    ("positions[2][1]", 3),
    ("isEmpty[1]", 1),
    ("isEmpty[3]", 0),
    ("blinding[2]", 7),
    ("nonce[1]", 5),
    ("pubX[0]", 1),
    ("nextSalt", 12345),
    ("chunkIndex", 1),
    ("prevBalance", 1),
    ("prevFund", 1),
    ("openBalance", 1),
    ("nextCommit", 1),
    ("isLast", 1),
]
LAST_CHUNK_TAMPERS = [
    ("prevBalance", 1251),
    ("prevPositions[0]", 1),
    ("prevDeficit", 585),
    ("prevFund", 1001),
    ("prevSalt", 12345),
    ("balance[1]", 11),
    ("positions[0][1]", 1),
    ("isEmpty[0]", 1),
    ("isEmpty[2]", 0),
    ("blinding[0]", 7),
    ("openBalance", 1251),
    ("openPositions[1]", 1),
    ("openFund", 2000),
    ("isFirst", 1),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chunk", "name", "value"),
    [(0, *t) for t in FIRST_CHUNK_TAMPERS] + [(1, *t) for t in LAST_CHUNK_TAMPERS],
)
def test_tampered_chunk_fails(
    artifacts: toolchain.CircuitArtifacts,
    chain: tuple[list[AccountState | None], list[SolvencyChunkWitness]],
    chunk: int,
    name: str,
    value: int,
) -> None:
    """Chunk 0 is the first of the chain, chunk 1 the last."""
    _, witnesses = chain
    assert tamper_check(artifacts, witnesses[chunk].to_circuit_inputs(), name, value)


@pytest.mark.slow
def test_honest_chunks_satisfy_r1cs(
    artifacts: toolchain.CircuitArtifacts,
    chain: tuple[list[AccountState | None], list[SolvencyChunkWitness]],
) -> None:
    """Baseline for the tamper tests: the untouched witnesses satisfy every constraint."""
    _, witnesses = chain
    for w in witnesses:
        assert unsatisfied(artifacts, honest_witness(artifacts, w.to_circuit_inputs())) == []


@pytest.mark.slow
def test_fund_equity_in_circuit(artifacts: toolchain.CircuitArtifacts) -> None:
    """The circuit opens the fund as account 0's equity (560), not its cash (15,560)."""
    p = params()
    (w,) = build_solvency_witnesses(fund_with_positions(), p, PRICES, random.Random(4))
    inputs = w.to_circuit_inputs()
    assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []
    assert _wire_value(artifacts, inputs, "openFund") == 560
    assert _wire_value(artifacts, inputs, "openDeficit") == 8_711
    # The old statement's answers no longer satisfy it.
    assert tamper_check(artifacts, inputs, "openFund", 15_560)
