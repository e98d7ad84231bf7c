"""Account inclusion, shared part: the ledger facts a replay records and the root / key checks.

A trader gets an *opening* of their account leaf from the exchange
(``GET /v1/accounts/{i}/inclusion``) and checks it against a verified ledger
with ``verifier.inclusion_slots.check_slots_inclusion`` (the leaf and path of
the quaternary account tree). This module holds what does not depend on the
leaf format:

* ``LedgerHistory``: public facts of the verified entries (each account root
  and the last entry ending at it, the account ops with the keys their opens
  published), collected while ``verifier.ledger.replay`` reads the entries
  (``HistoryRecorder`` wraps the entry lookup, so a URL source is read once).
  Only entries the replay verified are used: if the replay fails, no root is
  trusted;
* ``ledger_checks``: root (the stated root is the account root of a verified
  entry) and pubkey (the opening's key is the one the ledger's ``open`` of that
  index published);
* ``Check`` / ``InclusionResult`` (each verdict with its reason) and
  ``InclusionInputError`` (malformed input, one line; the CLI exits 2).

The retired list state's binary-tree openings and trader fill-history check
are gone with it. Pure: no I/O, never imports prover or exchange, never runs node.
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from verifier.babyjub import Point
from verifier.ledger import ReplayReport
from verifier.ledger.parse import EntryError

__all__ = [
    "AccountOp",
    "BatchMarks",
    "Check",
    "HistoryRecorder",
    "InclusionInputError",
    "InclusionResult",
    "LedgerHistory",
    "latest_root_check",
    "ledger_checks",
]

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
    # the account root after the last verified entry, and that entry's index
    latest_root: int | None = None
    latest_entry: int = 0

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
        h.latest_root = g.roots.account
        for index in range(1, report.checked_to + 1):
            if index not in self._facts:
                raise ValueError(f"entry {index} was verified but not recorded")
            account_root, op, batch = self._facts[index]
            h.account_roots[account_root] = index
            h.latest_root, h.latest_entry = account_root, index
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
    # None: the root is no verified account root; False: a verified but older (stale) root
    is_latest: bool | None = None
    latest_root: int | None = None
    latest_entry: int | None = None
    warnings: list[str] = field(default_factory=list)

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
            "is_latest": self.is_latest,
            "latest_account_root": None if self.latest_root is None else str(self.latest_root),
            "latest_entry": self.latest_entry,
            "warnings": list(self.warnings),
        }


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


def latest_root_check(
    result: InclusionResult, at_entry: int | None, history: LedgerHistory, *, require: bool
) -> None:
    """Record in ``result`` whether its root (verified at ``at_entry``) is the ledger's latest.

    A verified but older root is a stale opening: the account may have changed
    since (the operator could keep showing a trader a pre-change leaf). It is a
    warning, or, with ``require`` (``darkpool-verify inclusion --latest``), the
    failed check ``latest``. With ``require`` a latest root adds a passing check.
    """
    result.latest_root = history.latest_root
    result.latest_entry = history.latest_entry
    if at_entry is None or history.latest_root is None:
        return  # the root check already failed: no verified root to compare
    result.is_latest = result.root == history.latest_root
    if result.is_latest:
        if require:
            result.checks.append(
                Check(
                    "latest", True, f"the latest account root (after entry {history.latest_entry})"
                )
            )
        return
    latest = (
        ""
        if at_entry + 1 == history.latest_entry
        else f"; the latest is the account root after entry {history.latest_entry}"
    )
    detail = (
        f"not the ledger's latest account root: entry {at_entry + 1} changed it{latest} "
        "(ask for a fresh opening)"
    )
    if require:
        result.checks.append(Check("latest", False, detail))
    else:
        result.warnings.append(detail)
