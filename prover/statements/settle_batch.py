"""Witnesses for SETTLE BATCH (``circuits/settle_batch.circom``).

``build_settle_batch`` takes the operator's state (account tree + account
states, fill tree + filled amounts, the public order list) and a batch of
matched fills, checks every rule the circuit enforces, applies the fills in
exactly the circuit's order — per slot: buy fill leaf, sell fill leaf, buyer
account, seller account; then the fee account (index 0) once — on COPIES of
the trees, and returns the ``SettleBatchWitness`` (circuit input JSON, public
inputs) together with the new state. The caller's trees are never modified, so
a rejected batch leaves nothing half-applied.

Formulas come from ``verifier.encoding`` (leaves, commitments), ``verifier.accounting``
(fees, margin) and ``verifier.statements.settle_batch`` (public input layout);
nothing is re-derived here. Pure: never runs node; ``prover.toolchain`` proves.
"""

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from verifier import accounting
from verifier.babyjub import Point
from verifier.eddsa import Signature, check_signature
from verifier.encoding import (
    BUY,
    SELL,
    AccountState,
    Order,
    account_leaf,
    fill_leaf,
    order_commitment,
    to_field,
)
from verifier.field import FieldError, R, signed_to_field, unsigned_in_range
from verifier.merkle import MerkleTree
from verifier.params import (
    BALANCE_BITS,
    BPS_BITS,
    POSITION_BITS,
    PRICE_BITS,
    SIZE_BITS,
    TIME_BITS,
    CircuitParams,
)
from verifier.protocol import FEE_ACCOUNT, Tags, is_expired
from verifier.statements import settle_batch as public
from verifier.statements.settle_batch import BatchError

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "BatchError",
    "Fill",
    "SettleBatchOutcome",
    "SettleBatchWitness",
    "SignedOrder",
    "build_settle_batch",
    "random_blinding",
    "template_args",
]

TEMPLATE = "SettleBatch"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """SettleBatch(ACC_DEPTH, ORDER_DEPTH, M, N, ORDER_TAG)."""
    return [params.account_depth, params.order_depth, params.markets, params.fill_slots, tags.order]


def random_blinding() -> int:
    """Fresh leaf blinding: uniform in [0, r) from the OS CSPRNG."""
    return secrets.randbelow(R)


# ---------------------------------------------------------------- domain input


@dataclass(frozen=True)
class SignedOrder:
    """An accepted order: its terms, the owner's signature over its commitment, its list index."""

    order: Order
    signature: Signature
    index: int


@dataclass(frozen=True)
class Fill:
    """``quantity`` lots traded between a resting buy and sell order at the batch mark."""

    buy: SignedOrder
    sell: SignedOrder
    quantity: int


# ---------------------------------------------------------------- witness


@dataclass(frozen=True)
class SideWitness:
    """One side of one fill slot, as the circuit reads it (states before the update)."""

    order: Order
    order_index: int
    order_siblings: tuple[int, ...]
    signature: Signature
    filled_before: int
    fill_siblings: tuple[int, ...]
    account_before: AccountState
    blinding_new: int = field(repr=False)
    acc_siblings: tuple[int, ...]


@dataclass(frozen=True)
class SlotWitness:
    """One active fill slot: market, lots traded, and both sides."""

    market: int
    quantity: int
    buy: SideWitness
    sell: SideWitness


@dataclass(frozen=True)
class FeeAccountWitness:
    """The fee account (index 0) before its one per-batch update, and its path then."""

    account_before: AccountState
    blinding_new: int = field(repr=False)
    siblings: tuple[int, ...]


@dataclass(frozen=True)
class SettleBatchWitness:
    """Everything the prover knows for one batch proof; ``slots`` holds only the active fills."""

    params: CircuitParams
    old_acc_root: int
    new_acc_root: int
    old_fill_root: int
    new_fill_root: int
    order_root: int
    batch_id: int
    timestamp: int
    prices: tuple[int, ...]
    volume: tuple[int, ...]
    fee_bps: tuple[int, ...]
    imf_bps: tuple[int, ...]
    slots: tuple[SlotWitness, ...]
    fee_account: FeeAccountWitness

    def public_inputs(self) -> list[int]:
        """The circuit's public inputs (same layout the verifier recomputes)."""
        return public.public_inputs(
            old_acc_root=self.old_acc_root,
            new_acc_root=self.new_acc_root,
            old_fill_root=self.old_fill_root,
            new_fill_root=self.new_fill_root,
            order_root=self.order_root,
            batch_id=self.batch_id,
            timestamp=self.timestamp,
            prices=self.prices,
            volume=self.volume,
            fee_bps=self.fee_bps,
            imf_bps=self.imf_bps,
        )

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (ints reduced mod r; inactive slots all zero)."""
        p = self.params
        n, m = p.fill_slots, p.markets
        if len(self.slots) > n:
            raise BatchError(f"{len(self.slots)} fills exceed the circuit's {n} slots")

        def per_side(get: Callable[[SideWitness], int]) -> list[list[int]]:
            rows = [[get(s.buy) % R, get(s.sell) % R] for s in self.slots]
            return rows + [[0, 0]] * (n - len(self.slots))

        def per_side_vec(get: Callable[[SideWitness], Sequence[int]], width: int) -> list[object]:
            rows: list[object] = [
                [[v % R for v in get(s.buy)], [v % R for v in get(s.sell)]] for s in self.slots
            ]
            return rows + [[[0] * width, [0] * width]] * (n - len(self.slots))

        def per_slot(get: Callable[[SlotWitness], int]) -> list[int]:
            return [get(s) for s in self.slots] + [0] * (n - len(self.slots))

        fee = self.fee_account
        return {
            "oldAccRoot": self.old_acc_root,
            "newAccRoot": self.new_acc_root,
            "oldFillRoot": self.old_fill_root,
            "newFillRoot": self.new_fill_root,
            "orderRoot": self.order_root,
            "batchId": self.batch_id,
            "timestamp": self.timestamp,
            "prices": list(self.prices),
            "volume": list(self.volume),
            "feeBps": list(self.fee_bps),
            "imfBps": list(self.imf_bps),
            "active": per_slot(lambda s: 1),
            "market": per_slot(lambda s: s.market),
            "quantity": per_slot(lambda s: s.quantity),
            "account": per_side(lambda s: s.order.account),
            "size": per_side(lambda s: s.order.size),
            "limitPrice": per_side(lambda s: s.order.limit_price),
            "expiry": per_side(lambda s: s.order.expiry),
            "salt": per_side(lambda s: s.order.salt),
            "orderIndex": per_side(lambda s: s.order_index),
            "orderSiblings": per_side_vec(lambda s: s.order_siblings, p.order_depth),
            "sigR8x": per_side(lambda s: s.signature.R8.x),
            "sigR8y": per_side(lambda s: s.signature.R8.y),
            "sigS": per_side(lambda s: s.signature.S),
            "filledBefore": per_side(lambda s: s.filled_before),
            "fillSiblings": per_side_vec(lambda s: s.fill_siblings, p.order_depth),
            "pubX": per_side(lambda s: s.account_before.pub_x),
            "pubY": per_side(lambda s: s.account_before.pub_y),
            "balance": per_side(lambda s: to_field(s.account_before.balance)),
            "positions": per_side_vec(lambda s: s.account_before.positions, m),
            "nonce": per_side(lambda s: s.account_before.nonce),
            "blindingOld": per_side(lambda s: s.account_before.blinding),
            "blindingNew": per_side(lambda s: s.blinding_new),
            "accSiblings": per_side_vec(lambda s: s.acc_siblings, p.account_depth),
            "feePubX": fee.account_before.pub_x,
            "feePubY": fee.account_before.pub_y,
            "feeBalance": to_field(fee.account_before.balance),
            "feePositions": [to_field(v) for v in fee.account_before.positions],
            "feeNonce": fee.account_before.nonce,
            "feeBlindingOld": fee.account_before.blinding,
            "feeBlindingNew": fee.blinding_new,
            "feeSiblings": list(fee.siblings),
        }


@dataclass(frozen=True)
class SettleBatchOutcome:
    """The witness plus the operator state after the batch (fresh objects; inputs untouched)."""

    witness: SettleBatchWitness
    accounts: MerkleTree
    account_states: dict[int, AccountState]
    fill_tree: MerkleTree
    filled: dict[int, int]

    @property
    def new_acc_root(self) -> int:
        return self.accounts.root

    @property
    def new_fill_root(self) -> int:
        return self.fill_tree.root


# ---------------------------------------------------------------- builder


def build_settle_batch(
    *,
    params: CircuitParams,
    order_tag: int,
    accounts: MerkleTree,
    account_states: Mapping[int, AccountState],
    fill_tree: MerkleTree,
    filled: Mapping[int, int],
    orders: MerkleTree,
    fills: Sequence[Fill],
    prices: Sequence[int],
    fee_bps: Sequence[int],
    imf_bps: Sequence[int],
    batch_id: int,
    timestamp: int,
    new_blinding: Callable[[], int] = random_blinding,
    check_rules: bool = True,
) -> SettleBatchOutcome:
    """Check and apply ``fills`` in order; return the witness and the new state.

    ``orders`` is the public order list (commitment i at leaf i), ``filled``
    maps order index -> lots filled so far (absent = 0), ``account_states``
    maps account index -> its leaf contents (index 0 is the fee account and
    must exist). Raises BatchError (one line) naming the first rule a fill
    breaks; nothing passed in is modified.

    ``check_rules=False`` skips the trading rules (limits, expiry, size,
    signatures, margin, distinct orders, quantity >= 1) but still requires
    consistent trees: it exists only so tests can show that the circuit
    itself rejects a batch the honest builder would refuse.
    """
    m = params.markets
    _check_batch_params(params, accounts, fill_tree, orders, prices, fee_bps, imf_bps, timestamp)
    if len(fills) > params.fill_slots:
        raise BatchError(f"{len(fills)} fills exceed the {params.fill_slots} slots of a batch")
    try:
        unsigned_in_range(batch_id, 253, "batch id")
        if batch_id >= R:
            raise FieldError("batch id is not a field element")
    except FieldError as exc:
        raise BatchError(str(exc)) from exc

    acc_tree = accounts.copy()
    fills_tree = fill_tree.copy()
    states = dict(account_states)
    filled_now = dict(filled)
    for index, state in states.items():
        if acc_tree.get(index) != account_leaf(state):
            raise BatchError(f"account {index}: state does not match its leaf in the account tree")
    for index, amount in filled_now.items():
        if amount and orders.get(index) == 0:
            raise BatchError(f"order {index}: filled amount recorded for an unlisted order")
    if FEE_ACCOUNT not in states:
        raise BatchError("the fee account (index 0) has not been opened")

    old_acc_root, old_fill_root = acc_tree.root, fills_tree.root
    volume = [0] * m
    fee_total = 0
    slots: list[SlotWitness] = []
    for number, fill in enumerate(fills):
        where = f"fill {number}"
        try:
            slot, fee_each = _apply_fill(
                where,
                fill,
                params=params,
                order_tag=order_tag,
                acc_tree=acc_tree,
                states=states,
                fills_tree=fills_tree,
                filled=filled_now,
                orders=orders,
                prices=prices,
                fee_bps=fee_bps,
                imf_bps=imf_bps,
                timestamp=timestamp,
                new_blinding=new_blinding,
                check_rules=check_rules,
            )
        except FieldError as exc:
            raise BatchError(f"{where}: {exc}") from exc
        slots.append(slot)
        volume[slot.market] += slot.quantity
        fee_total += 2 * fee_each

    # The fee account is updated once per batch, even with zero fees, so the
    # statement has one shape; an empty batch keeps its blinding so that both
    # roots stay exactly as they were.
    fee_before = states[FEE_ACCOUNT]
    fee_after = replace(
        fee_before,
        balance=fee_before.balance + fee_total,
        blinding=_blinding(new_blinding) if fills else fee_before.blinding,
    )
    try:
        fee_leaf = account_leaf(fee_after)
    except FieldError as exc:
        raise BatchError(f"fee account: {exc}") from exc
    fee_witness = FeeAccountWitness(
        account_before=fee_before,
        blinding_new=fee_after.blinding,
        siblings=acc_tree.path(FEE_ACCOUNT).siblings,
    )
    acc_tree.update(FEE_ACCOUNT, fee_leaf)
    states[FEE_ACCOUNT] = fee_after

    witness = SettleBatchWitness(
        params=params,
        old_acc_root=old_acc_root,
        new_acc_root=acc_tree.root,
        old_fill_root=old_fill_root,
        new_fill_root=fills_tree.root,
        order_root=orders.root,
        batch_id=batch_id,
        timestamp=timestamp,
        prices=tuple(prices),
        volume=tuple(volume),
        fee_bps=tuple(fee_bps),
        imf_bps=tuple(imf_bps),
        slots=tuple(slots),
        fee_account=fee_witness,
    )
    return SettleBatchOutcome(
        witness=witness,
        accounts=acc_tree,
        account_states=states,
        fill_tree=fills_tree,
        filled=filled_now,
    )


def _check_batch_params(
    params: CircuitParams,
    accounts: MerkleTree,
    fill_tree: MerkleTree,
    orders: MerkleTree,
    prices: Sequence[int],
    fee_bps: Sequence[int],
    imf_bps: Sequence[int],
    timestamp: int,
) -> None:
    if accounts.depth != params.account_depth:
        raise BatchError(f"account tree depth {accounts.depth} != {params.account_depth}")
    if fill_tree.depth != params.order_depth or orders.depth != params.order_depth:
        raise BatchError(f"fill tree and order list must have depth {params.order_depth}")
    for name, values, bits in (
        ("prices", prices, PRICE_BITS),
        ("fee_bps", fee_bps, BPS_BITS),
        ("imf_bps", imf_bps, BPS_BITS),
    ):
        if len(values) != params.markets:
            raise BatchError(f"{name} needs one entry per market ({params.markets})")
        for v in values:
            try:
                unsigned_in_range(v, bits, name)
            except FieldError as exc:
                raise BatchError(str(exc)) from exc
    try:
        unsigned_in_range(timestamp, TIME_BITS, "timestamp")
    except FieldError as exc:
        raise BatchError(str(exc)) from exc


def _blinding(new_blinding: Callable[[], int]) -> int:
    value = new_blinding()
    if not isinstance(value, int) or not 0 <= value < R:
        raise BatchError("blinding source returned a value outside [0, r)")
    return value


def _apply_fill(
    where: str,
    fill: Fill,
    *,
    params: CircuitParams,
    order_tag: int,
    acc_tree: MerkleTree,
    states: dict[int, AccountState],
    fills_tree: MerkleTree,
    filled: dict[int, int],
    orders: MerkleTree,
    prices: Sequence[int],
    fee_bps: Sequence[int],
    imf_bps: Sequence[int],
    timestamp: int,
    new_blinding: Callable[[], int],
    check_rules: bool,
) -> tuple[SlotWitness, int]:
    """Check one fill and update the trees/states in the circuit's order; return (slot, fee)."""
    buy, sell, q = fill.buy, fill.sell, fill.quantity
    if buy.order.side != BUY or sell.order.side != SELL:
        raise BatchError(f"{where}: needs a buy order and a sell order")
    market = buy.order.market
    if sell.order.market != market:
        raise BatchError(f"{where}: orders are for different markets")
    unsigned_in_range(q, SIZE_BITS, "quantity")
    for signed in (buy, sell):
        signed.order.check_ranges(params.markets, params.account_depth)
    mark = prices[market]
    if check_rules:
        if buy.index == sell.index:
            raise BatchError(f"{where}: buy and sell are the same order")
        if q == 0:
            raise BatchError(f"{where}: quantity must be at least one lot")
        if mark > buy.order.limit_price:
            raise BatchError(f"{where}: mark {mark} is above the buy limit {buy.order.limit_price}")
        if mark < sell.order.limit_price:
            raise BatchError(
                f"{where}: mark {mark} is below the sell limit {sell.order.limit_price}"
            )
    effect = accounting.fill_effect(q, mark, fee_bps[market])

    # Fill tree: buy leaf then sell leaf.
    commitments: list[int] = []
    fill_paths: list[tuple[int, ...]] = []
    filled_before: list[int] = []
    for signed in (buy, sell):
        h = order_commitment(order_tag, signed.order)
        side = "buy" if signed.order.side == BUY else "sell"
        if orders.get(signed.index) != h:
            raise BatchError(f"{where}: {side} order is not in the order list at {signed.index}")
        if check_rules and is_expired(signed.order.expiry, timestamp):
            raise BatchError(f"{where}: {side} order expired at {signed.order.expiry}")
        before = filled.get(signed.index, 0)
        if fills_tree.get(signed.index) != fill_leaf(h, before):
            raise BatchError(
                f"{where}: filled amount of order {signed.index} disagrees with the fill tree"
            )
        if check_rules and before + q > signed.order.size:
            raise BatchError(
                f"{where}: {side} order {signed.index} has {signed.order.size - before} lots left, not {q}"
            )
        fill_paths.append(fills_tree.path(signed.index).siblings)
        fills_tree.update(signed.index, fill_leaf(h, before + q))
        filled[signed.index] = before + q
        commitments.append(h)
        filled_before.append(before)

    # Accounts: buyer then seller (a self-trade reads the buyer's new state).
    acc_paths: list[tuple[int, ...]] = []
    befores: list[AccountState] = []
    blindings: list[int] = []
    for signed, h, delta_balance, delta_position in (
        (buy, commitments[0], effect.buyer_balance_delta, q),
        (sell, commitments[1], effect.seller_balance_delta, -q),
    ):
        index = signed.order.account
        side = "buy" if delta_position > 0 else "sell"
        state = states.get(index)
        if state is None:
            raise BatchError(f"{where}: {side} account {index} does not exist")
        if check_rules:
            try:
                check_signature(h, signed.signature, Point(state.pub_x, state.pub_y))
            except ValueError as exc:
                raise BatchError(f"{where}: {side} order signature rejected: {exc}") from exc
        balance, positions = accounting.apply_fill(
            state.balance, state.positions, market, delta_position, delta_balance
        )
        after = replace(
            state, balance=balance, positions=positions, blinding=_blinding(new_blinding)
        )
        signed_to_field(after.balance, BALANCE_BITS, f"{side} account balance")
        signed_to_field(after.positions[market], POSITION_BITS, f"{side} account position")
        if check_rules and not accounting.meets_margin(
            after.balance, after.positions, prices, imf_bps
        ):
            raise BatchError(f"{where}: {side} account {index} would be below initial margin")
        acc_paths.append(acc_tree.path(index).siblings)
        acc_tree.update(index, account_leaf(after))
        states[index] = after
        befores.append(state)
        blindings.append(after.blinding)

    sides = [
        SideWitness(
            order=signed.order,
            order_index=signed.index,
            order_siblings=orders.path(signed.index).siblings,
            signature=signed.signature,
            filled_before=filled_before[k],
            fill_siblings=fill_paths[k],
            account_before=befores[k],
            blinding_new=blindings[k],
            acc_siblings=acc_paths[k],
        )
        for k, signed in enumerate((buy, sell))
    ]
    return SlotWitness(market=market, quantity=q, buy=sides[0], sell=sides[1]), effect.fee_each
