"""ADL RANKING COMPLETENESS: the rank-above count per chunk, boundaries, tampering, check_walk.

Compile only (no key setup): the circuit's R1CS is evaluated on witnesses
from its own generator. Test profile: 16 accounts in 2 quaternary levels,
chunks of 4, 2 markets; marks (100, 50), funding moved by 3 per lot in
market 0 since every checkpoint (0, 0), so every key is taken AFTER funding.

The world (market 0; account 1 is the bankrupt long, so the walk counts shorts):
    0 fund   short 5, balance 1,000   settled 1,015, equity 515: key 9,709 — above every
                                      threshold below, but never counted
    1        long 20, balance 0       the bankrupt (key 10,310; not on the counted side)
    2        short 4, balance 1,000   settled 1,012, equity 612: key 1 + 4,000,000 // 612 = 6,536
    3        short 6, balance 100,000 key 1 + 6,000,000 // 99,418 = 61
    4        long 3,  balance 10      key 9,967, same side as the bankrupt: not counted
    6        short 2, balance 80      equity -14 after funding: key 0
    7        short 4, balance 1,000   key 6,536: ties with account 2
(slot 5 is empty). At the threshold (6,536, 7) exactly account 2 ranks above
(the tie is broken by the lower index); at (6,536, 2) nobody does; at the fund's
"everyone" threshold (0, 16) accounts 2, 3, 6 and 7 do.
"""

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain import adl
from exchange.domain.matching import AccountEntry
from prover import toolchain
from prover.statements import adl_walk as stmt
from prover.statements.adl_walk import AdlWalkWitness, build_adl_walk
from tests.circuits import proving
from tests.circuits.conftest import (
    compiled_statement,
    honest_witness,
    public_signals,
    tamper_check,
    unsatisfied,
    wire_value,
)
from tests.circuits.slot_market import PARAMS, SlotMarket
from verifier.field import R
from verifier.statements import adl_walk as vw
from verifier.statements.adl_walk import AdlWalkChunkPublic, AdlWalkError, check_walk
from verifier.statements.deleverage import rank_key

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "adl_walk.circom"
PRICES = (100, 50)
FUNDING = (3, 0)
EVERYONE = (0, 16)


def world() -> SlotMarket:
    m = SlotMarket()
    m.open(0, 1_000, positions=(-5, 0))
    m.open(1, 0, positions=(20, 0))
    m.open(2, 1_000, positions=(-4, 0))
    m.open(3, 100_000, positions=(-6, 0))
    m.open(4, 10, positions=(3, 0))
    m.open(6, 80, positions=(-2, 0))
    m.open(7, 1_000, positions=(-4, 0))
    return m


def walk(
    m: SlotMarket, threshold: tuple[int, int] = (6_536, 7), side: int = -1, market: int = 0
) -> list[AdlWalkWitness]:
    return build_adl_walk(
        m.book, market=market, side=side, threshold=threshold, prices=PRICES, funding=FUNDING
    )


def check(chunks: list[AdlWalkWitness], m: SlotMarket, **kw: object) -> list[str]:
    args: dict[str, object] = {
        "market": 0,
        "side": -1,
        "threshold": (6_536, 7),
        "start_root": m.book.root,
        "prices": PRICES,
        "funding": FUNDING,
        "account_levels": PARAMS.account_levels,
        "chunk_levels": PARAMS.chunk_levels,
        "traded_before_last": 1,
    }
    args.update(kw)
    return check_walk([c.public for c in chunks], **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- fast: builder and verifier


def test_public_matches_declaration_order() -> None:
    declared = proving.declared_public_inputs(CIRCUIT, "AdlWalkChunk", "// Private")
    assert declared == stmt.PUBLIC == list(vw.PUBLIC_NAMES)


def test_keys_are_taken_after_funding() -> None:
    m = world()
    settled = 1_000 + 4 * 3
    assert rank_key(settled, (-4, 0), PRICES) == 6_536 == 1 + 4_000_000 // 612
    assert rank_key(1_000, (-4, 0), PRICES) != 6_536  # before funding the key differs
    (c0, c1) = walk(m)
    assert [d[0] for d in c0.divisions] == [9_709, 10_310, 6_536, 61]
    assert [d[0] for d in c1.divisions] == [9_967, 0, 0, 6_536]  # 5 empty, 6 equity -14


def test_counted_sets_at_the_boundaries() -> None:
    m = world()
    assert [c.counted for c in walk(m)] == [(2,), ()]  # the tie 2 < 7 counts, 7 itself not
    assert [c.counted for c in walk(m, threshold=(6_536, 2))] == [(), ()]
    assert [c.counted for c in walk(m, threshold=(6_535, 2))] == [(2,), (7,)]
    assert [c.counted for c in walk(m, threshold=EVERYONE)] == [(2, 3), (6, 7)]
    # The longs' side (the walk of a bankrupt SHORT) counts 1 and 4: the side decides.
    assert [c.counted for c in walk(m, threshold=EVERYONE, side=1)] == [(1,), (4,)]


def test_check_walk_accepts_the_honest_walk_and_names_what_does_not_match() -> None:
    m = world()
    chunks = walk(m)
    assert check(chunks, m) == []
    assert check(walk(m, threshold=EVERYONE), m, threshold=EVERYONE, traded_before_last=4) == []
    skipped = check(chunks, m, traded_before_last=0)
    assert skipped == [
        "ranking of market 0: 1 account(s) rank above the last counterparty (account 7), "
        "0 were deleveraged before it (an outranking account was skipped)"
    ]
    assert "(the fund)" in " ".join(
        check(walk(m, threshold=EVERYONE), m, threshold=EVERYONE, traded_before_last=1)
    )
    assert "threshold (6536, 7), the last trade implies (6536, 2)" in " ".join(
        check(chunks, m, threshold=(6_536, 2))
    )
    assert "walks market 0 side -1" in " ".join(check(chunks, m, side=1))
    assert "do not rebuild the account root" in " ".join(check(chunks[:1], m))
    assert "chunk 0 has chunkIndex 1" in " ".join(check(chunks[::-1], m))
    assert "prices differ" in " ".join(check(chunks, m, prices=(100, 51)))
    assert "funding indices differ" in " ".join(check(chunks, m, funding=(2, 0)))
    assert check_walk([], **_kw(m)) == ["ranking of market 0: no ranking chunks"]  # type: ignore[arg-type]


def _kw(m: SlotMarket) -> dict[str, object]:
    return {
        "market": 0,
        "side": -1,
        "threshold": (6_536, 7),
        "start_root": m.book.root,
        "prices": PRICES,
        "funding": FUNDING,
        "account_levels": PARAMS.account_levels,
        "chunk_levels": PARAMS.chunk_levels,
        "traded_before_last": 1,
    }


def test_encoding_round_trips_and_refuses_bad_shapes() -> None:
    c = walk(world())[0].public
    assert AdlWalkChunkPublic.from_signals(c.signals(), 2) == c
    assert c.signals()[3] == R - 1  # side -1, field-encoded
    with pytest.raises(AdlWalkError, match="side 0"):
        replace(c, side=0).signals()
    with pytest.raises(AdlWalkError, match="market 2"):
        replace(c, market=2).signals()
    with pytest.raises(AdlWalkError, match="threshold index"):
        replace(c, threshold_index=1 << 40).signals()
    with pytest.raises(AdlWalkError, match="expected 11 public signals"):
        AdlWalkChunkPublic.from_signals(c.signals()[:-1], 2)
    assert vw.walk_threshold(0, 99, PARAMS.account_levels) == EVERYONE
    assert vw.walk_threshold(3, 99, PARAMS.account_levels) == (99, 3)


@settings(max_examples=40, deadline=None)
@given(
    accounts=st.lists(
        st.tuples(st.integers(-5_000, 100_000), st.integers(-30, 30), st.integers(-10, 10)),
        min_size=2,
        max_size=14,
    ),
    bankrupt_long=st.booleans(),
    cut=st.integers(0, 13),
)
def test_walk_counts_exactly_the_domain_rankings_prefix(
    accounts: list[tuple[int, int, int]], bankrupt_long: bool, cut: int
) -> None:
    # The operator ranks with exchange.domain.adl on settled balances; the walk (the
    # circuit's rule) must count exactly the accounts the ranking puts before the
    # counterparty at `cut` — the fund never, whatever its key.
    m = SlotMarket()
    m.open(0, 500, positions=(-3 if bankrupt_long else 3, 0))
    m.open(1, 0, positions=(40 if bankrupt_long else -40, 0))
    for i, (balance, s0, s1) in enumerate(accounts, 2):
        m.open(i, balance, positions=(s0, s1))
    settled = {
        i: AccountEntry(r.balance - r.funding_payment(FUNDING), r.positions)
        for i, r in m.book.records.items()
    }
    ranking = adl.ranking(settled, 1, 0, PRICES)
    traders = [i for i in ranking if i != 0]
    if not traders:
        return
    last = traders[min(cut, len(traders) - 1)]
    key = rank_key(settled[last].balance, settled[last].positions, PRICES)
    side = -1 if bankrupt_long else 1
    counted = [i for c in walk(m, threshold=(key, last), side=side) for i in c.counted]
    assert counted == sorted(traders[: traders.index(last)])
    everyone = [i for c in walk(m, threshold=EVERYONE, side=side) for i in c.counted]
    assert everyone == sorted(traders)


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compiled_statement("adl_walk")


@pytest.fixture(scope="module")
def chunk0() -> dict[str, object]:
    return walk(world())[0].to_circuit_inputs()


@pytest.fixture(scope="module")
def chunk1() -> dict[str, object]:
    return walk(world())[1].to_circuit_inputs()


@pytest.mark.slow
@pytest.mark.parametrize("threshold", [(6_536, 7), (6_536, 2), (6_535, 2), EVERYONE])
def test_valid_chunks_satisfy_the_r1cs_and_carry_the_encoders_inputs(
    artifacts: toolchain.CompiledArtifacts, threshold: tuple[int, int]
) -> None:
    for c in walk(world(), threshold=threshold):
        inputs = c.to_circuit_inputs()
        assert unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []
        # The public signals a proof would carry are exactly the verifier's encoding.
        assert public_signals(artifacts, inputs) == c.public_inputs()


@pytest.mark.slow
def test_boundaries_in_the_circuit(
    artifacts: toolchain.CompiledArtifacts,
    chunk0: dict[str, object],
    chunk1: dict[str, object],
) -> None:
    # Account 2 (key 6,536 == threshold, index 2 < 7) is counted: the comparison is
    # (0 * 2^40) + (7 - 2) - 1 = 4 >= 0; account 7 (index == threshold) gives -1.
    assert wire_value(artifacts, chunk0, "above[2].abs") == 4
    assert wire_value(artifacts, chunk0, "above[2].neg") == 0
    assert wire_value(artifacts, chunk1, "above[3].abs") == 1
    assert wire_value(artifacts, chunk1, "above[3].neg") == 1
    assert wire_value(artifacts, chunk0, "count") == 1
    assert wire_value(artifacts, chunk1, "count") == 0
    # The fund (key 9,709, short) ranks above every threshold but is never counted:
    everyone = walk(world(), threshold=EVERYONE)[0].to_circuit_inputs()
    assert wire_value(artifacts, everyone, "ranked[0]") == 1
    assert wire_value(artifacts, everyone, "count") == 2  # 2 and 3, not the fund
    # Counting the fund, or not counting account 2, is refused.
    assert tamper_check(artifacts, everyone, "count", 3)
    assert tamper_check(artifacts, chunk0, "count", 0)
    assert tamper_check(artifacts, chunk1, "count", 1)  # the tie at the threshold index


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("keyQuotient[2]", 6_534),  # a lower key for account 2 (its division no longer holds)
        ("keyRemainder[2]", 612),  # remainder not below the equity
        ("positions[2][0]", 4),  # account 2 moved to the other side: the leaf no longer opens
        ("balance[2]", 10**9),
        ("checkpoints[2][0]", 3),  # claims it already paid its funding
        ("isEmpty[2]", 1),  # an open account passed off as an empty slot
        ("isEmpty[1]", 2),
        ("side", 1),
        ("market", 1),
        ("thresholdKey", 6_535),
        ("thresholdIndex", 2),
        ("chunkIndex", 1),
        ("funding[0]", 2),
        ("prices[0]", 101),
        ("subRoot", 1),
        ("count", 2),
        ("prices[1]", R - 1),
    ],
)
def test_tampered_chunk_fails(
    artifacts: toolchain.CompiledArtifacts, chunk0: dict[str, object], name: str, value: int
) -> None:
    assert tamper_check(artifacts, chunk0, name, value % R)


@pytest.mark.slow
def test_empty_slot_cannot_hold_a_position(
    artifacts: toolchain.CompiledArtifacts, chunk1: dict[str, object]
) -> None:
    assert chunk1["isEmpty"] == [0, 1, 0, 0]
    assert tamper_check(artifacts, chunk1, "positions[1][0]", R - 1)
    assert tamper_check(artifacts, chunk1, "balance[1]", 1)
    assert tamper_check(artifacts, chunk1, "isEmpty[3]", 1)  # hide account 7
