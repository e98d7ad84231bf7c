"""SOLVENCY WALK: solvency chunks on the recycling-order account state.

Builder, encoder and ``check_solvency_walk`` (fast), then the circuit at the
``test`` profile (K = 4 accounts per chunk = 1 quaternary level, 2 markets,
2 account levels), compiled only (no key setup): honest chunks satisfy the
R1CS with the verifier's public inputs, funding is settled inside the sums,
empty slots hold nothing, and a witness with ONE signal changed violates the
R1CS.
"""

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from prover import toolchain
from prover.account_book import AccountBook
from prover.errors import WitnessError
from prover.statements.solvency_walk import PUBLIC, SolvencyWalkWitness, build_solvency_walk
from prover.toolchain.compile import source_files
from tests.circuits.conftest import (
    compiled_statement,
    honest_witness,
    tamper_check,
    unsatisfied,
    wire_value,
)
from tests.circuits.proving import declared_public_inputs
from tests.circuits.slot_market import PARAMS
from verifier.field import R
from verifier.params import FUNDING_BITS
from verifier.quadtree import QuadTree, quad_root_from_subroots
from verifier.statements import solvency_base as solvency_totals
from verifier.statements import solvency_walk as statement
from verifier.statements.solvency_walk import SolvencyError, SolvencyTotals, check_solvency_walk

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "solvency_walk.circom"
PRICES = (100, 7)
FUNDING = (4, -2)
# (index, balance, positions, checkpoints). Positions net to zero, and the
# checkpoints are ones an honest history produces (per market, sum of
# position * checkpoint = 0), so funding conserves money: at FUNDING account 0
# pays 2, account 1 pays 3*2 + (-2)(-1) = 8, account 2 receives 4*2 + 2 = 10.
# Settled: 998, 492, -290, 40, 10 (sum 1250 = the raw sum). At PRICES the
# fund (account 0) has equity 998 + 100 = 1098 (1100 unsettled, 1000 cash);
# account 2 has equity -290 - 400 + 14 = -676, a deficit of 676 (686 unsettled).
ACCOUNTS = (
    (0, 1_000, (1, 0), (2, 0)),
    (1, 500, (3, -2), (2, -1)),
    (2, -300, (-4, 2), (2, -1)),
    (4, 40, (0, 0), (9, 9)),
    (5, 10, (0, 0), (0, 0)),
)
COLLATERAL = 1_250
HONEST_TOTALS = SolvencyTotals(balance=1_250, positions=(0, 0), deficit=676, fund=1_098)


def book(fund_balance: int = 1_000) -> AccountBook:
    b = AccountBook(PARAMS)
    for index, balance, positions, checkpoints in ACCOUNTS:
        b.open(
            index,
            pub=(1_000 + index, 2_000 + index),  # solvency does not check keys
            balance=fund_balance if index == 0 else balance,
            funding=checkpoints,
            blinding=(index + 1) * 0x1234567890ABCDEF,
        )
        b.put(index, replace(b.record(index), positions=positions, nonce=index))
    return b


def walk(b: AccountBook, seed: int = 3) -> list[SolvencyWalkWitness]:
    return build_solvency_walk(b, PRICES, FUNDING, random.Random(seed))


def publics(witnesses: list[SolvencyWalkWitness]) -> list[list[int]]:
    return [w.public_inputs() for w in witnesses]


def check(pubs: list[list[int]], b: AccountBook, **kw: object) -> statement.SolvencyResult:
    args: dict[str, object] = {
        "expected_root": b.root,
        "prices": PRICES,
        "funding": FUNDING,
        **kw,
    }
    collateral = args.pop("collateral", COLLATERAL)
    assert isinstance(collateral, int)
    return check_solvency_walk(
        pubs,
        PARAMS.account_levels,
        PARAMS.chunk_levels,
        collateral,
        PARAMS.markets,
        **args,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- fast: layout, builder, check


def test_public_names_match_circuit_declaration() -> None:
    assert declared_public_inputs(CIRCUIT, "SolvencyWalk", "// ---- private") == PUBLIC
    assert list(statement.PUBLIC_NAMES) == PUBLIC
    assert PARAMS.chunk_levels == 1  # 4 accounts per chunk at the test profile


def test_total_widths_match_the_circuit() -> None:
    """The verifier's running-total widths are the circuit's SOLVENCY_* functions
    (wherever among solvency_walk.circom's includes they are defined)."""
    sources = source_files(CIRCUIT, include_dirs=[CIRCUIT.parent, CIRCUIT.parent / "lib"])
    text = "\n".join(f.read_text() for f in sources)
    found = {
        name: int(v)
        for name, v in re.findall(r"function (SOLVENCY_\w+)\(\) \{ return (\d+); \}", text)
    }
    assert found == {
        "SOLVENCY_EQUITY_BITS": solvency_totals.EQUITY_BITS,
        "SOLVENCY_SUM_BALANCE_BITS": solvency_totals.SUM_BALANCE_BITS,
        "SOLVENCY_SUM_POSITION_BITS": solvency_totals.SUM_POSITION_BITS,
        "SOLVENCY_DEFICIT_BITS": solvency_totals.DEFICIT_BITS,
    }


def test_builder_settles_funding_in_the_totals() -> None:
    ws = walk(book())
    assert [w.chunk_index for w in ws] == [0, 1]
    assert all(len(w.accounts) == 4 for w in ws)
    assert ws[0].accounts[3] is None and ws[1].accounts[2:] == (None, None)
    assert ws[1].next_totals == HONEST_TOTALS
    # The leaves are only read: the book's balances are the unsettled ones.
    assert sum(r.balance for r in book().records.values()) == COLLATERAL
    # Salt of the link between chunks is shared, fresh and nonzero.
    assert ws[0].next_salt == ws[1].prev_salt != 0
    assert walk(book(), seed=4)[0].next_salt != ws[0].next_salt
    # Each chunk root is the account tree's node above its four accounts.
    assert [w.sub_root for w in ws] == [book().tree.node(1, c) for c in (0, 1)]
    # An empty book still has one chunk; bad vectors are refused.
    assert len(build_solvency_walk(AccountBook(PARAMS), PRICES, FUNDING, random.Random(1))) == 1
    with pytest.raises(SolvencyError):
        build_solvency_walk(book(), PRICES, (4,), random.Random(1))


def test_check_solvency_walk_accepts_the_honest_walk() -> None:
    b = book()
    result = check(publics(walk(b)), b)
    assert result.ok, result.reasons
    assert result.root == b.root and result.totals == HONEST_TOTALS


def test_check_solvency_walk_rejects_inconsistent_walks() -> None:
    b = book()
    pubs = publics(walk(b))
    at = 6 + PARAMS.markets  # funding follows the six scalars and the prices
    other = [list(p) for p in pubs]
    other[1][at] = 5
    assert any("other funding indices" in r for r in check(other, b).reasons)
    assert any("differ from the ledger" in r for r in check(pubs, b, funding=(4, -1)).reasons)
    assert any("rebuilt account root" in r for r in check(pubs, b, expected_root=1).reasons)
    assert any("total collateral" in r for r in check(pubs, b, collateral=1_251).reasons)
    assert any("isLast" in r for r in check(pubs[:1], b).reasons)
    assert any("expected" in r for r in check([pubs[0][:-1], pubs[1]], b).reasons)
    # Without an expected root, the root rebuilt from the quaternary subroots is returned.
    assert check(pubs, b, expected_root=None).root == b.root


def test_deficit_against_the_fund_after_funding() -> None:
    """Deficit 676: a fund of equity exactly 676 is solvent, 675 is not (both after funding)."""
    for fund_balance, solvent in ((578, True), (577, False)):
        b = book(fund_balance)
        result = check(publics(walk(b)), b, collateral=COLLATERAL - 1_000 + fund_balance)
        assert result.totals is not None and result.totals.fund == fund_balance - 2 + 100
        assert result.ok is solvent, result.reasons
        if not solvent:
            assert result.reasons == ("deficit 676 exceeds the insurance fund 675",)


def book_of(accounts: tuple[tuple[int, int, tuple[int, int]], ...]) -> AccountBook:
    """(index, balance, positions) opened at the current funding indices (nothing owed)."""
    b = AccountBook(PARAMS)
    for index, balance, positions in accounts:
        b.open(
            index,
            pub=(1_000 + index, 2_000 + index),
            balance=balance,
            funding=FUNDING,
            blinding=(index + 7) * 0x1234567890ABCDEF,
        )
        b.put(index, replace(b.record(index), positions=positions))
    return b


# Trust case 3: the insurance fund (account 0) sold 150 lots, raising its cash.
# At PRICES its cash is 15,560 but its equity only 15,560 - 150 * 100 = 560;
# account 1 (long 150, cash -23,711) has equity -8,711: a deficit of 8,711.
# Counting the fund's cash would call this solvent; its equity does not.
FUND_WITH_POSITIONS = ((0, 15_560, (-150, 0)), (1, -23_711, (150, 0)))


def test_fund_is_account_zero_equity_not_cash() -> None:
    b = book_of(FUND_WITH_POSITIONS)
    result = check(publics(walk(b)), b, collateral=15_560 - 23_711)
    assert result.totals == SolvencyTotals(
        balance=-8_151, positions=(0, 0), deficit=8_711, fund=560
    )
    assert not result.ok
    assert result.reasons == ("deficit 8711 exceeds the insurance fund 560",)
    # The fund's own shortfall is not a trader's deficit: a fund at equity -10 is -10.
    broke = book_of(((0, 1_490, (-15, 0)), (1, -1_490, (15, 0))))
    result = check(publics(walk(broke)), broke, collateral=0)
    assert result.totals is not None
    assert (result.totals.deficit, result.totals.fund) == (0, -10)


def test_check_solvency_walk_rejects_broken_chains_and_sums() -> None:
    b = book()
    pubs = publics(walk(b))

    def reasons(chunks: list[list[int]], **kw: object) -> str:
        result = check(chunks, b, **kw)
        assert not result.ok
        return " | ".join(result.reasons)

    # Two honest walks with different salts: chunk 0 of one, chunk 1 of the other.
    assert "prevCommit differs" in reasons([pubs[0], publics(walk(b, seed=9))[1]])
    missing_first = reasons(pubs[1:])
    assert "chunkIndex 1" in missing_first and "isFirst" in missing_first
    assert "isFirst" in reasons(pubs[::-1])
    assert "differ from the oracle prices" in reasons(pubs, prices=(101, 7))
    # A chunk proved at other prices (its prevCommit patched to chain).
    other = publics(build_solvency_walk(b, (101, 7), FUNDING, random.Random(3)))
    assert "uses other prices" in reasons([pubs[0], [*other[1][:2], pubs[1][2], *other[1][3:]]])
    assert "not a field element" in reasons([pubs[0], [R, *pubs[1][1:]]])
    # One lot long with no counterparty (account 5 is settled at FUNDING already).
    lone = book()
    lone.put(5, replace(lone.record(5), positions=(0, 1), checkpoints=FUNDING))
    result = check(publics(walk(lone)), lone, expected_root=lone.root)
    assert "market 1: open interest does not net to zero (1)" in result.reasons


def test_encoder_places_the_opening_on_the_last_chunk_only() -> None:
    kw: dict[str, object] = {
        "sub_root": 1,
        "prev_commit": 0,
        "next_commit": 0,
        "prices": PRICES,
        "funding": FUNDING,
    }
    for index, count, opening in (
        (0, 1, None),  # the last chunk must open the totals
        (0, 2, SolvencyTotals.zero(2)),  # a chunk before the last may not
        (2, 2, None),  # no chunk 2 of 2
    ):
        with pytest.raises(SolvencyError):
            statement.public_inputs(chunk_index=index, chunk_count=count, opening=opening, **kw)  # type: ignore[arg-type]


def test_encoder_refuses_bad_funding() -> None:
    w = walk(book())[0]
    good = {
        "chunk_index": 0,
        "chunk_count": 2,
        "sub_root": w.sub_root,
        "prev_commit": 0,
        "next_commit": 1,
        "prices": PRICES,
        "funding": FUNDING,
        "opening": None,
    }
    values = statement.public_inputs(**good)  # type: ignore[arg-type]
    assert values[8:10] == [4, R - 2]
    with pytest.raises(SolvencyError, match="one index per market"):
        statement.public_inputs(**{**good, "funding": (4,)})  # type: ignore[arg-type]
    with pytest.raises(SolvencyError, match="funding index"):
        statement.public_inputs(**{**good, "funding": (1 << (FUNDING_BITS - 1), 0)})  # type: ignore[arg-type]


def test_quad_root_from_subroots_matches_the_tree() -> None:
    b = book()
    subroots = [b.tree.node(1, c) for c in range(2)]
    assert quad_root_from_subroots(subroots, 1, 2) == b.root
    assert quad_root_from_subroots([b.root], 2, 2) == b.root
    leaves = list(range(1, 20))
    big = QuadTree.from_leaves(leaves, 3)
    assert quad_root_from_subroots([big.node(1, c) for c in range(5)], 1, 3) == big.root
    assert quad_root_from_subroots([big.node(2, 0), big.node(2, 1)], 2, 3) == big.root


# ---------------------------------------------------------------- circuit (compile only)


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compiled_statement("solvency_walk", "test")


@pytest.fixture(scope="module")
def chunks() -> list[dict[str, object]]:
    return [w.to_circuit_inputs() for w in walk(book())]


def rejected(artifacts: toolchain.CompiledArtifacts, inputs: dict[str, object]) -> bool:
    try:
        witness = honest_witness(artifacts, inputs)
    except WitnessError:
        return True
    return unsatisfied(artifacts, witness) != []


@pytest.mark.slow
def test_honest_chunks_satisfy_r1cs_with_the_verifiers_publics(
    artifacts: toolchain.CompiledArtifacts, chunks: list[dict[str, object]]
) -> None:
    for w, inputs in zip(walk(book()), chunks, strict=True):
        witness = honest_witness(artifacts, inputs)
        assert unsatisfied(artifacts, witness) == []
        assert list(witness.values[1 : 1 + artifacts.n_public]) == w.public_inputs()


@pytest.mark.slow
def test_funding_is_settled_inside_the_sums(
    artifacts: toolchain.CompiledArtifacts, chunks: list[dict[str, object]]
) -> None:
    """The last chunk opens the settled totals; the unsettled ones have no witness."""
    last = chunks[1]
    assert (last["openDeficit"], last["openFund"]) == (676, 1_098)
    assert rejected(artifacts, {**last, "openDeficit": 686})
    first = chunks[0]
    # The first chunk's outgoing commitment binds the settled fund and balance sum:
    # the same chunk at the old checkpoints (no funding) gives another commitment.
    assert rejected(artifacts, {**first, "funding": [2, R - 1]})
    assert rejected(artifacts, {**first, "funding": [0, 0]})


@pytest.mark.slow
def test_empty_slot_cannot_hold_value(
    artifacts: toolchain.CompiledArtifacts, chunks: list[dict[str, object]]
) -> None:
    first = chunks[0]
    assert first["isEmpty"] == [0, 0, 0, 1]
    # Marking account 1 empty hides its leaf, but its balance must then be 0.
    assert tamper_check(artifacts, first, "isEmpty[1]", 1)
    # The empty slot 3 cannot carry a balance or a position into the sums.
    assert tamper_check(artifacts, first, "balance[3]", 5)
    assert tamper_check(artifacts, first, "positions[3][0]", 1)


@pytest.mark.slow
def test_deficit_boundaries(artifacts: toolchain.CompiledArtifacts) -> None:
    """Equity exactly 0 adds no deficit; equity -21 adds exactly 21; the circuit pins both."""
    b = book_of(
        (
            (0, 500, (0, 0)),
            (1, -300, (3, 0)),  # -300 + 3 * 100 = 0
            (2, -321, (3, 0)),  # -321 + 3 * 100 = -21
            (3, 700, (-6, 0)),  # 700 - 600 = 100
        )
    )
    (w,) = walk(b)
    inputs = w.to_circuit_inputs()
    assert wire_value(artifacts, inputs, "accountDeficit[1]") == 0
    assert wire_value(artifacts, inputs, "accountDeficit[2]") == 21
    assert wire_value(artifacts, inputs, "openDeficit") == 21
    # Claiming one unit more or less deficit, or none, breaks the constraints.
    for claimed in (20, 22, 0):
        assert tamper_check(artifacts, inputs, "openDeficit", claimed)
    # The zero-equity account may not be booked as owing 1.
    assert tamper_check(artifacts, inputs, "accountDeficit[1]", 1)


@pytest.mark.slow
def test_fund_equity_in_circuit(artifacts: toolchain.CompiledArtifacts) -> None:
    """The circuit opens the fund as account 0's equity (560), not its cash (15,560)."""
    (w,) = walk(book_of(FUND_WITH_POSITIONS), seed=4)
    inputs = w.to_circuit_inputs()
    assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []
    assert wire_value(artifacts, inputs, "openFund") == 560
    assert wire_value(artifacts, inputs, "openDeficit") == 8_711
    # The cash-counting answer does not satisfy it.
    assert tamper_check(artifacts, inputs, "openFund", 15_560)


CHUNK0_TAMPERS = [
    ("balance[1]", 501),
    ("positions[1][0]", 4),
    ("positions[2][1]", 3),
    ("checkpoints[1][0]", 3),
    ("checkpoints[2][1]", 0),
    ("orderRoot[2]", 1),
    ("nonce[1]", 7),
    ("blinding[0]", 1),
    ("pubX[1]", 5),
    ("nextSalt", 1),
    ("funding[0]", 5),
    ("prices[1]", 8),
    ("subRoot", 1),
    ("nextCommit", 1),
    ("chunkIndex", 1),
    ("isFirst", 0),
]
CHUNK1_TAMPERS = [
    ("prevSalt", 1),
    ("prevBalance", 1),
    ("prevDeficit", 0),
    ("prevFund", 1),
    ("balance[0]", 41),
    ("openBalance", 1_249),
    ("openFund", 1_100),
    ("isLast", 0),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chunk", "name", "value"),
    [(0, *t) for t in CHUNK0_TAMPERS] + [(1, *t) for t in CHUNK1_TAMPERS],
)
def test_tampered_chunk_fails(
    artifacts: toolchain.CompiledArtifacts,
    chunks: list[dict[str, object]],
    chunk: int,
    name: str,
    value: int,
) -> None:
    assert tamper_check(artifacts, chunks[chunk], name, value)


@pytest.mark.slow
def test_derived_wires_are_pinned(
    artifacts: toolchain.CompiledArtifacts, chunks: list[dict[str, object]]
) -> None:
    """The per-account leaf, settled payment and deficit cannot be chosen freely."""
    for name, value in (
        ("leaf[1]", 0),
        ("account[2].pay.terms[0]", 0),
        ("accountDeficit[2]", 0),
        ("countedDeficit0", 1),
    ):
        assert tamper_check(artifacts, chunks[0], name, value), name
