"""Witnesses for ACCOUNT UPDATE (``circuits/account_update.circom``): open, deposit, withdraw
on the recycling-order account state.

``build_account_update`` takes the operator's ``AccountBook``, checks every
rule the circuit enforces (so a bad request fails here with a one-line
``AccountOpError`` instead of inside node), applies the op to a COPY of the
book — funding settled first, checkpoints set to the current funding indices,
an opened account with no positions and an empty order slot tree — and
returns the circuit input, the public inputs and the new book. The
public-input layout and the op rules come from
``verifier.statements.account_update``; leaves and funding
from ``verifier.account_state``. Pure: never runs node; ``prover.toolchain`` proves.
"""

from collections.abc import Callable, Sequence
from dataclasses import replace

from prover.account_book import AccountBook, BookError, BookOutcome, random_blinding
from prover.statements.layout import named_public_inputs
from verifier import accounting
from verifier.account_state import empty_order_root
from verifier.babyjub import IDENTITY, Point
from verifier.eddsa import Signature, SignatureError, check_signature
from verifier.encoding import withdraw_message
from verifier.field import FieldError, signed_to_field
from verifier.params import BALANCE_BITS, NONCE_BITS, CircuitParams
from verifier.protocol import Tags
from verifier.statements import account_update as public
from verifier.statements.account_update import (
    AccountOpError,
    OpKind,
    check_amount,
    check_open_key,
    parse_op,
)

__all__ = [
    "PUBLIC",
    "TEMPLATE",
    "AccountOpError",
    "OpKind",
    "build_account_update",
    "template_args",
]

TEMPLATE = "AccountUpdate"
PUBLIC = list(public.PUBLIC_NAMES)


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """AccountUpdate(ACC_LEVELS, M, WITHDRAW_TAG, EMPTY_ORDER_ROOT)."""
    return [
        params.account_levels,
        params.markets,
        tags.withdraw,
        empty_order_root(params.slot_levels),
    ]


def build_account_update(
    book: AccountBook,
    op: int,
    index: int,
    amount: int,
    pub: Point,
    *,
    prices: Sequence[int],
    imf_bps: Sequence[int],
    funding: Sequence[int],
    tags: Tags,
    signature: Signature | None = None,
    new_blinding: Callable[[], int] = random_blinding,
    check_rules: bool = True,
) -> BookOutcome:
    """Check and apply one account op; raise AccountOpError naming the broken rule.

    OPEN needs an empty ``index`` and writes (pub, balance = amount, no
    positions, checkpoints = ``funding``, empty order slots, nonce 0).
    DEPOSIT / WITHDRAW settle the account's funding to ``funding`` first, then
    add / subtract ``amount`` (>= 1); WITHDRAW also needs ``signature`` by the
    owner over ``withdraw_message(tags.withdraw, index, amount, nonce)``,
    increments the nonce and must leave the account at or above initial
    margin at ``prices`` / ``imf_bps``. ``check_rules=False`` skips the
    signature and margin checks only, so tests can show the circuit rejects them.
    """
    params = book.params
    m = params.markets
    kind = parse_op(op)
    check_amount(kind, amount)
    if len(prices) != m or len(imf_bps) != m or len(funding) != m:
        raise AccountOpError(f"prices, imf_bps and funding need one entry per market ({m})")
    if (kind is OpKind.WITHDRAW) != (signature is not None):
        raise AccountOpError("exactly a withdrawal carries the owner's signature")
    work = book.copy()
    old_root = work.root
    try:
        siblings = [list(s) for s in work.tree.path(index).siblings]
    except ValueError as exc:
        raise AccountOpError(str(exc)) from None
    if kind is OpKind.OPEN:
        if index in work.records:
            raise AccountOpError(f"account slot {index} is not empty")
        check_open_key(pub)
        opening: dict[str, object] = {
            **work.blank_opening(),
            "accSiblings": siblings,
        }
        try:
            work.open(
                index, pub=(pub.x, pub.y), balance=amount, funding=funding, blinding=new_blinding()
            )
        except (BookError, FieldError) as exc:
            raise AccountOpError(str(exc)) from None
    else:
        try:
            record = work.record(index)
        except BookError as exc:
            raise AccountOpError(str(exc)) from None
        if (record.pub_x, record.pub_y) != (pub.x, pub.y):
            raise AccountOpError("the account is owned by a different public key")
        opening = work.opening(index)
        settled = work.settle_funding(record, funding)
        nonce = record.nonce
        if kind is OpKind.WITHDRAW:
            balance = settled.balance - amount
            if nonce + 1 >= 1 << NONCE_BITS:
                raise AccountOpError("the account nonce is exhausted")
            if check_rules:
                assert signature is not None
                message = withdraw_message(tags.withdraw, index, amount, nonce)
                try:
                    check_signature(message, signature, pub)
                except (SignatureError, FieldError) as exc:
                    raise AccountOpError(f"withdrawal signature rejected: {exc}") from None
                if not accounting.meets_margin(balance, record.positions, prices, imf_bps):
                    raise AccountOpError("withdrawal would leave equity below initial margin")
            nonce += 1
        else:
            balance = settled.balance + amount
        try:
            signed_to_field(balance, BALANCE_BITS, "balance")
            work.put(index, replace(settled, balance=balance, nonce=nonce, blinding=new_blinding()))
        except (BookError, FieldError) as exc:
            raise AccountOpError(f"account state out of range: {exc}") from None
    pub_inputs = public.public_inputs(
        old_acc_root=old_root,
        new_acc_root=work.root,
        op=kind,
        index=index,
        amount=amount,
        pub=pub,
        prices=prices,
        imf_bps=imf_bps,
        funding=funding,
        account_levels=params.account_levels,
    )
    r8, s = (signature.R8, signature.S) if signature is not None else (IDENTITY, 0)
    inputs = {
        **named_public_inputs(pub_inputs, PUBLIC, dict.fromkeys(public.PER_MARKET, m)),
        "balance": opening["balance"],
        "positions": opening["positions"],
        "checkpoints": opening["checkpoints"],
        "orderRoot": opening["orderRoot"],
        "nonce": opening["nonce"],
        "blindingOld": opening["blindingOld"],
        "blindingNew": work.record(index).blinding,
        "accSiblings": opening["accSiblings"],
        "sigR8x": r8.x,
        "sigR8y": r8.y,
        "sigS": s,
    }
    return BookOutcome(inputs=inputs, public_inputs=pub_inputs, book=work)
