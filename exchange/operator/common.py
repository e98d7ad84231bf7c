"""What every operator module shares: the refusal errors, the prover signature, the clock.

``OperatorError`` and its subclasses are the one-line refusals the service
maps to HTTP statuses (``RejectedOrder`` 422, ``UnknownAccount`` 404,
``DuplicateOrder`` 409, ``SignatureRejected`` 401/422). ``ProveFn`` is what
an operator calls to prove one statement (``prover.backends.prove_inputs``, a
``prover.jobs.ProofPool``, or a test's stand-in): circuit artifacts and the
input JSON in, (snarkjs proof JSON, public signals as decimal strings) out.
No I/O.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any

from prover import toolchain
from verifier.ledger.rules import FundingRules

__all__ = [
    "DEFAULT_FUNDING_RULES",
    "INSURANCE_WITHDRAWAL_REFUSED",
    "DuplicateOrder",
    "OperatorError",
    "ProveFn",
    "RejectedOrder",
    "SignatureRejected",
    "UnknownAccount",
    "wall_clock",
]


#: Why a withdrawal from account 0 is refused. The insurance fund (also the fee
#: account) covers bankrupt accounts before ADL does and its key is the operator's;
#: darkpool-verify fails such an entry. A fee sweep to the operator is future work.
INSURANCE_WITHDRAWAL_REFUSED = (
    "the insurance fund (account 0) cannot be withdrawn: it covers bankrupt accounts"
)


class OperatorError(ValueError):
    """A request the operator refuses (unknown account, bad signature, margin, ...)."""


class RejectedOrder(OperatorError):
    """An order refused at intake; ``reason`` is one line for the trader."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureRejected(OperatorError):
    """A withdraw or cancel signature does not verify under the account key."""


class UnknownAccount(RejectedOrder):
    """An order names an account that does not exist."""


class DuplicateOrder(RejectedOrder):
    """An order whose commitment was already accepted."""


ProveFn = Callable[
    [toolchain.CircuitArtifacts, Mapping[str, object]], tuple[dict[str, Any], list[str]]
]

#: Hourly funding, 1/8 of the mark-index premium per interval, at most 0.5% of the index.
DEFAULT_FUNDING_RULES = FundingRules(interval_s=3600, premium_divisor=8, clamp_bps=50)


def wall_clock() -> int:
    """Unix time in whole seconds (the operator's default clock)."""
    return int(time.time())
