"""Public inputs of ACCOUNT UPDATE (``circuits/account_update.circom``), recomputed from ledger data.

ACCOUNT UPDATE proves an ``account_op`` entry (open, deposit, withdraw) on the
recycling-order account state (``verifier.account_state``: 8-input leaf with
funding checkpoints and the account's order slot root; quaternary account
tree). Its public inputs are the roots, op, index, amount, owner key, oracle
marks and initial-margin fractions, followed by the funding indices every
touched account settles to (``funding[m]``, signed, quote units per lot): the
circuit settles the account's funding before the deposit / withdrawal and
writes ``funding`` as its new checkpoints (an opened account starts at them).
The op codes and the amount / key rules (``OpKind``, ``parse_op``,
``check_amount``, ``check_open_key``) are defined here, once.

Pure: never imports prover/ or exchange/, never runs node.
"""

from collections.abc import Sequence
from enum import IntEnum

from verifier.babyjub import Point, is_on_curve
from verifier.field import FieldError, require_canonical, signed_to_field, unsigned_in_range
from verifier.params import AMOUNT_BITS, FUNDING_BITS, PRICE_BITS
from verifier.statements.vectors import fractions_bps, require_per_market

__all__ = [
    "PER_MARKET",
    "PUBLIC_NAMES",
    "AccountOpError",
    "OpKind",
    "check_amount",
    "check_open_key",
    "parse_op",
    "public_inputs",
]


class AccountOpError(ValueError):
    """Account-op data the circuit would reject (bad op, range, key, state or signature)."""


class OpKind(IntEnum):
    """The circuit's ``op`` public input."""

    OPEN = 0
    DEPOSIT = 1
    WITHDRAW = 2


def parse_op(op: int) -> OpKind:
    """``op`` as an OpKind, or AccountOpError."""
    if isinstance(op, bool) or not isinstance(op, int) or op not in (0, 1, 2):
        raise AccountOpError(f"op {op!r} is not 0 (open), 1 (deposit) or 2 (withdraw)")
    return OpKind(op)


def check_open_key(pub: Point) -> Point:
    """The circuit's OPEN key check: on Baby Jubjub and x != 0 (not (0, 1) or (0, -1))."""
    if not is_on_curve(pub):
        raise AccountOpError("public key is not a Baby Jubjub point")
    if pub.x == 0:
        raise AccountOpError("public key is a low-order point (x = 0)")
    return pub


def check_amount(op: OpKind, amount: int) -> int:
    """amount < 2^AMOUNT_BITS, and >= 1 for deposit / withdraw."""
    try:
        unsigned_in_range(amount, AMOUNT_BITS, "amount")
    except FieldError as exc:
        raise AccountOpError(str(exc)) from None
    if op is not OpKind.OPEN and amount == 0:
        raise AccountOpError(f"{op.name.lower()} amount must be at least 1")
    return amount


# Circuit public inputs in declaration order; PER_MARKET ones have one entry per market.
PUBLIC_NAMES: tuple[str, ...] = (
    "oldAccRoot",
    "newAccRoot",
    "op",
    "index",
    "amount",
    "pubX",
    "pubY",
    "prices",
    "imfBps",
    "funding",
)
PER_MARKET = frozenset({"prices", "imfBps", "funding"})


def public_inputs(
    *,
    old_acc_root: int,
    new_acc_root: int,
    op: int,
    index: int,
    amount: int,
    pub: Point,
    prices: Sequence[int],
    imf_bps: Sequence[int],
    funding: Sequence[int],
    account_levels: int,
) -> list[int]:
    """Public inputs in circuit order (``PUBLIC_NAMES``); raises AccountOpError on bad data.

    ``index`` must fit the quaternary tree of ``account_levels`` levels
    (``< 4^account_levels``); ``amount`` < 2^AMOUNT_BITS and >= 1 unless OPEN;
    an OPEN key must be a Baby Jubjub point with x != 0.
    """
    kind = parse_op(op)
    check_amount(kind, amount)
    if (
        isinstance(index, bool)
        or not isinstance(index, int)
        or not 0 <= index < 1 << (2 * account_levels)
    ):
        raise AccountOpError(f"account index {index!r} is outside a {account_levels}-level tree")
    markets = len(prices)
    if markets == 0:
        raise AccountOpError("an account update covers at least one market")
    require_per_market(markets, AccountOpError, (("imf_bps", imf_bps), ("funding", funding)))
    if kind is OpKind.OPEN:
        check_open_key(pub)
    try:
        head = [
            require_canonical(old_acc_root, "old account root"),
            require_canonical(new_acc_root, "new account root"),
            int(kind),
            index,
            amount,
            require_canonical(pub.x, "pub.x"),
            require_canonical(pub.y, "pub.y"),
        ]
        marks = [unsigned_in_range(p, PRICE_BITS, "price") for p in prices]
        (imf,) = fractions_bps((("imf bps", imf_bps),))
        funding_list = [signed_to_field(f, FUNDING_BITS, "funding index") for f in funding]
    except (FieldError, ValueError) as exc:
        raise AccountOpError(str(exc)) from None
    return head + marks + list(imf) + funding_list
