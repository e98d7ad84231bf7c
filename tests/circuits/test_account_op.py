"""ACCOUNT OP: builder, public inputs, and the circuit (prove/verify, boundaries, tampering).

The circuit is built once per module for the ``test`` profile (account depth
4, 2 markets). Tampering uses the shared ``tamper_check`` of
tests/circuits/conftest.py: the honest witness with ONE signal changed must
violate the R1CS. Boundary cases the honest builder refuses are fed to the
circuit through the unchecked ``AccountOpWitness`` constructor (or by patching
the input JSON) and must make the witness generator's constraint asserts fire.
"""

import time
from dataclasses import replace
from pathlib import Path

import pytest

from prover import circuits, toolchain
from prover.errors import WitnessError
from prover.statements import account_op as stmt
from prover.statements.account_op import AccountOpError, AccountOpWitness, OpKind
from tests.circuits.conftest import honest_witness, symbols, tamper_check, unsatisfied
from tests.circuits.proving import declared_public_inputs, prove, verification_key
from verifier import groth16
from verifier.babyjub import IDENTITY, Point
from verifier.eddsa import PrivateKey
from verifier.encoding import AccountState, account_leaf, positions_hash, withdraw_message
from verifier.field import R
from verifier.merkle import MerkleTree, compute_root
from verifier.params import AMOUNT_BITS, BALANCE_BITS
from verifier.poseidon import poseidon
from verifier.statements import account_op as vao

CIRCUIT = Path(__file__).resolve().parents[2] / "circuits" / "account_op.circom"
TAGS = circuits.Tags.for_exchange(circuits.DEFAULT_EXCHANGE_ID)
DEPTH = 4
PRICES = (1000, 2000)
IMF = (500, 1000)
FEE_KEY = PrivateKey(bytes([7]) * 32)
KEY = PrivateKey(bytes([9]) * 32)
OTHER_KEY = PrivateKey(bytes([11]) * 32)
PUB = KEY.public_key()
# Account 1 after some trading: equity = 100_000 + 10*1000 - 5*2000 = 100_000;
# IMR = (10*1000*500 + 5*2000*1000) / 10_000 = 1_500. So at most 98_500 can leave.
TRADER = AccountState(
    pub_x=PUB.x, pub_y=PUB.y, balance=100_000, positions=(10, -5), nonce=3, blinding=424242
)
MAX_WITHDRAW = 98_500


def ledger() -> MerkleTree:
    """Fee account at 0 (opened via the builder), the trader at 1, slot 2 empty."""
    tree = MerkleTree(DEPTH)
    opened = AccountOpWitness.build(
        tree, OpKind.OPEN, 0, 0, FEE_KEY.public_key(), None, PRICES, IMF, TAGS, blinding_new=5
    )
    opened.apply(tree)
    # The trader's positions come from fills (settle_batch); write the leaf directly.
    tree.update(1, TRADER.leaf())
    return tree


def withdraw(tree: MerkleTree, amount: int, blinding_new: int | None = None) -> AccountOpWitness:
    sig = KEY.sign(withdraw_message(TAGS.withdraw, 1, amount, TRADER.nonce))
    return AccountOpWitness.build(
        tree,
        OpKind.WITHDRAW,
        1,
        amount,
        PUB,
        TRADER,
        PRICES,
        IMF,
        TAGS,
        signature=sig,
        blinding_new=blinding_new,
    )


def unchecked(
    tree: MerkleTree,
    op: OpKind,
    index: int,
    amount: int,
    old: AccountState | None,
    new: AccountState,
    *,
    imf: tuple[int, int] = IMF,
) -> AccountOpWitness:
    """A witness the builder would refuse: only shapes are checked."""
    sig = None
    if op is OpKind.WITHDRAW:
        assert old is not None
        sig = KEY.sign(withdraw_message(TAGS.withdraw, index, amount, old.nonce))
    return AccountOpWitness(
        op=op,
        index=index,
        amount=amount,
        pub=Point(new.pub_x, new.pub_y),
        old=old,
        new=new,
        old_root=tree.root,
        siblings=tree.path(index).siblings,
        prices=PRICES,
        imf_bps=imf,
        signature=sig,
    )


def ledger_publics(
    old_root: int, new_root: int, *, op: int, index: int, amount: int, pub: Point
) -> list[int]:
    """The public inputs the verifier recomputes from an account_op ledger entry."""
    return vao.public_inputs(
        old_root=old_root,
        new_root=new_root,
        op=op,
        index=index,
        amount=amount,
        pub=pub,
        prices=PRICES,
        imf_bps=IMF,
        account_depth=DEPTH,
    )


# ---------------------------------------------------------------- fast: layout and builder


def test_public_matches_declaration_order() -> None:
    assert declared_public_inputs(CIRCUIT, "AccountOp", "// ---- private") == stmt.PUBLIC
    params = circuits.load_params("test")
    assert stmt.template_args(params, TAGS) == [params.account_depth, params.markets, TAGS.withdraw]


def test_builder_sequence_updates_tree_and_public_inputs() -> None:
    tree = ledger()
    fresh = PrivateKey(bytes([3]) * 32).public_key()
    root0 = tree.root
    w_open = AccountOpWitness.build(tree, OpKind.OPEN, 2, 700, fresh, None, PRICES, IMF, TAGS)
    inputs, root1 = w_open.apply(tree)
    assert tree.root == root1 != root0
    assert w_open.new == AccountState(fresh.x, fresh.y, 700, (0, 0), 0, w_open.new.blinding)
    assert tree.get(2) == w_open.new.leaf()
    assert inputs["balance"] == 0 and inputs["sigS"] == 0  # open: old fields unused
    # The ledger-level recomputation agrees with the witness.
    assert w_open.public_inputs() == ledger_publics(
        root0, root1, op=0, index=2, amount=700, pub=fresh
    )
    assert w_open.public_inputs() == [root0, root1, 0, 2, 700, fresh.x, fresh.y, *PRICES, *IMF]

    dep = AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 50, PUB, TRADER, PRICES, IMF, TAGS)
    _, root2 = dep.apply(tree)
    assert (dep.new.balance, dep.new.nonce, dep.new.positions) == (100_050, 3, (10, -5))
    assert dep.new.blinding != TRADER.blinding  # fresh randomness by default

    wd = AccountOpWitness.build(
        tree,
        OpKind.WITHDRAW,
        1,
        50,
        PUB,
        dep.new,
        PRICES,
        IMF,
        TAGS,
        signature=KEY.sign(withdraw_message(TAGS.withdraw, 1, 50, 3)),
    )
    _, root3 = wd.apply(tree)
    assert (wd.new.balance, wd.new.nonce) == (100_000, 4)
    assert tree.root == root3 and root3 not in (root0, root1, root2)
    # Applying a witness to a tree at another root is refused and changes nothing.
    with pytest.raises(AccountOpError, match="old root"):
        dep.apply(tree)
    assert tree.root == root3


def test_builder_refuses_what_the_circuit_rejects() -> None:
    tree = ledger()
    with pytest.raises(AccountOpError, match="not empty"):
        AccountOpWitness.build(tree, OpKind.OPEN, 1, 5, PUB, None, PRICES, IMF, TAGS)
    with pytest.raises(AccountOpError, match="does not hold"):
        stale = replace(TRADER, balance=99_999)
        AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 5, PUB, stale, PRICES, IMF, TAGS)
    with pytest.raises(AccountOpError, match="at least 1"):
        AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 0, PUB, TRADER, PRICES, IMF, TAGS)
    with pytest.raises(AccountOpError, match="80-bit"):
        AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 1 << 80, PUB, TRADER, PRICES, IMF, TAGS)
    with pytest.raises(AccountOpError, match="different public key"):
        other = OTHER_KEY.public_key()
        AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 5, other, TRADER, PRICES, IMF, TAGS)
    with pytest.raises(AccountOpError, match="below initial margin"):
        withdraw(tree, MAX_WITHDRAW + 1)
    assert withdraw(tree, MAX_WITHDRAW).new.balance == 1_500
    with pytest.raises(AccountOpError, match="needs the owner's signature"):
        AccountOpWitness.build(tree, OpKind.WITHDRAW, 1, 5, PUB, TRADER, PRICES, IMF, TAGS)
    # Signatures over another amount, an old nonce, another exchange's tag, or by another key.
    bad_messages = [
        (KEY, withdraw_message(TAGS.withdraw, 1, 6, TRADER.nonce)),
        (KEY, withdraw_message(TAGS.withdraw, 1, 5, TRADER.nonce - 1)),
        (KEY, withdraw_message(circuits.Tags.for_exchange("elsewhere").withdraw, 1, 5, 3)),
        (KEY, withdraw_message(TAGS.order, 1, 5, TRADER.nonce)),
        (OTHER_KEY, withdraw_message(TAGS.withdraw, 1, 5, TRADER.nonce)),
    ]
    for key, msg in bad_messages:
        with pytest.raises(AccountOpError, match="signature rejected"):
            AccountOpWitness.build(
                tree,
                OpKind.WITHDRAW,
                1,
                5,
                PUB,
                TRADER,
                PRICES,
                IMF,
                TAGS,
                signature=key.sign(msg),
            )
    with pytest.raises(AccountOpError, match="takes no signature"):
        sig = KEY.sign(withdraw_message(TAGS.withdraw, 1, 5, 3))
        AccountOpWitness.build(
            tree, OpKind.DEPOSIT, 1, 5, PUB, TRADER, PRICES, IMF, TAGS, signature=sig
        )
    big = replace(TRADER, balance=(1 << (BALANCE_BITS - 1)) - 10)
    tree.update(1, big.leaf())
    AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 9, PUB, big, PRICES, IMF, TAGS)
    with pytest.raises(AccountOpError, match="out of range"):
        AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 10, PUB, big, PRICES, IMF, TAGS)


def test_verifier_public_inputs_rejects_impossible_entries() -> None:
    base: dict[str, object] = {
        "old_root": 1,
        "new_root": 2,
        "op": 1,
        "index": 3,
        "amount": 4,
        "pub": PUB,
        "prices": PRICES,
        "imf_bps": IMF,
        "account_depth": DEPTH,
    }
    assert vao.public_inputs(**base) == [1, 2, 1, 3, 4, PUB.x, PUB.y, *PRICES, *IMF]  # type: ignore[arg-type]
    bad: list[dict[str, object]] = [
        {"op": 3},
        {"op": True},
        {"index": 1 << DEPTH},
        {"amount": 0},
        {"amount": 1 << AMOUNT_BITS},
        {"imf_bps": (500, 10_001)},
        {"prices": (1 << 40, 1)},
        {"prices": (1,)},
        {"old_root": R},
        {"op": 0, "pub": IDENTITY},
        {"op": 0, "pub": Point(1, 2)},
    ]
    for change in bad:
        with pytest.raises(vao.AccountOpError):
            vao.public_inputs(**{**base, **change})  # type: ignore[arg-type]
    # amount 0 is a valid open (an account may start empty).
    assert vao.public_inputs(**{**base, "op": 0, "amount": 0})[4] == 0  # type: ignore[arg-type]


# ---------------------------------------------------------------- slow: the circuit


@pytest.fixture(scope="module")
def artifacts() -> toolchain.CircuitArtifacts:
    return circuits.build_statement("account_op", "test")


def _rejected(artifacts: toolchain.CircuitArtifacts, inputs: dict[str, object], tmp: Path) -> bool:
    try:
        toolchain.witness(artifacts, inputs, tmp / "w.wtns")
    except WitnessError:
        return True
    return False


def _accepted(artifacts: toolchain.CircuitArtifacts, inputs: dict[str, object]) -> bool:
    return unsatisfied(artifacts, honest_witness(artifacts, inputs)) == []


@pytest.mark.slow
def test_withdraw_proves_and_verifies(artifacts: toolchain.CircuitArtifacts) -> None:
    print(f"account_op test profile: {artifacts.constraints} constraints")
    tree = ledger()
    old_root = tree.root
    w = withdraw(tree, 1234)
    inputs, new_root = w.apply(tree)
    started = time.perf_counter()
    proof, values = prove(artifacts, inputs)
    print(f"account_op witness + prove {time.perf_counter() - started:.2f}s")
    # The verifier recomputes the public inputs from the ledger entry alone.
    expected = ledger_publics(old_root, tree.root, op=2, index=1, amount=1234, pub=PUB)
    assert values == expected == w.public_inputs()
    assert new_root == tree.root
    vk = verification_key(artifacts)
    assert groth16.verify(vk, proof, values)
    # The same proof does not cover another amount or another new root.
    assert not groth16.verify(vk, proof, [*values[:4], 1235, *values[5:]])
    assert not groth16.verify(vk, proof, [values[0], values[0], *values[2:]])


@pytest.mark.slow
def test_open_and_deposit_satisfy_r1cs(artifacts: toolchain.CircuitArtifacts) -> None:
    tree = ledger()
    fresh = OTHER_KEY.public_key()
    steps = [
        (OpKind.OPEN, 2, 0, fresh, None),
        (OpKind.DEPOSIT, 1, 777, PUB, TRADER),
    ]
    for op, index, amount, pub, old in steps:
        w = AccountOpWitness.build(tree, op, index, amount, pub, old, PRICES, IMF, TAGS)
        inputs, _ = w.apply(tree)
        honest = honest_witness(artifacts, inputs)
        assert unsatisfied(artifacts, honest) == []
        n = len(w.public_inputs())
        assert list(honest.values[1 : 1 + n]) == w.public_inputs()


@pytest.mark.slow
def test_withdraw_margin_boundary(artifacts: toolchain.CircuitArtifacts, tmp_path: Path) -> None:
    """Equity exactly at IMR passes; one unit more withdrawn fails (at the same prices)."""
    tree = ledger()
    assert _accepted(artifacts, withdraw(tree, MAX_WITHDRAW).to_circuit_inputs())
    over = MAX_WITHDRAW + 1
    new = vao.apply_op(OpKind.WITHDRAW, TRADER, over, PUB, 77, 2)
    assert unchecked(tree, OpKind.WITHDRAW, 1, over, TRADER, new).new.balance == 1_499
    assert _rejected(
        artifacts,
        unchecked(tree, OpKind.WITHDRAW, 1, over, TRADER, new).to_circuit_inputs(),
        tmp_path,
    )
    # Same witness, one basis point less initial margin in market 1: now it passes,
    # so it was the margin inequality (not the signature or root) that failed.
    relaxed = unchecked(tree, OpKind.WITHDRAW, 1, over, TRADER, new, imf=(500, 999))
    assert _accepted(artifacts, relaxed.to_circuit_inputs())


@pytest.mark.slow
def test_deposit_overflow_boundary(artifacts: toolchain.CircuitArtifacts, tmp_path: Path) -> None:
    tree = ledger()
    top = (1 << (BALANCE_BITS - 1)) - 1  # largest signed balance
    big = replace(TRADER, balance=top - 9)
    tree.update(1, big.leaf())
    ok = AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, 9, PUB, big, PRICES, IMF, TAGS)
    inputs = ok.to_circuit_inputs()
    assert _accepted(artifacts, inputs)
    # One unit more: the new leaf (hashed directly, AccountState refuses the balance)
    # and root are honest, only the balance range check can fail.
    leaf = poseidon([PUB.x, PUB.y, top + 1, positions_hash((10, -5)), 3, ok.new.blinding])
    inputs = {**inputs, "amount": 10, "newRoot": compute_root(leaf, 1, ok.siblings)}
    assert _rejected(artifacts, inputs, tmp_path)


@pytest.mark.slow
def test_amount_width_boundary(artifacts: toolchain.CircuitArtifacts, tmp_path: Path) -> None:
    tree = ledger()
    most = (1 << AMOUNT_BITS) - 1
    ok = AccountOpWitness.build(tree, OpKind.DEPOSIT, 1, most, PUB, TRADER, PRICES, IMF, TAGS)
    inputs = ok.to_circuit_inputs()
    assert _accepted(artifacts, inputs)
    # 2^AMOUNT_BITS: the new balance still fits 96 bits; only the amount check fails.
    too_much = replace(ok.new, balance=TRADER.balance + (1 << AMOUNT_BITS))
    new_root = compute_root(account_leaf(too_much), 1, ok.siblings)
    assert _rejected(
        artifacts, {**inputs, "amount": 1 << AMOUNT_BITS, "newRoot": new_root}, tmp_path
    )
    # A zero deposit is refused by the circuit too.
    zero = replace(ok.new, balance=TRADER.balance)
    zero_root = compute_root(account_leaf(zero), 1, ok.siblings)
    assert _rejected(artifacts, {**inputs, "amount": 0, "newRoot": zero_root}, tmp_path)


@pytest.mark.slow
def test_open_needs_empty_slot_and_valid_key(
    artifacts: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    tree = ledger()
    fresh = OTHER_KEY.public_key()
    new = AccountState(fresh.x, fresh.y, 10, (0, 0), 0, 99)
    assert _accepted(artifacts, unchecked(tree, OpKind.OPEN, 2, 10, None, new).to_circuit_inputs())
    # Open over the occupied slot 1 (path and roots honest for slot 1).
    assert _rejected(
        artifacts, unchecked(tree, OpKind.OPEN, 1, 10, None, new).to_circuit_inputs(), tmp_path
    )
    # Identity, the order-2 point and an off-curve point are refused as keys (the
    # verifier refuses them too, so patch the input JSON; leaf and root stay honest).
    good = unchecked(tree, OpKind.OPEN, 2, 10, None, new)
    inputs = good.to_circuit_inputs()
    for x, y in ((0, 1), (0, R - 1), (fresh.x, fresh.y + 1)):
        leaf = poseidon([x, y, 10, positions_hash((0, 0)), 0, 99])
        root = compute_root(leaf, 2, good.siblings)
        patched = {**inputs, "pubX": x, "pubY": y, "newRoot": root}
        assert _rejected(artifacts, patched, tmp_path), (x, y)


@pytest.fixture(scope="module")
def withdraw_inputs() -> dict[str, object]:
    return withdraw(ledger(), 4321, blinding_new=31337).to_circuit_inputs()


@pytest.fixture(scope="module")
def deposit_inputs() -> dict[str, object]:
    w = AccountOpWitness.build(
        ledger(), OpKind.DEPOSIT, 1, 55, PUB, TRADER, PRICES, IMF, TAGS, blinding_new=8
    )
    return w.to_circuit_inputs()


WITHDRAW_TAMPERS = [
    ("balance", 100_001),
    ("positions[0]", 11),
    ("positions[1]", R - 4),
    ("nonce", 4),
    ("blindingOld", 424243),
    ("blindingNew", 31338),
    ("siblings[0]", 5),
    ("siblings[1]", 12345),
    ("siblings[3]", 1),
    ("sigS", 1),
    ("sigR8x", 1),
    ("sigR8y", 1),
    ("amount", 4322),
    ("op", 1),
    ("index", 2),
    ("pubX", 1),
    ("imfBps[1]", 999),
    ("prices[0]", 999),
    ("newRoot", 1),
    ("oldRoot", 1),
]
DEPOSIT_TAMPERS = [
    ("balance", 99_999),
    ("positions[0]", 9),
    ("nonce", 2),
    ("blindingOld", 1),
    ("amount", 56),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("op", "name", "value"),
    [("withdraw", *t) for t in WITHDRAW_TAMPERS] + [("deposit", *t) for t in DEPOSIT_TAMPERS],
)
def test_tampered_op_fails(
    artifacts: toolchain.CircuitArtifacts,
    request: pytest.FixtureRequest,
    op: str,
    name: str,
    value: int,
) -> None:
    inputs: dict[str, object] = request.getfixturevalue(f"{op}_inputs")
    assert tamper_check(artifacts, inputs, name, value)


@pytest.mark.slow
def test_internal_new_balance_is_pinned(
    artifacts: toolchain.CircuitArtifacts, withdraw_inputs: dict[str, object]
) -> None:
    """Derived wires (kept old fields, withdrawn amount, old leaf) cannot be chosen freely.

    newBalance itself is a linear combination the compiler substitutes away, so
    the wires it is built from are tampered instead.
    """
    table = symbols(artifacts.sym)
    honest = honest_witness(artifacts, withdraw_inputs)
    assert honest.values[table.wire("keptBalance")] == 100_000
    assert honest.values[table.wire("withdrawn")] == 4321
    assert tamper_check(artifacts, withdraw_inputs, "keptBalance", 100_000 + 4321)
    assert tamper_check(artifacts, withdraw_inputs, "withdrawn", 0)
    assert tamper_check(artifacts, withdraw_inputs, "keptPositions[0]", 0)
    assert tamper_check(artifacts, withdraw_inputs, "keptNonce", 0)
    assert tamper_check(artifacts, withdraw_inputs, "isOpen", 1)
    assert tamper_check(artifacts, withdraw_inputs, "oldLeaf", 0)
