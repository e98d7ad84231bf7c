"""Entry models of the recycling-order ledger (genesis ``"state": "slots"``, issue 12).

Under ``slots`` the account leaf holds the account's order slots
(``verifier.account_state``), the account tree is quaternary, and there is no
order list or fill tree: the ``order`` and ``fill`` roots are 0 in every entry.
The kinds ``account_op``, ``order``, ``solvency`` and ``funding`` keep their
bodies (``verifier.ledger.entries`` / ``risk``); this module adds:

* ``cancel`` (``CancelEntry``): ``{"commitment": h}``, a cancel the operator
  accepted (the owner signed ``Poseidon(CANCEL_TAG, h)``; the signature is
  checked in-circuit when the next batch executes it). Changes no root.
  Only valid in a ``slots`` ledger.
* the ``batch`` proof of a slots ledger (``SlotsBatchProof``): every proof
  names its ``statement``, ``"order_ops"`` (with ``cancels`` and ``places``:
  the K public cancelled / placed commitments, op j at position j, ``"0"``
  where op j does not cancel / place) or
  ``"settle_fills"`` (with its per-market ``volume``), registered as the
  ``slots`` parser of ``BatchEntry`` proofs.

Strict parsing (``EntryError`` naming the field); ``to_json`` writes exactly
what ``from_json`` reads, so the replay's canonical-form check
(``verifier.ledger.strict``) covers every field. The replay's checks of these
entries are ``verifier.ledger.slots_replay``. Pure: no I/O; never imports
prover or exchange.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from verifier.ledger.entries import (
    BATCH_PROOF_PARSERS,
    BatchProof,
    Entry,
    Genesis,
    ProofData,
    Roots,
    register,
)
from verifier.ledger.genesis import SLOTS_STATE
from verifier.ledger.parse import EntryError, as_list, field_element, get, mapping, uint

__all__ = ["ORDER_OPS", "SETTLE_FILLS", "SLOTS_BATCH_STATEMENTS", "CancelEntry", "SlotsBatchProof"]

ORDER_OPS = "order_ops"
SETTLE_FILLS = "settle_fills"
#: The statements a slots batch chains (``verifier.batch_chain``): order ops first, then fill groups.
SLOTS_BATCH_STATEMENTS: tuple[str, ...] = (ORDER_OPS, SETTLE_FILLS)


@register
@dataclass(frozen=True, kw_only=True)
class CancelEntry(Entry):
    """A signed cancel of the order with commitment ``commitment`` that the operator accepted.

    The next batch's ``order_ops`` proofs must execute exactly the cancels
    accepted since the previous batch, in ledger order, before any fill.
    """

    kind: ClassVar[str] = "cancel"
    may_change: ClassVar[frozenset[str]] = frozenset()

    commitment: int

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "CancelEntry":
        return cls(**header, commitment=field_element(get(d, "commitment", "cancel"), "commitment"))

    def body_json(self) -> dict[str, Any]:
        return {"commitment": str(self.commitment)}


@dataclass(frozen=True)
class SlotsBatchProof(BatchProof):
    """One proof of a slots batch: ``order_ops`` (``cancels``, ``places``) or ``settle_fills`` (``volume``).

    ``roots_before`` / ``roots_after`` chain the proofs (only ``account``
    changes; ``order`` and ``fill`` are 0). ``cancels`` / ``places`` have
    ``op_slots`` commitments each (0 for an op that cancels / places
    nothing) and are empty for a fill group; ``volume`` has one lot count
    per market for a fill group and is empty for order ops.
    """

    statement: str = SETTLE_FILLS
    cancels: tuple[int, ...] = ()
    places: tuple[int, ...] = ()

    @classmethod
    def parse(cls, obj: object, k: int, genesis: Genesis) -> "SlotsBatchProof":
        label = f"batch proof {k}"
        d = mapping(obj, label)
        statement = get(d, "statement", label)
        if statement not in SLOTS_BATCH_STATEMENTS:
            raise EntryError(
                f"{label} statement must be 'order_ops' or 'settle_fills', got {statement!r:.40}"
            )
        before = Roots.parse(get(d, "roots_before", label), f"{label} roots_before")
        after = Roots.parse(get(d, "roots_after", label), f"{label} roots_after")
        p = genesis.params
        volume: tuple[int, ...] = ()
        cancels: tuple[int, ...] = ()
        places: tuple[int, ...] = ()
        if statement == ORDER_OPS:
            cancels, places = (_per_op(d, key, label, p.op_slots) for key in ("cancels", "places"))
        else:
            raw = as_list(get(d, "volume", label), f"{label} volume")
            if len(raw) != p.markets:
                raise EntryError(f"{label} volume has {len(raw)} entries for {p.markets} markets")
            volume = tuple(uint(v, f"{label} volume[{i}]") for i, v in enumerate(raw))
        return cls(ProofData.from_json(d, label), before, after, volume, statement, cancels, places)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.proof.to_json(),
            "statement": self.statement,
            "roots_before": self.roots_before.to_json(),
            "roots_after": self.roots_after.to_json(),
        }
        if self.statement == ORDER_OPS:
            out["cancels"] = [str(h) for h in self.cancels]
            out["places"] = [str(h) for h in self.places]
        else:
            out["volume"] = [str(v) for v in self.volume]
        return out


def _per_op(d: Mapping[str, Any], key: str, label: str, op_slots: int) -> tuple[int, ...]:
    """The ``op_slots`` commitments of an order_ops proof's ``cancels`` or ``places``."""
    raw = as_list(get(d, key, label), f"{label} {key}")
    if len(raw) != op_slots:
        raise EntryError(f"{label} {key} has {len(raw)} entries for {op_slots} ops")
    return tuple(field_element(h, f"{label} {key}[{j}]") for j, h in enumerate(raw))


BATCH_PROOF_PARSERS[SLOTS_STATE] = SlotsBatchProof.parse
