"""Protocol constants defined once: statement names, domain tags, the fee account, expiry.

Everything that the operator, the prover, the client SDK and the verifier must
agree on and that is not a hash encoding (those are in ``verifier.encoding``)
or a bit width (``verifier.params``) lives here, so a grep finds one
definition of each. Pure values and functions; never imports prover or
exchange.
"""

from dataclasses import dataclass

from verifier.params import domain_tag

#: The proven statements of the recycling-order ("slots") state (per-account
#: order slots, proven cancel, funding settlement, reduce-only), in the order
#: the ledger and ``/v1/vkeys`` list them; the list state's are retired.
STATEMENTS: tuple[str, ...] = (
    "order_ops",
    "settle_fills",
    "account_update",
    "solvency_walk",
    "health_sweep",
    "liquidate",
    "deleverage",
    "adl_walk",
)

#: Exchange id used when none is configured (development and tests).
DEFAULT_EXCHANGE_ID = "darkpool-dev"

#: Account index of the insurance fund, which also collects every fill's fees.
#: The operator opens it right after genesis; it never places orders.
FEE_ACCOUNT = 0


def is_expired(expiry: int, timestamp: int) -> bool:
    """True when an order with ``expiry`` can no longer fill in a batch at ``timestamp``.

    This is the circuit's rule (settle_batch range-checks ``expiry - timestamp``
    as non-negative): an order is live up to and including its expiry second,
    so a batch at ``timestamp == expiry`` may still fill it. Both are unix
    seconds. Intake, matching, order status and the witness builders all use
    this function.
    """
    return timestamp > expiry


@dataclass(frozen=True)
class Tags:
    """Domain tags of one exchange (see ``verifier.params.domain_tag``)."""

    exchange_id: str
    order: int
    withdraw: int
    cancel: int
    auth: int
    oracle: int

    @classmethod
    def for_exchange(cls, exchange_id: str) -> "Tags":
        return cls(
            exchange_id=exchange_id,
            order=domain_tag("order", exchange_id),
            withdraw=domain_tag("withdraw", exchange_id),
            cancel=domain_tag("cancel", exchange_id),
            auth=domain_tag("auth", exchange_id),
            oracle=domain_tag("oracle", exchange_id),
        )
