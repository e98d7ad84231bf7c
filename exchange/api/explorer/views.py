"""What the explorer shows, computed from public ledger entries only (pure, no I/O).

Each function takes ``verifier.export.LedgerEntry`` objects and returns plain
dataclasses and lists for the templates. Only fields that docs/ledger.md lists as public
are read; proofs are summarised (how many, for which statement), never
rendered. An entry kind this module does not know (new kinds land while the
explorer is older) is shown with its kind, roots and its short public scalar
fields, never refused.

Money stays integer: amounts, marks and volumes are passed through as ints
(decimal strings on the ledger), formatted with thousands separators only in
``fmt_int``.
"""

import bisect
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifier.export import LedgerEntry, Roots
from verifier.oracle import OracleFormatError, stressed_prices

#: The ledger state the explorer shows (genesis ``"state"``): the recycling-order state,
#: the only one the service runs (list-state ledgers are no longer supported).
SLOTS_STATE = "slots"
# Which statement proves each kind of entry (docs/ledger.md); kinds absent here need no
# proof. A batch names each proof's statement (order_ops / settle_fills); the breakdown
# comes from those.
PROVEN_BY: dict[str, str] = {
    "account_op": "account_update",
    "batch": "order_ops/settle_fills",
    "solvency": "solvency_walk",
    "sweep": "health_sweep",
    "liquidation": "liquidate",
    "deleverage": "deleverage",
}
KNOWN_KINDS = (
    "genesis",
    "account_op",
    "order",
    "cancel",
    "batch",
    "funding",
    "sweep",
    "liquidation",
    "deleverage",
    "solvency",
)
# Kinds with their own columns; every other kind also lists its short public scalar fields.
_OWN_COLUMNS = ("genesis", "account_op", "order", "batch", "solvency")
# Body fields never shown as "details": proofs are summarised, the rest has its own column.
_HIDDEN_FIELDS = {
    "proof",
    "proofs",
    "public_signals",
    "chunks",
    "steps",
    "trades",
    "ranking",
    "oracle",
    "roots_before",
    "roots_after",
    "prev_hash",
    "signature",
}
_MAX_STATEMENT_CHARS = 40
_ORDER_SCAN = 100_000  # a cancel usually follows its order closely
_MAX_SCALAR_CHARS = 80


def fmt_int(value: object) -> str:
    """An integer (or decimal string) with thin thousands separators; anything else as is."""
    try:
        n = int(str(value))
    except ValueError:
        return str(value)
    return f"{n:,}"


def short(value: object, n: int = 10) -> str:
    """A long decimal field element shortened for a table cell (full value in the title)."""
    s = str(value)
    return s if len(s) <= 2 * n + 1 else f"{s[:n]}…{s[-6:]}"


@dataclass
class ProofStatus:
    """``proven`` (n proofs attached), ``pending`` (a proven kind without proofs) or ``none``.

    ``parts`` counts proofs per statement when the proofs name theirs (a slots
    batch: ``(("order_ops", 3), ("settle_fills", 1))``), in first-seen order.
    """

    state: str
    statement: str | None
    count: int
    parts: tuple[tuple[str, int], ...] = ()


def proof_status(kind: str, body: Mapping[str, Any]) -> ProofStatus:
    statement = PROVEN_BY.get(kind)
    count = 1 if "proof" in body else 0
    per_statement: dict[str, int] = {}
    for key in ("proofs", "chunks", "steps", "trades"):
        items = body.get(key)
        if not isinstance(items, list):
            continue
        for p in items:
            if isinstance(p, Mapping) and "proof" in p:
                count += 1
                named = p.get("statement")
                if isinstance(named, str):
                    named = named[:_MAX_STATEMENT_CHARS]
                    per_statement[named] = per_statement.get(named, 0) + 1
    if statement is None and count == 0:
        return ProofStatus("none", None, 0)
    if statement is None:
        statement = str(body.get("statement", "?"))[:_MAX_STATEMENT_CHARS]
    parts = tuple(per_statement.items())
    if parts:
        statement = "/".join(name for name, _ in parts)
    return ProofStatus("proven" if count else "pending", statement, count, parts)


def ints(values: object) -> list[int]:
    if not isinstance(values, list):
        return []
    out = []
    for v in values:
        try:
            out.append(int(str(v)))
        except ValueError:
            return []
    return out


def oracle_marks(oracle: object) -> list[int]:
    """Mark prices of an oracle report JSON (``marks``; ``prices`` in the v1 format)."""
    if not isinstance(oracle, Mapping):
        return []
    return ints(oracle.get("marks", oracle.get("prices")))


def scalar_details(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Short public scalar fields of a body (for unknown kinds and the entry page)."""
    out: list[tuple[str, str]] = []
    for key, value in body.items():
        if key in _HIDDEN_FIELDS or key in ("index", "kind"):
            continue
        if isinstance(value, bool | int | str):
            text = str(value)
        elif isinstance(value, list) and all(isinstance(v, int | str) for v in value):
            text = "[" + ", ".join(str(v) for v in value) + "]"
        else:
            continue
        if len(text) > _MAX_SCALAR_CHARS:
            text = short(text, 30)
        out.append((key, text))
    return out


@dataclass
class EntryRow:
    """One ledger entry as a table row."""

    index: int
    kind: str
    known: bool
    summary: str
    roots_before: dict[str, str]
    roots_after: dict[str, str]
    changed: list[str]
    proof: ProofStatus
    batch_id: int | None = None
    marks: list[int] = field(default_factory=list)
    volume: list[int] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)


def _roots(before: Roots, after: Roots) -> tuple[dict[str, str], dict[str, str]]:
    """The roots a row shows, before and after. The order and fill roots are
    always 0 (orders live in each account's leaf, fills settle into the account tree): shown
    only where one is not 0, which no valid slots ledger has, so such a cheat stays visible."""
    b, a = (
        {"account": str(r.account), "fill": str(r.fill), "order": str(r.order)}
        for r in (before, after)
    )
    keys = [k for k in b if k == "account" or b[k] != "0" or a[k] != "0"]
    return {k: b[k] for k in keys}, {k: a[k] for k in keys}


def _count(values: object) -> int:
    """How many entries of a padded commitment list are real (not ``"0"``)."""
    return sum(1 for v in ints(values) if v != 0) if isinstance(values, list) else 0


def _batch_summary(body: Mapping[str, Any]) -> str:
    text = f"batch {body.get('batch_id', '?')}"
    proofs = body.get("proofs")
    if not isinstance(proofs, list):
        return text
    ops = [p for p in proofs if isinstance(p, Mapping) and p.get("statement") == "order_ops"]
    groups = sum(
        1 for p in proofs if isinstance(p, Mapping) and p.get("statement") == "settle_fills"
    )
    places = sum(_count(p.get("places")) for p in ops)
    cancels = sum(_count(p.get("cancels")) for p in ops)
    placed = f"{places} placed, " if any("places" in p for p in ops) else ""
    return f"{text}: {placed}{cancels} cancelled, {groups} fill group{'s' * (groups != 1)}"


def _summary(kind: str, body: Mapping[str, Any]) -> str:
    if kind == "genesis":
        text = f"exchange {body.get('exchange_id', '?')}, {len(body.get('markets') or [])} markets"
        return text + ", recycling-order (slots) state"
    if kind == "account_op":
        op = body.get("op", "?")
        amount = body.get("amount")
        return f"{op} account {body.get('account', '?')}" + (
            f", amount {fmt_int(amount)}" if amount is not None else ""
        )
    if kind == "order":
        return f"order #{body.get('order_index', '?')} listed (commitment only)"
    if kind == "cancel":
        return f"cancel of the order with commitment {short(body.get('commitment', '?'))}"
    if kind == "batch":
        return _batch_summary(body)
    if kind == "funding":
        return "funding index update (cumulative, per market)"
    if kind == "sweep":
        flagged = body.get("flagged")
        n = len(flagged) if isinstance(flagged, list) else "?"
        return f"health sweep: {n} account(s) below maintenance margin"
    if kind == "liquidation":
        steps = body.get("steps")
        n = len(steps) if isinstance(steps, list) else "?"
        return f"liquidation of account {body.get('account', '?')} ({n} step(s))"
    if kind == "deleverage":
        trades = body.get("trades")
        n = len(trades) if isinstance(trades, list) else "?"
        return (
            f"auto-deleveraging of account {body.get('account', '?')}: {n} trade(s), "
            f"shortfall {fmt_int(body.get('shortfall', '?'))}"
        )
    if kind == "solvency":
        result = body.get("result")
        verdict = "?"
        if isinstance(result, Mapping):
            verdict = "solvent" if result.get("solvent") else "NOT solvent"
        return ("stress test: " if body.get("stress") else "solvency: ") + verdict
    return f"{kind} entry"


def entry_row(entry: LedgerEntry) -> EntryRow:
    """``entry`` as a table row."""
    body = entry.body
    kind = entry.kind
    marks = oracle_marks(body.get("oracle"))
    batch_id = body.get("batch_id")
    before, after = _roots(entry.roots_before, entry.roots_after)
    return EntryRow(
        index=entry.index,
        kind=kind,
        known=kind in KNOWN_KINDS,
        summary=_summary(kind, body),
        roots_before=before,
        roots_after=after,
        changed=[k for k in before if before[k] != after[k]],
        proof=proof_status(kind, body),
        batch_id=batch_id if isinstance(batch_id, int) else None,
        marks=marks if kind in ("batch", "funding", "sweep", "liquidation", "deleverage") else [],
        volume=ints(body.get("volume")) if kind == "batch" else [],
        details=scalar_details(body) if kind not in _OWN_COLUMNS else [],
    )


@dataclass
class BatchPart:
    """One proof of a batch: its statement (slots: ``order_ops`` / ``settle_fills``), what it
    carries publicly (volume; cancelled and placed commitments, non-zero ones counted) and
    the account root it ends at."""

    statement: str
    has_proof: bool
    volume: list[int]
    cancels: int | None
    places: int | None
    account_root_after: str


def batch_parts(body: Mapping[str, Any]) -> list[BatchPart]:
    proofs = body.get("proofs")
    default = PROVEN_BY["batch"]
    out = []
    for p in proofs if isinstance(proofs, list) else []:
        if not isinstance(p, Mapping):
            continue
        after = p.get("roots_after")
        statement = p.get("statement")
        out.append(
            BatchPart(
                statement=statement[:_MAX_STATEMENT_CHARS]
                if isinstance(statement, str)
                else default,
                has_proof="proof" in p,
                volume=ints(p.get("volume")),
                cancels=_count(p.get("cancels")) if "cancels" in p else None,
                places=_count(p.get("places")) if "places" in p else None,
                account_root_after=str(after.get("account", ""))
                if isinstance(after, Mapping)
                else "",
            )
        )
    return out


def find_order(
    entries: Sequence[LedgerEntry], order_positions: Sequence[int], commitment: object, before: int
) -> int | None:
    """Index of the latest ``order`` entry before ``before`` with ``commitment`` (a cancel's
    order), scanning back at most ``_ORDER_SCAN`` orders; None if not found."""
    try:
        wanted = int(str(commitment))
    except ValueError:
        return None
    end = bisect.bisect_left(order_positions, before)
    for pos in reversed(order_positions[max(end - _ORDER_SCAN, 0) : end]):
        try:
            if int(str(entries[pos].body.get("commitment"))) == wanted:
                return pos
        except ValueError:
            continue
    return None


@dataclass
class Market:
    id: int
    symbol: str


def markets(genesis: LedgerEntry) -> list[Market]:
    out = []
    for i, m in enumerate(genesis.body.get("markets") or []):
        if isinstance(m, Mapping):
            out.append(Market(int(m.get("id", i)), str(m.get("symbol", f"market {i}"))))
    return out


@dataclass
class BatchPoint:
    """Marks and volume of one batch, for the charts."""

    index: int
    batch_id: int
    marks: list[int]
    volume: list[int]


def batch_series(entries: Iterable[LedgerEntry]) -> list[BatchPoint]:
    out = []
    for e in entries:
        if e.kind != "batch":
            continue
        row = entry_row(e)
        out.append(BatchPoint(e.index, row.batch_id or 0, row.marks, row.volume))
    return out


@dataclass
class SolvencyRow:
    """One proven solvency (or stress) result from the ledger.

    ``marks`` are the marks the proof used: the oracle's, or for a stress
    scenario the stressed marks ``verifier.oracle.stressed_prices`` derives
    from them and the public ``shock_bps`` vector.
    """

    index: int
    stress: bool
    solvent: bool
    deficit: int
    fund: int
    margin: int  # fund - deficit: how much loss the insurance fund could still absorb
    total_collateral: int
    marks: list[int]
    shock_bps: list[int]
    oracle_batch: int | None
    chunks: int
    reasons: list[str]


def solvency_rows(entries: Iterable[LedgerEntry]) -> list[SolvencyRow]:
    out = []
    for e in entries:
        if e.kind != "solvency":
            continue
        b = e.body
        result = b.get("result") if isinstance(b.get("result"), Mapping) else {}
        assert isinstance(result, Mapping)
        oracle = b.get("oracle") if isinstance(b.get("oracle"), Mapping) else {}
        assert isinstance(oracle, Mapping)
        deficit = _int(result.get("deficit"))
        fund = _int(result.get("fund"))
        marks = oracle_marks(oracle)
        stress = b.get("stress")
        shock = ints(stress.get("shock_bps")) if isinstance(stress, Mapping) else []
        if shock:
            try:
                marks = list(stressed_prices(marks, shock))
            except OracleFormatError:
                marks = []
        chunks = b.get("chunks")
        reasons = result.get("reasons")
        out.append(
            SolvencyRow(
                index=e.index,
                stress=bool(stress),
                solvent=bool(result.get("solvent")),
                deficit=deficit,
                fund=fund,
                margin=fund - deficit,
                total_collateral=_int(b.get("total_collateral")),
                marks=marks,
                shock_bps=shock,
                oracle_batch=_opt_int(oracle.get("seq", oracle.get("batch_id"))),
                chunks=len(chunks) if isinstance(chunks, list) else 0,
                reasons=[str(r) for r in reasons] if isinstance(reasons, list) else [],
            )
        )
    return out


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def risk_entries(entries: Iterable[LedgerEntry], word: str) -> list[EntryRow]:
    """Entries whose kind mentions ``word`` (``liquidat``, ``funding``, ``deleverag``)."""
    return [entry_row(e) for e in entries if word in e.kind]


def account_roots(entries: Iterable[LedgerEntry]) -> dict[int, int]:
    """Every published account root -> the first entry whose ``roots_after`` has it."""
    out: dict[int, int] = {}
    for e in entries:
        out.setdefault(e.roots_after.account, e.index)
    return out


def opened_pubkey(entries: Iterable[LedgerEntry], account: int) -> dict[str, str] | None:
    """The public key the ledger's ``open`` entry published for ``account``, if any."""
    for e in entries:
        b = e.body
        if e.kind == "account_op" and b.get("op") == "open" and b.get("account") == account:
            key = b.get("pubkey")
            if isinstance(key, Mapping):
                return {"x": str(key.get("x")), "y": str(key.get("y"))}
    return None


class LedgerIndex:
    """Positions of entries by kind and the published account roots, kept up to date incrementally.

    The ledger is append-only, so ``update`` reads only the entries appended
    since the last call: a page on a ledger of a million entries costs the
    page, not a scan. Holds positions and roots only (public).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen = 0
        self.by_kind: dict[str, list[int]] = {}
        self.account_roots: dict[int, int] = {}
        self.opened: dict[int, int] = {}  # account -> index of its open entry

    def update(self, entries: Sequence[LedgerEntry]) -> "LedgerIndex":
        with self._lock:
            for e in entries[self.seen :]:
                self.by_kind.setdefault(e.kind, []).append(e.index)
                self.account_roots.setdefault(e.roots_after.account, e.index)
                b = e.body
                if e.kind == "account_op" and b.get("op") == "open":
                    account = b.get("account")
                    if isinstance(account, int):
                        self.opened.setdefault(account, e.index)
            self.seen = max(self.seen, len(entries))
        return self

    def counts(self) -> dict[str, int]:
        return {kind: len(positions) for kind, positions in self.by_kind.items()}

    def of_kind(self, kind: str) -> list[int]:
        return self.by_kind.get(kind, [])
