"""Witnesses for SETTLE FILLS (``circuits/settle_fills.circom``): one group of fills of a batch.

``build_settle_fills`` takes the operator's ``AccountBook`` (orders already
placed in their slots by ORDER OPS) and up to ``group_fills`` matched fills,
checks every rule the circuit enforces, applies them in the circuit's order —
per fill: buyer, then seller; then the fee account (index 0) once — to a COPY
of the book, and returns the circuit input, the public inputs and the new
book. Each side settles funding first, then trades; it must end at initial
margin, or reduce its position without a flip while not lowering equity −
MMR (``viaReduce``); reduce-only orders must reduce. Formulas come from
``verifier.account_state`` and ``verifier.accounting``. Pure: never runs node.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from prover.account_book import (
    INSURANCE_ACCOUNT,
    AccountBook,
    BookError,
    BookOutcome,
    SlotContent,
    random_blinding,
)
from prover.circuits import Tags
from prover.statements.layout import named_public_inputs
from verifier import accounting
from verifier.account_state import AccountRecord, SlottedOrder, order_hash
from verifier.field import FieldError, signed_to_field, unsigned_in_range
from verifier.params import BALANCE_BITS, BPS_DENOM, POSITION_BITS, CircuitParams
from verifier.protocol import is_expired
from verifier.statements import settle_fills as public
from verifier.statements.settle_fills import FillsError

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "FillsError",
    "GroupFill",
    "SettleFillsOutcome",
    "build_settle_fills",
    "template_args",
]

TEMPLATE = "SettleFills"
PUBLIC = list(public.PUBLIC_NAMES)
BUY, SELL = 0, 1


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """SettleFills(ACC_LEVELS, SLOT_LEVELS, M, N, ORDER_TAG)."""
    return [
        params.account_levels,
        params.slot_levels,
        params.markets,
        params.group_fills,
        tags.order,
    ]


@dataclass(frozen=True)
class GroupFill:
    """``quantity`` lots traded between a placed buy and sell order at the batch mark."""

    buy: SlottedOrder
    sell: SlottedOrder
    quantity: int


@dataclass(frozen=True)
class SettleFillsOutcome(BookOutcome):
    """``BookOutcome`` (the book after the group) and the group's volume and fees."""

    volume: tuple[int, ...]
    fee_total: int


@dataclass(frozen=True)
class _Market:
    prices: tuple[int, ...]
    funding: tuple[int, ...]
    fee_bps: tuple[int, ...]
    imf_bps: tuple[int, ...]
    mmf_bps: tuple[int, ...]
    timestamp: int


def build_settle_fills(
    book: AccountBook,
    fills: Sequence[GroupFill],
    *,
    tags: Tags,
    batch_id: int,
    timestamp: int,
    prices: Sequence[int],
    funding: Sequence[int],
    fee_bps: Sequence[int],
    imf_bps: Sequence[int],
    mmf_bps: Sequence[int],
    new_blinding: Callable[[], int] = random_blinding,
    check_rules: bool = True,
) -> SettleFillsOutcome:
    """Check and apply ``fills``; raise FillsError naming the first fill that breaks a rule.

    ``check_rules=False`` skips the trading rules (limits, expiry, margin,
    reduce-only, size) but still requires consistent state, so tests can show
    the circuit itself rejects what the honest builder refuses.
    """
    params = book.params
    n, m = params.group_fills, params.markets
    if len(fills) > n:
        raise FillsError(f"{len(fills)} fills exceed the group's {n} slots")
    mk = _Market(
        tuple(prices), tuple(funding), tuple(fee_bps), tuple(imf_bps), tuple(mmf_bps), timestamp
    )
    volume = [0] * m
    work = book.copy()
    if INSURANCE_ACCOUNT not in work.records:
        raise FillsError("the fee account (index 0) has not been opened")
    old_root = work.root
    rows: list[dict[str, object]] = []
    fee_total = 0
    for number, fill in enumerate(fills):
        where = f"fill {number}"
        q = fill.quantity
        market = fill.buy.market
        if fill.sell.market != market or fill.buy.side != BUY or fill.sell.side != SELL:
            raise FillsError(f"{where}: a fill pairs a buy and a sell of one market")
        if not 0 <= market < m:
            raise FillsError(f"{where}: market {market} does not exist")
        if q < 1:
            raise FillsError(f"{where}: quantity must be at least one lot")
        mark = mk.prices[market]
        fee_each = accounting.fee(q, mark, mk.fee_bps[market])
        fee_total += 2 * fee_each
        volume[market] += q
        sides = []
        for order, sign in ((fill.buy, 1), (fill.sell, -1)):
            sides.append(
                _apply_side(
                    f"{where} {'buy' if sign == 1 else 'sell'}",
                    work,
                    order,
                    sign=sign,
                    quantity=q,
                    fee=fee_each,
                    mk=mk,
                    tags=tags,
                    blinding=new_blinding(),
                    check_rules=check_rules,
                )
            )
        rows.append({"active": 1, "market": market, "quantity": q, "sides": sides})

    fee_row = _apply_fee_account(work, fee_total, mk, new_blinding())
    pub = public.public_inputs(
        old_acc_root=old_root,
        new_acc_root=work.root,
        batch_id=batch_id,
        timestamp=timestamp,
        prices=prices,
        funding=funding,
        volume=volume,
        fee_bps=fee_bps,
        imf_bps=imf_bps,
        mmf_bps=mmf_bps,
    )
    inputs = named_public_inputs(pub, PUBLIC, dict.fromkeys(public.PER_MARKET, m))
    blank = _blank_side(work)
    for name in ("active", "market", "quantity"):
        inputs[name] = [row[name] for row in rows] + [0] * (n - len(rows))
    for name in blank:
        per_slot = [[side[name] for side in row["sides"]] for row in rows]  # type: ignore[attr-defined]
        inputs[name] = per_slot + [[blank[name], blank[name]]] * (n - len(rows))
    inputs.update(fee_row)
    return SettleFillsOutcome(
        inputs=inputs,
        public_inputs=pub,
        volume=tuple(volume),
        fee_total=fee_total,
        book=work,
    )


def _apply_side(
    where: str,
    work: AccountBook,
    order: SlottedOrder,
    *,
    sign: int,
    quantity: int,
    fee: int,
    mk: _Market,
    tags: Tags,
    blinding: int,
    check_rules: bool,
) -> dict[str, object]:
    if order.account == INSURANCE_ACCOUNT:
        raise FillsError(f"{where}: the insurance account (0) is never a fill side")
    try:
        record = work.record(order.account)
        slot, content = work.slot_of(order.account, order.order_id)
    except BookError as exc:
        raise FillsError(f"{where}: {exc}") from exc
    h = order_hash(tags.order, order)
    if content is None or content.order_id != order.order_id or content.commitment != h:
        raise FillsError(f"{where}: the order is not placed in its slot")
    market = order.market
    mark = mk.prices[market]
    filled_after = content.filled + quantity
    if check_rules:
        if sign * (order.limit_price - mark) < 0:
            raise FillsError(f"{where}: the mark {mark} is beyond the limit {order.limit_price}")
        if is_expired(order.expiry, mk.timestamp):
            raise FillsError(f"{where}: the order expired at {order.expiry}")
        if filled_after > order.size:
            raise FillsError(f"{where}: {filled_after} lots exceed the order size {order.size}")
    settled = work.settle_funding(record, mk.funding)
    positions = list(settled.positions)
    old_pos = positions[market]
    positions[market] += sign * quantity
    new_balance = settled.balance - sign * quantity * mark - fee
    reducing = -sign * positions[market] >= 0
    meets_imr = accounting.meets_margin(new_balance, positions, mk.prices, mk.imf_bps)
    relief_ok = quantity * mark * mk.mmf_bps[market] >= BPS_DENOM * fee
    via_reduce = not meets_imr and reducing and relief_ok
    try:
        signed_to_field(new_balance, BALANCE_BITS, "balance")
        for p in positions:
            signed_to_field(p, POSITION_BITS, "position")
        unsigned_in_range(filled_after, 40, "filled")
    except FieldError as exc:
        raise FillsError(f"{where}: {exc}") from exc
    if check_rules:
        if order.reduce_only and not reducing:
            raise FillsError(
                f"{where}: reduce-only order would take position {old_pos} to {positions[market]}"
            )
        if not meets_imr and not via_reduce:
            raise FillsError(f"{where}: account {order.account} would fall below initial margin")
    slot_path = work.slot_trees[order.account].path(slot)
    opening = work.opening(order.account)
    new_order_root = work.write_slot(order.account, SlotContent(order.order_id, filled_after, h))
    new_record: AccountRecord = replace(
        settled,
        balance=new_balance,
        positions=tuple(positions),
        order_root=new_order_root,
        blinding=blinding,
    )
    work.put(order.account, new_record)
    return {
        "account": order.account,
        "orderId": order.order_id,
        "size": order.size,
        "limitPrice": order.limit_price,
        "expiry": order.expiry,
        "reduceOnly": order.flags,
        "salt": order.salt,
        "filledBefore": content.filled,
        "slotSiblings": [list(s) for s in slot_path.siblings],
        **opening,
        "blindingNew": blinding,
        "viaReduce": int(via_reduce),
    }


def _apply_fee_account(
    work: AccountBook, fee_total: int, mk: _Market, blinding: int
) -> dict[str, object]:
    record = work.record(INSURANCE_ACCOUNT)
    opening = {**work.opening(INSURANCE_ACCOUNT), "blindingNew": blinding}
    settled = work.settle_funding(record, mk.funding)
    new_record = replace(settled, balance=settled.balance + fee_total, blinding=blinding)
    try:
        signed_to_field(new_record.balance, BALANCE_BITS, "fee account balance")
    except FieldError as exc:
        raise FillsError(str(exc)) from exc
    work.put(INSURANCE_ACCOUNT, new_record)
    # The fee account's slot reads the same names, prefixed: feePubX, ..., feeSiblings.
    return {
        "feeSiblings" if name == "accSiblings" else "fee" + name[0].upper() + name[1:]: value
        for name, value in opening.items()
    }


def _blank_side(book: AccountBook) -> dict[str, object]:
    return book.blank_opening(
        "account",
        "orderId",
        "size",
        "limitPrice",
        "expiry",
        "reduceOnly",
        "salt",
        "filledBefore",
        "viaReduce",
    )
