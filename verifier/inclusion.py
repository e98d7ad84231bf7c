"""Account inclusion: is my account, as the operator showed it to me, in a verified ledger state?

A trader gets an *opening* of their account leaf from the exchange
(``GET /v1/accounts/{i}/inclusion``: ``account``, ``root``, ``leaf``,
``siblings`` and ``opening`` = pub_x, pub_y, balance, positions, nonce,
blinding). ``check_inclusion`` decides, from public ledger data only:

* path: the leaf hash of the opening (``verifier.encoding.account_leaf``)
  with the siblings at the account's index gives the stated root;
* root: that root is the account root of an entry the replay verified;
* pubkey: the opening's key is the one the ledger's ``open`` entry published
  for that index;
* history (optional): balance and positions equal what the trader's own
  history implies at that root: the ledger's public account ops for the
  index (opens and deposits minus withdrawals) plus the trader's fills, each
  at its batch's signed marks with the fee of ``verifier.accounting.fill_effect``.

``LedgerHistory`` is collected while ``verifier.ledger.replay`` reads the
entries (``HistoryRecorder`` wraps the entry lookup), so a URL source is read
once. Only entries the replay verified are used: if the replay fails, no
root is trusted.

Malformed input (an opening or fills file with missing or mistyped fields)
raises ``InclusionInputError`` (one line; the CLI exits 2). A well-formed
opening that does not hold is a failed ``Check`` (exit 1). Pure: no I/O,
never imports prover or exchange, never runs node.
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from verifier.accounting import apply_fill, fill_effect
from verifier.babyjub import Point
from verifier.encoding import BUY, SELL, AccountState, account_leaf
from verifier.field import FieldError
from verifier.ledger import ReplayReport
from verifier.ledger.parse import EntryError, as_list, mapping, sint, uint
from verifier.merkle import MerkleError, compute_root
from verifier.protocol import FEE_ACCOUNT

__all__ = [
    "AccountOp",
    "BatchMarks",
    "Check",
    "Fill",
    "FillHistory",
    "HistoryRecorder",
    "InclusionInputError",
    "InclusionResult",
    "LedgerHistory",
    "Opening",
    "check_inclusion",
    "ledger_checks",
    "parse_fills",
    "parse_opening",
]

# Account 0 is the insurance / fee account (docs/ledger.md): it is credited
# every fill's fees, which no single trader's history shows.

_P = ParamSpec("_P")
_R = TypeVar("_R")


class InclusionInputError(ValueError):
    """An opening or fills file is malformed (CLI exit 2). The message is one line."""


# ---------------------------------------------------------------- parsing


def _input_errors(parse: Callable[_P, _R]) -> Callable[_P, _R]:
    """``parse`` with the ledger parsers' EntryError reported as an InclusionInputError."""

    @functools.wraps(parse)
    def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return parse(*args, **kwargs)
        except EntryError as exc:
            raise InclusionInputError(str(exc)) from None

    return wrapped


def _field(d: Mapping[str, Any], *names: str, what: str) -> Any:
    for name in names:
        if name in d:
            return d[name]
    raise InclusionInputError(f"{what} has no {names[0]!r}")


@dataclass(frozen=True)
class Opening:
    """One account leaf opened under ``root`` with its Merkle path."""

    account: int
    root: int
    siblings: tuple[int, ...]
    state: AccountState
    stated_leaf: int | None = None

    @property
    def pubkey(self) -> Point:
        return Point(self.state.pub_x, self.state.pub_y)


@_input_errors
def parse_opening(obj: object) -> Opening:
    """Parse the inclusion endpoint's JSON (``opening`` nested, or its fields at the top).

    Accepts ``account`` or ``index`` for the leaf index and either
    ``pub_x``/``pub_y`` or ``pubkey: {x, y}`` for the key.
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
    positions = as_list(_field(o, "positions", what="opening"), "positions")
    state = AccountState(
        pub_x=pub_x,
        pub_y=pub_y,
        balance=sint(_field(o, "balance", what="opening"), "balance"),
        positions=tuple(sint(p, f"positions[{i}]") for i, p in enumerate(positions)),
        nonce=uint(_field(o, "nonce", what="opening"), "nonce"),
        blinding=uint(_field(o, "blinding", what="opening"), "blinding"),
    )
    siblings = as_list(_field(d, "siblings", what="opening file"), "siblings")
    leaf = d.get("leaf")
    return Opening(
        account=uint(_field(d, "account", "index", what="opening file"), "account"),
        root=uint(_field(d, "root", what="opening file"), "root"),
        siblings=tuple(uint(s, f"siblings[{i}]") for i, s in enumerate(siblings)),
        state=state,
        stated_leaf=None if leaf is None else uint(leaf, "leaf"),
    )


@dataclass(frozen=True)
class Fill:
    """One fill of the trader's: ``quantity`` lots bought or sold in batch ``batch_id``."""

    batch_id: int
    market: int
    side: int
    quantity: int
    price: int | None = None  # if the trader recorded it, it must be the batch's mark


@dataclass(frozen=True)
class FillHistory:
    """The trader's side of the history.

    ``fills`` is per batch (enough for balance and positions). ``unbatched``
    holds (market, side, lots) filled without saying in which batch (the
    account view's orders): enough for positions, not for the balance.
    """

    fills: tuple[Fill, ...]
    unbatched: tuple[tuple[int, int, int], ...] = ()


def _side(value: object, what: str) -> int:
    if value in ("buy", "BUY"):
        return BUY
    if value in ("sell", "SELL"):
        return SELL
    side = uint(value, what)
    if side not in (BUY, SELL):
        raise InclusionInputError(f"{what} must be 0 (buy) or 1 (sell)")
    return side


def _parse_fill(obj: object, what: str, defaults: Mapping[str, Any] | None = None) -> Fill:
    d = {**(defaults or {}), **mapping(obj, what)}
    price = d.get("price")
    return Fill(
        batch_id=uint(_field(d, "batch_id", "batch", what=what), f"{what}.batch_id"),
        market=uint(_field(d, "market", what=what), f"{what}.market"),
        side=_side(_field(d, "side", what=what), f"{what}.side"),
        quantity=uint(_field(d, "quantity", "filled", what=what), f"{what}.quantity"),
        price=None if price is None else uint(price, f"{what}.price"),
    )


@_input_errors
def parse_fills(obj: object, account: int) -> FillHistory:
    """Parse a fills file: ``{"fills": [...]}`` or an account view (``GET /v1/accounts/{i}``).

    In an account view each order with ``filled`` > 0 counts towards the
    positions; if the order also lists ``fills`` (``batch_id``, ``quantity``)
    those count per batch instead. Orders of another account are refused.
    """
    d = mapping(obj, "fills file")
    if "account" in d and uint(d["account"], "fills file account") != account:
        raise InclusionInputError(
            f"the fills file is for account {d['account']}, the opening for {account}"
        )
    fills: list[Fill] = []
    unbatched: list[tuple[int, int, int]] = []
    if "fills" in d:
        for i, f in enumerate(as_list(d["fills"], "fills")):
            fills.append(_parse_fill(f, f"fills[{i}]"))
    if "orders" in d:
        for i, raw in enumerate(as_list(d["orders"], "orders")):
            what = f"orders[{i}]"
            order = mapping(raw, what)
            if "account" in order and uint(order["account"], f"{what}.account") != account:
                raise InclusionInputError(f"{what} belongs to account {order['account']}")
            market = uint(_field(order, "market", what=what), f"{what}.market")
            side = _side(_field(order, "side", what=what), f"{what}.side")
            filled = uint(order.get("filled", 0), f"{what}.filled")
            if "fills" in order:
                per_batch = [
                    _parse_fill(f, f"{what}.fills[{k}]", {"market": market, "side": side})
                    for k, f in enumerate(as_list(order["fills"], f"{what}.fills"))
                ]
                if sum(f.quantity for f in per_batch) != filled:
                    raise InclusionInputError(f"{what}: its fills do not add up to filled")
                fills.extend(per_batch)
            elif filled:
                unbatched.append((market, side, filled))
    if "fills" not in d and "orders" not in d:
        raise InclusionInputError("the fills file has neither 'fills' nor 'orders'")
    return FillHistory(tuple(fills), tuple(unbatched))


# ---------------------------------------------------------------- ledger facts


@dataclass(frozen=True)
class AccountOp:
    entry_index: int
    op: str
    account: int
    amount: int
    pubkey: Point


@dataclass(frozen=True)
class BatchMarks:
    entry_index: int
    batch_id: int
    prices: tuple[int, ...]


@dataclass
class LedgerHistory:
    """Public facts of the verified entries that inclusion needs."""

    account_depth: int
    fee_bps: tuple[int, ...]
    # account root -> the last verified entry whose roots_after.account it is
    account_roots: dict[int, int] = field(default_factory=dict)
    ops: list[AccountOp] = field(default_factory=list)
    batches: dict[int, BatchMarks] = field(default_factory=dict)

    def pubkey(self, account: int) -> Point | None:
        for op in self.ops:
            if op.op == "open" and op.account == account:
                return op.pubkey
        return None


class HistoryRecorder:
    """Wraps an entry lookup; remembers each entry's public facts as replay reads it.

    Facts are kept per index (a re-read overwrites), and ``history`` keeps
    only the entries the replay verified.
    """

    def __init__(self, entries: Callable[[int], object | None]) -> None:
        self._entries = entries
        self._facts: dict[int, tuple[int, AccountOp | None, BatchMarks | None]] = {}

    def __call__(self, index: int) -> object | None:
        obj = self._entries(index)
        if isinstance(obj, Mapping):
            try:
                self._facts[index] = _facts(obj, index)
            except (KeyError, TypeError, ValueError):
                # Malformed: the replay rejects this entry, so it is never used.
                self._facts.pop(index, None)
        return obj

    def history(self, genesis: object, report: ReplayReport) -> LedgerHistory:
        """Facts of entries 0..checked_to; raises ValueError if the replay did not verify."""
        if not report.ok or report.genesis is None:
            first = report.first_failure
            raise ValueError(f"the ledger does not verify ({first})")
        if report.resumed:
            raise ValueError("inclusion needs a full replay, not one resumed from a state file")
        g = report.genesis
        h = LedgerHistory(account_depth=g.params.account_depth, fee_bps=tuple(g.fee_bps))
        h.account_roots[g.roots.account] = 0
        for index in range(1, report.checked_to + 1):
            if index not in self._facts:
                raise ValueError(f"entry {index} was verified but not recorded")
            account_root, op, batch = self._facts[index]
            h.account_roots[account_root] = index
            if op is not None:
                h.ops.append(op)
            if batch is not None:
                h.batches[batch.batch_id] = batch
        return h


def _facts(e: Mapping[str, Any], index: int) -> tuple[int, AccountOp | None, BatchMarks | None]:
    account_root = int(e["roots_after"]["account"])
    op: AccountOp | None = None
    batch: BatchMarks | None = None
    if e.get("kind") == "account_op":
        key = e["pubkey"]
        if isinstance(key, list):
            key = {"x": key[0], "y": key[1]}
        op = AccountOp(
            index, str(e["op"]), int(e["account"]), int(e["amount"]),
            Point(int(key["x"]), int(key["y"])),
        )  # fmt: skip
    elif e.get("kind") == "batch":
        prices = tuple(int(p) for p in e["oracle"]["marks"])
        batch = BatchMarks(index, int(e["batch_id"]), prices)
    return account_root, op, batch


# ---------------------------------------------------------------- checking


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class InclusionResult:
    account: int
    root: int
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_failure
        return {
            "ok": self.ok,
            "account": self.account,
            "root": str(self.root),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "first_failure": None if first is None else f"{first.name}: {first.detail}",
            "notes": list(self.notes),
        }


def _check_path(opening: Opening, depth: int) -> Check:
    if len(opening.siblings) != depth:
        return Check(
            "path", False, f"{len(opening.siblings)} siblings for an account tree of depth {depth}"
        )
    if opening.account >= 1 << depth:
        return Check("path", False, f"index {opening.account} is outside the account tree")
    try:
        leaf = account_leaf(opening.state)
    except FieldError as exc:
        return Check("path", False, f"the opening does not encode to a leaf: {exc}")
    if opening.stated_leaf is not None and opening.stated_leaf != leaf:
        return Check("path", False, "the stated leaf is not the hash of the opening")
    try:
        root = compute_root(leaf, opening.account, list(opening.siblings))
    except MerkleError as exc:
        return Check("path", False, f"malformed path: {exc}")
    if root != opening.root:
        return Check("path", False, "the opening's leaf and path do not hash to the stated root")
    return Check("path", True, f"leaf at index {opening.account} hashes to the stated root")


def _expected_state(
    opening: Opening, history: LedgerHistory, at_entry: int, fills: FillHistory
) -> tuple[int, list[int], list[str], str | None]:
    """(balance, positions, notes, problem) the history implies at entry ``at_entry``."""
    markets = len(history.fee_bps)
    notes: list[str] = []
    balance = 0
    for op in history.ops:
        if op.account == opening.account and op.entry_index <= at_entry:
            balance += -op.amount if op.op == "withdraw" else op.amount
    positions = [0] * markets
    later = 0
    for n, f in enumerate(fills.fills):
        marks = history.batches.get(f.batch_id)
        if marks is None:
            return (
                balance,
                positions,
                notes,
                f"fill {n} is in batch {f.batch_id}, not on the ledger",
            )
        if f.market >= markets:
            return balance, positions, notes, f"fill {n} names market {f.market}"
        if marks.entry_index > at_entry:
            later += 1
            continue
        price = marks.prices[f.market]
        if f.price is not None and f.price != price:
            return (
                balance,
                positions,
                notes,
                f"fill {n} says price {f.price}, batch {f.batch_id} marked {price}",
            )
        effect = fill_effect(f.quantity, price, history.fee_bps[f.market])
        if f.side == BUY:
            balance, moved = apply_fill(
                balance, positions, f.market, f.quantity, effect.buyer_balance_delta
            )
        else:
            balance, moved = apply_fill(
                balance, positions, f.market, -f.quantity, effect.seller_balance_delta
            )
        positions = list(moved)
    if later:
        notes.append(f"{later} fill(s) in batches after this root were left out")
    for market, side, lots in fills.unbatched:
        if market >= markets:
            return balance, positions, notes, f"an order names market {market}"
        positions[market] += lots if side == BUY else -lots
    return balance, positions, notes, None


def ledger_checks(
    account: int, root: int, pubkey: Point, history: LedgerHistory
) -> tuple[list[Check], int | None]:
    """The ``root`` and ``pubkey`` checks (shared by every account-state format).

    Returns the two checks and the verified entry whose account root is
    ``root`` (None if none is).
    """
    checks: list[Check] = []
    at_entry = history.account_roots.get(root)
    if at_entry is None:
        checks.append(
            Check("root", False, "the root is not the account root of any verified ledger entry")
        )
    else:
        checks.append(Check("root", True, f"account root after entry {at_entry}"))
    published = history.pubkey(account)
    if published is None:
        checks.append(Check("pubkey", False, f"the ledger never opened account {account}"))
    elif (published.x, published.y) != (pubkey.x, pubkey.y):
        checks.append(
            Check("pubkey", False, f"not the key the ledger's open of account {account} published")
        )
    else:
        opened_at = next(
            op.entry_index for op in history.ops if op.op == "open" and op.account == account
        )
        checks.append(Check("pubkey", True, f"published by the open at entry {opened_at}"))
    return checks, at_entry


def check_inclusion(
    opening: Opening, history: LedgerHistory, fills: FillHistory | None = None
) -> InclusionResult:
    """Run every check; the result holds each one's verdict and reason."""
    result = InclusionResult(account=opening.account, root=opening.root)
    result.checks.append(_check_path(opening, history.account_depth))

    checks, at_entry = ledger_checks(opening.account, opening.root, opening.pubkey, history)
    result.checks.extend(checks)

    if fills is not None:
        if opening.account == FEE_ACCOUNT:
            raise InclusionInputError(
                "account 0 is the fee account: its balance includes every trader's fees, "
                "so a fills history cannot be checked for it"
            )
        if at_entry is None:
            result.checks.append(Check("history", False, "no verified root to compare at"))
        else:
            result.checks.append(_check_history(opening, history, at_entry, fills, result.notes))
    return result


def _check_history(
    opening: Opening,
    history: LedgerHistory,
    at_entry: int,
    fills: FillHistory,
    notes: list[str],
) -> Check:
    balance, positions, more, problem = _expected_state(opening, history, at_entry, fills)
    notes.extend(more)
    if problem is not None:
        return Check("history", False, problem)
    state = opening.state
    if list(state.positions) != positions:
        return Check(
            "history", False, f"positions {list(state.positions)}, the history implies {positions}"
        )
    if fills.unbatched:
        notes.append(
            "balance NOT checked: the fills file gives filled lots without their batches, "
            "so the marks they traded at are unknown"
        )
        return Check("history", True, f"positions {positions} match (balance not checked)")
    if state.balance != balance:
        return Check("history", False, f"balance {state.balance}, the history implies {balance}")
    return Check("history", True, f"balance {balance} and positions {positions} match")
