"""Order sides, plain order terms and the withdrawal message, shared by client, exchange and prover.

The account leaf, the signed order (``SlottedOrder``, its commitment and
cancel message) and the order slots live in ``verifier.account_state``; the
circuits in ``circuits/lib`` compute exactly the same Poseidon hashes. Pure
functions, no I/O; never imports prover or exchange.
"""

from dataclasses import dataclass, field

from verifier.field import R, require_canonical, unsigned_in_range
from verifier.params import AMOUNT_BITS, NONCE_BITS
from verifier.poseidon import poseidon

BUY = 0
SELL = 1


@dataclass(frozen=True)
class Order:
    """An order's terms without its slot id: what the order book and the matching engine trade.

    ``side`` is BUY (0) or SELL (1); prices in ticks, sizes in lots, expiry
    in Unix seconds. The signed, committed form is
    ``verifier.account_state.SlottedOrder`` (these terms plus ``order_id``
    and ``reduce_only``).
    """

    account: int
    market: int
    side: int
    size: int
    limit_price: int
    expiry: int
    salt: int = field(repr=False)


def withdraw_message(withdraw_tag: int, index: int, amount: int, nonce: int) -> int:
    """Signed by the owner to withdraw: Poseidon(WITHDRAW_TAG, index, amount, nonce)."""
    return poseidon(
        [
            require_canonical(withdraw_tag, "withdraw_tag"),
            require_canonical(index, "index"),
            unsigned_in_range(amount, AMOUNT_BITS, "amount"),
            unsigned_in_range(nonce, NONCE_BITS, "nonce"),
        ]
    )


def to_field(x: int) -> int:
    """Reduce a signed Python integer into the scalar field (for circuit inputs)."""
    return x % R
