"""Account inclusion on the recycling-order state (a "slots" ledger): quaternary tree, 8-field leaf.

A trader holds an *opening* of
their account leaf (``account``, ``root``, ``leaf`` (optional), ``siblings``:
one ``[s0, s1, s2]`` triple per level of the quaternary account tree,
bottom-up, and ``opening`` = pub_x (or pubkey {x, y}), pub_y, balance,
positions, checkpoints (the funding indices it last settled to), order_root,
nonce, blinding). ``check_slots_inclusion`` decides from public ledger data:

* path: ``verifier.account_state.account_state_leaf`` of the opening with the
  siblings at the account's index (``verifier.quadtree.quad_root``) gives the
  stated root;
* root and pubkey: exactly ``verifier.inclusion.ledger_checks`` (the root is
  the account root of a verified entry; the key is the one the ledger's open
  of that index published);
* latest: whether that root is the ledger's latest account root (a stale
  opening is a warning, or a failure when the caller requires the latest).

A balance history check (the retired list state had one, from the trader's
fills) is not offered: a slots balance also moves by funding settlements,
which ``LedgerHistory`` does not record yet. Malformed input raises ``InclusionInputError`` (one line); a
well-formed opening that does not hold is a failed ``Check``. Pure: no I/O,
never imports prover or exchange.
"""

from dataclasses import dataclass
from typing import Any

from verifier.account_state import AccountRecord, account_state_leaf
from verifier.babyjub import Point
from verifier.field import FieldError
from verifier.inclusion import (
    Check,
    InclusionInputError,
    InclusionResult,
    LedgerHistory,
    _field,
    _input_errors,
    latest_root_check,
    ledger_checks,
)
from verifier.ledger.parse import as_list, mapping, sint, uint
from verifier.quadtree import QuadTreeError, quad_root

__all__ = ["SlotsOpening", "check_slots_inclusion", "parse_slots_opening"]


@dataclass(frozen=True)
class SlotsOpening:
    """One account leaf of the quaternary tree opened under ``root``."""

    account: int
    root: int
    siblings: tuple[tuple[int, int, int], ...]
    record: AccountRecord
    stated_leaf: int | None = None

    @property
    def pubkey(self) -> Point:
        return Point(self.record.pub_x, self.record.pub_y)


def _signed_list(o: Any, name: str) -> tuple[int, ...]:
    values = as_list(_field(o, name, what="opening"), name)
    return tuple(sint(v, f"{name}[{i}]") for i, v in enumerate(values))


@_input_errors
def parse_slots_opening(obj: object) -> SlotsOpening:
    """Parse a slots opening (``opening`` nested, or its fields at the top).

    Accepts ``account`` or ``index`` and either ``pub_x``/``pub_y`` or
    ``pubkey: {x, y}``, as ``verifier.inclusion.parse_opening``.
    """
    d = mapping(obj, "opening file")
    o = mapping(d["opening"], "opening") if "opening" in d else d
    if "pubkey" in o:
        key = mapping(o["pubkey"], "opening.pubkey")
        pub_x = uint(_field(key, "x", what="opening.pubkey"), "pubkey.x")
        pub_y = uint(_field(key, "y", what="opening.pubkey"), "pubkey.y")
    else:
        pub_x = uint(_field(o, "pub_x", what="opening"), "pub_x")
        pub_y = uint(_field(o, "pub_y", what="opening"), "pub_y")
    record = AccountRecord(
        pub_x=pub_x,
        pub_y=pub_y,
        balance=sint(_field(o, "balance", what="opening"), "balance"),
        positions=_signed_list(o, "positions"),
        checkpoints=_signed_list(o, "checkpoints"),
        order_root=uint(_field(o, "order_root", what="opening"), "order_root"),
        nonce=uint(_field(o, "nonce", what="opening"), "nonce"),
        blinding=uint(_field(o, "blinding", what="opening"), "blinding"),
    )
    steps = as_list(_field(d, "siblings", what="opening file"), "siblings")
    siblings: list[tuple[int, int, int]] = []
    for level, step in enumerate(steps):
        triple = as_list(step, f"siblings[{level}]")
        if len(triple) != 3:
            raise InclusionInputError(f"siblings[{level}] must list the three other children")
        a, b, c = (uint(v, f"siblings[{level}][{k}]") for k, v in enumerate(triple))
        siblings.append((a, b, c))
    leaf = d.get("leaf")
    return SlotsOpening(
        account=uint(_field(d, "account", "index", what="opening file"), "account"),
        root=uint(_field(d, "root", what="opening file"), "root"),
        siblings=tuple(siblings),
        record=record,
        stated_leaf=None if leaf is None else uint(leaf, "leaf"),
    )


def _check_path(opening: SlotsOpening, levels: int) -> Check:
    if len(opening.siblings) != levels:
        return Check(
            "path",
            False,
            f"{len(opening.siblings)} path levels for a quaternary account tree of {levels}",
        )
    if opening.account >= 1 << (2 * levels):
        return Check("path", False, f"index {opening.account} is outside the account tree")
    try:
        leaf = account_state_leaf(opening.record)
    except FieldError as exc:
        return Check("path", False, f"the opening does not encode to a leaf: {exc}")
    if opening.stated_leaf is not None and opening.stated_leaf != leaf:
        return Check("path", False, "the stated leaf is not the hash of the opening")
    try:
        root = quad_root(leaf, opening.account, opening.siblings)
    except QuadTreeError as exc:
        return Check("path", False, f"malformed path: {exc}")
    if root != opening.root:
        return Check("path", False, "the opening's leaf and path do not hash to the stated root")
    return Check("path", True, f"leaf at index {opening.account} hashes to the stated root")


def check_slots_inclusion(
    opening: SlotsOpening, history: LedgerHistory, *, require_latest: bool = False
) -> InclusionResult:
    """Path, root and pubkey checks of a slots opening; each verdict with its reason.

    ``history.account_depth`` is the genesis depth; the quaternary tree has
    half as many levels. A verified root older than the ledger's latest account
    root sets ``is_latest`` False and adds a warning, or, with
    ``require_latest``, a failed ``latest`` check (``latest_root_check``).
    """
    result = InclusionResult(account=opening.account, root=opening.root)
    result.checks.append(_check_path(opening, history.account_depth // 2))
    checks, at_entry = ledger_checks(opening.account, opening.root, opening.pubkey, history)
    result.checks.extend(checks)
    latest_root_check(result, at_entry, history, require=require_latest)
    result.notes.append(
        "balance history not checked: slots balances also move by funding settlements"
    )
    return result
