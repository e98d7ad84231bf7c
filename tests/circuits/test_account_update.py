"""ACCOUNT UPDATE: open / deposit / withdraw on the recycling-order account state.

Builder and public inputs (fast), then the circuit at the ``test`` profile,
compiled only (no key setup): honest witnesses satisfy the R1CS and carry the
verifier's public inputs; boundaries hold exactly (the whole free margin
after funding, zero deposit, balance and amount widths, the open rules); a
witness with ONE signal changed violates the R1CS. Cases the honest builder
refuses are fed with ``check_rules=False`` or by patching the input JSON
(with the honest root of the patched leaf), so the circuit itself must
reject them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from prover import toolchain
from prover.account_book import AccountBook, BookOutcome
from prover.circuits import Tags
from prover.errors import WitnessError
from prover.statements.account_update import PUBLIC, AccountOpError, OpKind, build_account_update
from tests.circuits.conftest import compiled_statement, honest_witness, tamper_check, unsatisfied
from tests.circuits.proving import declared_public_inputs
from tests.circuits.slot_market import PARAMS, TAGS, key
from verifier.account_state import checkpoints_hash, empty_order_root, positions_hash
from verifier.babyjub import Point
from verifier.encoding import withdraw_message
from verifier.field import R
from verifier.params import AMOUNT_BITS, BALANCE_BITS, FUNDING_BITS
from verifier.poseidon import poseidon
from verifier.quadtree import quad_root
from verifier.statements import account_update as statement

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "account_update.circom"
PRICES = (1_000, 2_000)
IMF = (500, 1_000)
CHECKPOINTS = (3, -4)
FUNDING = (5, -2)
POSITIONS = (10, -5)
# Account 1 after trading, last settled at CHECKPOINTS. At FUNDING it owes
# 10 * (5 - 3) + (-5) * (-2 + 4) = 10, so its balance settles to 99_990;
# equity = 99_990 + 10 * 1_000 - 5 * 2_000 = 99_990 and
# IMR = (10 * 1_000 * 500 + 5 * 2_000 * 1_000) / 10_000 = 1_500:
# at most 98_490 can leave (98_500 if funding were ignored).
PAYMENT = 10
MAX_WITHDRAW = 98_490
BLINDING = 4242


def book(balance: int = 100_000) -> AccountBook:
    """Insurance account 0 and trader 1 (POSITIONS, checkpoints CHECKPOINTS, nonce 3); 2 empty."""
    b = AccountBook(PARAMS)
    for index, amount in ((0, 0), (1, balance)):
        pub = key(index).public_key()
        b.open(index, pub=(pub.x, pub.y), balance=amount, funding=CHECKPOINTS, blinding=7 + index)
    # Positions come from fills (settle_fills); write the record directly.
    b.put(1, replace(b.record(1), positions=POSITIONS, nonce=3))
    return b


def update(
    b: AccountBook,
    op: OpKind,
    index: int,
    amount: int,
    *,
    signer: int | None = None,
    imf: Sequence[int] = IMF,
    funding: Sequence[int] = FUNDING,
    check_rules: bool = True,
) -> BookOutcome:
    sig = None
    if op is OpKind.WITHDRAW:
        nonce = b.record(index).nonce
        sig = key(index if signer is None else signer).sign(
            withdraw_message(TAGS.withdraw, index, amount, nonce)
        )
    return build_account_update(
        b,
        op,
        index,
        amount,
        key(index).public_key(),
        prices=PRICES,
        imf_bps=imf,
        funding=funding,
        tags=TAGS,
        signature=sig,
        new_blinding=lambda: BLINDING,
        check_rules=check_rules,
    )


def root_with(
    inputs: Mapping[str, object],
    *,
    balance: int,
    positions: Sequence[int] = POSITIONS,
    checkpoints: Sequence[int] = FUNDING,
    order_root: int | None = None,
    nonce: int = 3,
    pub: tuple[int, int] | None = None,
) -> int:
    """The account root with the op's account leaf replaced by these fields (hashed directly,
    so values the encoders refuse can be written), on the op's honest path."""
    index = inputs["index"]
    assert isinstance(index, int)
    px, py = pub if pub is not None else (inputs["pubX"], inputs["pubY"])
    leaf = poseidon(
        [
            px,  # type: ignore[list-item]
            py,  # type: ignore[list-item]
            balance % R,
            positions_hash(positions),
            checkpoints_hash(checkpoints),
            empty_order_root(PARAMS.slot_levels) if order_root is None else order_root,
            nonce,
            BLINDING,
        ]
    )
    siblings = inputs["accSiblings"]
    assert isinstance(siblings, list)
    return quad_root(leaf, index, siblings)


# ---------------------------------------------------------------- fast: layout and builder


def test_public_names_match_circuit_declaration() -> None:
    assert declared_public_inputs(CIRCUIT, "AccountUpdate", "// ---- private") == PUBLIC
    assert list(statement.PUBLIC_NAMES) == PUBLIC


def test_builder_settles_funding_and_chains_the_book() -> None:
    b = book()
    fresh = update(b, OpKind.OPEN, 2, 50)
    opened = fresh.book.record(2)
    assert (opened.balance, opened.positions, opened.nonce) == (50, (0, 0), 0)
    assert opened.checkpoints == FUNDING  # an opened account starts at the current indices
    assert opened.order_root == empty_order_root(PARAMS.slot_levels)
    assert 2 not in b.records  # the caller's book is untouched

    deposit = update(fresh.book, OpKind.DEPOSIT, 1, 7)
    record = deposit.book.record(1)
    assert record.balance == 100_000 - PAYMENT + 7
    assert record.checkpoints == FUNDING and record.nonce == 3
    assert deposit.public_inputs == statement.public_inputs(
        old_acc_root=fresh.book.root,
        new_acc_root=deposit.book.root,
        op=OpKind.DEPOSIT,
        index=1,
        amount=7,
        pub=key(1).public_key(),
        prices=PRICES,
        imf_bps=IMF,
        funding=FUNDING,
        account_levels=PARAMS.account_levels,
    )
    # Settled already: a withdrawal at the same indices pays no funding twice.
    withdraw = update(deposit.book, OpKind.WITHDRAW, 1, 100)
    after = withdraw.book.record(1)
    assert (after.balance, after.nonce) == (record.balance - 100, 4)


def test_builder_refuses_what_the_circuit_rejects() -> None:
    b = book()
    with pytest.raises(AccountOpError, match="not empty"):
        update(b, OpKind.OPEN, 1, 5)
    with pytest.raises(AccountOpError, match="at least 1"):
        update(b, OpKind.DEPOSIT, 1, 0)
    with pytest.raises(AccountOpError, match="not open"):
        update(b, OpKind.DEPOSIT, 2, 5)
    with pytest.raises(AccountOpError, match="below initial margin"):
        update(b, OpKind.WITHDRAW, 1, MAX_WITHDRAW + 1)
    with pytest.raises(AccountOpError, match="signature rejected"):
        update(b, OpKind.WITHDRAW, 1, 5, signer=2)
    with pytest.raises(AccountOpError, match="different public key"):
        build_account_update(
            b,
            OpKind.DEPOSIT,
            1,
            5,
            key(2).public_key(),
            prices=PRICES,
            imf_bps=IMF,
            funding=FUNDING,
            tags=TAGS,
        )
    with pytest.raises(AccountOpError, match="out of range"):
        update(b, OpKind.OPEN, 4**PARAMS.account_levels, 5)
    with pytest.raises(AccountOpError, match="funding index"):
        update(b, OpKind.DEPOSIT, 1, 5, funding=(1 << (FUNDING_BITS - 1), 0))
    with pytest.raises(AccountOpError, match="balance"):
        update(book(balance=(1 << (BALANCE_BITS - 1)) - 1), OpKind.DEPOSIT, 1, PAYMENT + 1)


def test_withdraw_signature_binds_amount_nonce_and_exchange() -> None:
    """A withdrawal signature covers (tag of this exchange, index, amount, nonce): one over
    another amount, an old nonce, another exchange's or another message's tag, or by
    another key is refused (the circuit checks the same message: sigS/amount/nonce tampers)."""
    b = book()
    nonce = b.record(1).nonce
    elsewhere = Tags.for_exchange("elsewhere")
    bad_messages = [
        (key(1), withdraw_message(TAGS.withdraw, 1, 6, nonce)),
        (key(1), withdraw_message(TAGS.withdraw, 1, 5, nonce - 1)),
        (key(1), withdraw_message(elsewhere.withdraw, 1, 5, nonce)),
        (key(1), withdraw_message(TAGS.order, 1, 5, nonce)),
        (key(2), withdraw_message(TAGS.withdraw, 1, 5, nonce)),
    ]
    for signer, message in bad_messages:
        with pytest.raises(AccountOpError, match="signature rejected"):
            build_account_update(
                b,
                OpKind.WITHDRAW,
                1,
                5,
                key(1).public_key(),
                prices=PRICES,
                imf_bps=IMF,
                funding=FUNDING,
                tags=TAGS,
                signature=signer.sign(message),
            )
    with pytest.raises(AccountOpError, match="carries the owner's signature"):
        build_account_update(
            b,
            OpKind.WITHDRAW,
            1,
            5,
            key(1).public_key(),
            prices=PRICES,
            imf_bps=IMF,
            funding=FUNDING,
            tags=TAGS,
        )


def test_verifier_public_inputs_refuse_impossible_entries() -> None:
    good = {
        "old_acc_root": 1,
        "new_acc_root": 2,
        "op": OpKind.DEPOSIT,
        "index": 1,
        "amount": 5,
        "pub": key(1).public_key(),
        "prices": PRICES,
        "imf_bps": IMF,
        "funding": FUNDING,
        "account_levels": PARAMS.account_levels,
    }
    values = statement.public_inputs(**good)  # type: ignore[arg-type]
    assert values[-2:] == [FUNDING[0], R + FUNDING[1]]  # signed funding, field-encoded
    bad: list[tuple[str, object, str]] = [
        ("op", 3, "is not 0"),
        ("index", 4**PARAMS.account_levels, "outside"),
        ("amount", 0, "at least 1"),
        ("amount", 1 << AMOUNT_BITS, "amount"),
        ("imf_bps", (500, 10_001), "at most"),
        ("funding", (0,), "one per market"),
        ("funding", (0, -(1 << (FUNDING_BITS - 1)) - 1), "funding index"),
        ("prices", (1 << 40, 1), "price"),
        ("new_acc_root", R, "new account root"),
    ]
    for name, value, reason in bad:
        with pytest.raises(AccountOpError, match=reason):
            statement.public_inputs(**{**good, name: value})  # type: ignore[arg-type]
    with pytest.raises(AccountOpError, match="low-order"):
        statement.public_inputs(**{**good, "op": OpKind.OPEN, "pub": Point(0, 1)})  # type: ignore[arg-type]


# ---------------------------------------------------------------- circuit (compile only)


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CompiledArtifacts:
    return compiled_statement("account_update", "test")


def accepted(artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object]) -> bool:
    return unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []


def rejected(artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object]) -> bool:
    try:
        witness = honest_witness(artifacts, inputs)
    except WitnessError:
        return True
    return unsatisfied(artifacts, witness) != []


def publics(artifacts: toolchain.CompiledArtifacts, inputs: Mapping[str, object]) -> list[int]:
    n = artifacts.n_public
    return list(honest_witness(artifacts, inputs).values[1 : 1 + n])


@pytest.mark.slow
def test_open_deposit_withdraw_satisfy_r1cs_with_the_verifiers_publics(
    artifacts: toolchain.CompiledArtifacts,
) -> None:
    b = book()
    for op, index, amount in (
        (
            OpKind.OPEN,
            2,
            0,
        ),  # a zero-balance open is the circuit's business (min_deposit is the ledger's)
        (OpKind.DEPOSIT, 1, 777),
        (OpKind.WITHDRAW, 1, 1_234),
    ):
        out = update(b, op, index, amount)
        assert accepted(artifacts, out.inputs)
        assert publics(artifacts, out.inputs) == out.public_inputs
        b = out.book
    assert b.record(1).balance == 100_000 - PAYMENT + 777 - 1_234


@pytest.mark.slow
def test_withdraw_whole_free_margin_after_funding(artifacts: toolchain.CompiledArtifacts) -> None:
    """Equity exactly at IMR after funding passes; one unit more fails, and so does a
    withdrawal that would only fit if the funding owed were ignored."""
    b = book()
    assert accepted(artifacts, update(b, OpKind.WITHDRAW, 1, MAX_WITHDRAW).inputs)
    over = update(b, OpKind.WITHDRAW, 1, MAX_WITHDRAW + 1, check_rules=False)
    assert over.book.record(1).balance == 1_499
    assert rejected(artifacts, over.inputs)
    # Same witness, one basis point less initial margin in market 1: now it passes,
    # so it was the margin inequality (not the signature or root) that failed.
    relaxed = update(b, OpKind.WITHDRAW, 1, MAX_WITHDRAW + 1, imf=(500, 999), check_rules=False)
    assert accepted(artifacts, relaxed.inputs)
    # At the old checkpoints (no funding owed) 98_500 fits; at FUNDING it does not.
    unpaid = update(b, OpKind.WITHDRAW, 1, 98_500, funding=CHECKPOINTS)
    assert accepted(artifacts, unpaid.inputs)
    assert rejected(artifacts, update(b, OpKind.WITHDRAW, 1, 98_500, check_rules=False).inputs)


@pytest.mark.slow
def test_funding_is_settled_in_circuit(artifacts: toolchain.CompiledArtifacts) -> None:
    inputs = update(book(), OpKind.DEPOSIT, 1, 7).inputs
    assert accepted(artifacts, inputs)
    # A new leaf that skips the payment, or keeps the old checkpoints, has no witness.
    unpaid = root_with(inputs, balance=100_000 + 7)
    assert rejected(artifacts, {**inputs, "newAccRoot": unpaid})
    stale = root_with(inputs, balance=100_000 - PAYMENT + 7, checkpoints=CHECKPOINTS)
    assert rejected(artifacts, {**inputs, "newAccRoot": stale})
    # Control: the same helper with the honest fields gives the honest root.
    assert root_with(inputs, balance=100_000 - PAYMENT + 7) == inputs["newAccRoot"]


@pytest.mark.slow
def test_zero_deposit_and_amount_width_refused(artifacts: toolchain.CompiledArtifacts) -> None:
    b = book()
    most = (1 << AMOUNT_BITS) - 1
    inputs = update(b, OpKind.DEPOSIT, 1, most).inputs
    assert accepted(artifacts, inputs)
    settled = 100_000 - PAYMENT
    # 2^AMOUNT_BITS: the new balance still fits 96 bits; only the amount check fails.
    wide = 1 << AMOUNT_BITS
    assert rejected(
        artifacts,
        {**inputs, "amount": wide, "newAccRoot": root_with(inputs, balance=settled + wide)},
    )
    zero = {**inputs, "amount": 0, "newAccRoot": root_with(inputs, balance=settled)}
    assert rejected(artifacts, zero)
    # The same zero amount with op = WITHDRAW needs a signature; with op = DEPOSIT it is
    # exactly rAmountMin (amount - 1 wraps) that fails: amount 1 with its root passes.
    one = {**inputs, "amount": 1, "newAccRoot": root_with(inputs, balance=settled + 1)}
    assert accepted(artifacts, one)


@pytest.mark.slow
def test_balance_width_boundary(artifacts: toolchain.CompiledArtifacts) -> None:
    top = (1 << (BALANCE_BITS - 1)) - 1  # largest signed balance
    # At the old checkpoints nothing is owed, so the settled balance is top - 9.
    inputs = update(book(balance=top - 9), OpKind.DEPOSIT, 1, 9, funding=CHECKPOINTS).inputs
    assert accepted(artifacts, inputs)
    root = root_with(inputs, balance=top + 1, checkpoints=CHECKPOINTS)
    assert rejected(artifacts, {**inputs, "amount": 10, "newAccRoot": root})
    # Funding received counts: at (3, -3) the short receives 5, so 4 more fit, 5 do not.
    received = update(book(balance=top - 9), OpKind.DEPOSIT, 1, 4, funding=(3, -3)).inputs
    assert accepted(artifacts, received)
    root = root_with(received, balance=top + 1, checkpoints=(3, -3))
    assert rejected(artifacts, {**received, "amount": 5, "newAccRoot": root})


@pytest.mark.slow
def test_open_rules(artifacts: toolchain.CompiledArtifacts) -> None:
    b = book()
    inputs = update(b, OpKind.OPEN, 2, 10).inputs
    assert accepted(artifacts, inputs)
    fresh = (inputs["pubX"], inputs["pubY"])
    opened = {"balance": 10, "positions": (0, 0), "nonce": 0}
    # The honest leaf: checkpoints = funding, empty order slots.
    assert root_with(inputs, **opened) == inputs["newAccRoot"]  # type: ignore[arg-type]
    # Opening with other checkpoints or a non-empty order root has no witness.
    for patch in ({"checkpoints": (0, 0)}, {"order_root": 12345}):
        root = root_with(inputs, **opened, **patch)  # type: ignore[arg-type]
        assert rejected(artifacts, {**inputs, "newAccRoot": root}), patch
    # Open over the occupied slot 1 (its honest path and old root).
    taken = update(b, OpKind.DEPOSIT, 1, 5).inputs
    over_taken = {**inputs, "index": 1, "accSiblings": taken["accSiblings"]}
    over_taken["newAccRoot"] = root_with(over_taken, **opened)  # type: ignore[arg-type]
    assert rejected(artifacts, over_taken)
    # Identity, the order-2 point and an off-curve point are refused as keys.
    x, y = fresh
    assert isinstance(y, int)
    for key_xy in ((0, 1), (0, R - 1), (x, y + 1)):
        root = root_with(inputs, **opened, pub=key_xy)  # type: ignore[arg-type]
        patched = {**inputs, "pubX": key_xy[0], "pubY": key_xy[1], "newAccRoot": root}
        assert rejected(artifacts, patched), key_xy


@pytest.fixture(scope="module")
def withdraw_inputs() -> dict[str, object]:
    return update(book(), OpKind.WITHDRAW, 1, 4_321).inputs


@pytest.fixture(scope="module")
def deposit_inputs() -> dict[str, object]:
    return update(book(), OpKind.DEPOSIT, 1, 55).inputs


WITHDRAW_TAMPERS = [
    ("balance", 100_001),
    ("positions[0]", 11),
    ("positions[1]", R - 4),
    ("checkpoints[0]", 5),
    ("checkpoints[1]", 1),
    ("orderRoot", 1),
    ("nonce", 4),
    ("blindingOld", 1),
    ("blindingNew", BLINDING + 1),
    ("accSiblings[0][0]", 5),
    ("accSiblings[1][2]", 1),
    ("sigS", 1),
    ("sigR8x", 1),
    ("amount", 4_322),
    ("op", 1),
    ("index", 2),
    ("pubX", 1),
    ("imfBps[1]", 999),
    ("prices[0]", 999),
    ("funding[0]", 6),
    ("newAccRoot", 1),
    ("oldAccRoot", 1),
]
DEPOSIT_TAMPERS = [
    ("balance", 99_999),
    ("positions[0]", 9),
    ("checkpoints[1]", R - 3),
    ("orderRoot", 2),
    ("nonce", 2),
    ("amount", 56),
    ("funding[1]", 0),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("op", "name", "value"),
    [("withdraw", *t) for t in WITHDRAW_TAMPERS] + [("deposit", *t) for t in DEPOSIT_TAMPERS],
)
def test_tampered_op_fails(
    artifacts: toolchain.CompiledArtifacts,
    request: pytest.FixtureRequest,
    op: str,
    name: str,
    value: int,
) -> None:
    inputs: dict[str, object] = request.getfixturevalue(f"{op}_inputs")
    assert tamper_check(artifacts, inputs, name, value)


@pytest.mark.slow
def test_derived_wires_are_pinned(
    artifacts: toolchain.CompiledArtifacts, withdraw_inputs: dict[str, object]
) -> None:
    """The kept old fields, the settled balance and the old leaf cannot be chosen freely."""
    for name, value in (
        ("keptBalance", 0),
        ("keptOrderRoot", 0),
        ("keptNonce", 0),
        ("isOpen", 1),
        ("withdrawn", 0),
        ("oldLeaf", 0),
        ("old.pay.terms[0]", 0),
    ):
        assert tamper_check(artifacts, withdraw_inputs, name, value), name
