"""Public side of ACCOUNT OP (``circuits/account_op.circom``): open, deposit, withdraw.

Defines the operation codes, the account state transition the circuit proves
(``apply_op``; the prover and the exchange use this one copy) and
``public_inputs``, which recomputes a proof's public inputs from a ledger
entry (roots, op, index, amount, owner key, oracle prices, initial-margin
fractions) in the circuit's declaration order.

Pure functions, no I/O. Never imports prover/ or exchange/ and never runs node.
"""

from collections.abc import Sequence

from verifier.babyjub import Point
from verifier.encoding import AccountState
from verifier.field import FieldError, require_canonical, unsigned_in_range
from verifier.params import BPS_DENOM, MAX_MARKETS, NONCE_BITS, PRICE_BITS

# The op codes and the amount / key rules are the slots statement's, defined there.
from verifier.statements.account_update import (
    AccountOpError,
    OpKind,
    check_amount,
    check_open_key,
    parse_op,
)

__all__ = [
    "AccountOpError",
    "OpKind",
    "apply_op",
    "check_amount",
    "check_open_key",
    "parse_op",
    "public_inputs",
]


def apply_op(
    op: int,
    old: AccountState | None,
    amount: int,
    pub: Point,
    blinding_new: int,
    markets: int,
) -> AccountState:
    """The account state after ``op``, exactly as the circuit computes it.

    OPEN needs ``old is None`` and gives (pub, amount, ``markets`` zero
    positions, nonce 0);
    DEPOSIT adds ``amount``; WITHDRAW subtracts it and increments the nonce.
    Checks shape and amount, not ranges of the result (``AccountState.leaf``
    and the margin check do that) nor signatures.
    """
    kind = parse_op(op)
    check_amount(kind, amount)
    require_canonical(blinding_new, "blinding")
    if kind is OpKind.OPEN:
        if old is not None:
            raise AccountOpError("open needs an empty slot, not an existing account")
        check_open_key(pub)
        return AccountState(
            pub_x=pub.x,
            pub_y=pub.y,
            balance=amount,
            positions=(0,) * markets,
            nonce=0,
            blinding=blinding_new,
        )
    if old is None:
        raise AccountOpError(f"{kind.name.lower()} needs an existing account")
    if (old.pub_x, old.pub_y) != (pub.x, pub.y):
        raise AccountOpError("the account is owned by a different public key")
    if len(old.positions) != markets:
        raise AccountOpError(f"the account has {len(old.positions)} positions, not {markets}")
    if kind is OpKind.DEPOSIT:
        return AccountState(
            pub_x=pub.x,
            pub_y=pub.y,
            balance=old.balance + amount,
            positions=old.positions,
            nonce=old.nonce,
            blinding=blinding_new,
        )
    if old.nonce + 1 >= 1 << NONCE_BITS:
        raise AccountOpError("the account nonce is exhausted")
    return AccountState(
        pub_x=pub.x,
        pub_y=pub.y,
        balance=old.balance - amount,
        positions=old.positions,
        nonce=old.nonce + 1,
        blinding=blinding_new,
    )


def public_inputs(
    *,
    old_root: int,
    new_root: int,
    op: int,
    index: int,
    amount: int,
    pub: Point,
    prices: Sequence[int],
    imf_bps: Sequence[int],
    account_depth: int,
) -> list[int]:
    """Public inputs in circuit order (prover.statements.account_op.PUBLIC).

    oldRoot, newRoot, op, index, amount, pubX, pubY, prices[M], imfBps[M].
    Raises AccountOpError for anything the circuit could never accept.
    """
    kind = parse_op(op)
    check_amount(kind, amount)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1 << account_depth:
        raise AccountOpError(f"account index {index!r} is outside a depth-{account_depth} tree")
    if not 1 <= len(prices) <= MAX_MARKETS or len(imf_bps) != len(prices):
        raise AccountOpError(f"prices and imf_bps must cover the same 1..{MAX_MARKETS} markets")
    if kind is OpKind.OPEN:
        check_open_key(pub)
    try:
        roots = [require_canonical(old_root, "old root"), require_canonical(new_root, "new root")]
        key = [require_canonical(pub.x, "pub.x"), require_canonical(pub.y, "pub.y")]
        marks = [unsigned_in_range(p, PRICE_BITS, "price") for p in prices]
    except FieldError as exc:
        raise AccountOpError(str(exc)) from None
    for f in imf_bps:
        if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f <= BPS_DENOM:
            raise AccountOpError(f"imf_bps {f!r} is not in [0, {BPS_DENOM}]")
    return [*roots, int(kind), index, amount, *key, *marks, *imf_bps]
