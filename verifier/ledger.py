"""Ledger replay: check a darkpool public ledger entry by entry, without trusting the operator.

Input is parsed JSON (docs/ledger.md): the ``ledger.json`` manifest, the
genesis entry, a lookup ``entry(index) -> object | None`` and the verification
keys shipped with the export (optionally checked against keys the user pinned).
``replay`` walks the entries, keeping only public state (the three roots, the
order-commitment list, total collateral, the last batch id, the number of
accounts), and produces a ``ReplayReport`` with every failure as a
``LedgerFailure(entry_index, reason)``.

What is checked (each failure names its entry):

* format: manifest ``format`` is ``darkpool-ledger/v1``; ``entries`` counts
  every entry including genesis, so the entries are 0..N-1 and no file N exists;
* genesis: params, markets, oracle key, empty roots, and the verification keys:
  each shipped key hashes (``groth16.vkey_hash``) to genesis ``vkey_hashes``
  and, if the user pinned keys, to the pinned key's hash too;
* every entry: ``index`` is its position, ``roots_before`` equals the previous
  entry's ``roots_after``, and only the roots its kind may change change;
* order: ``order_index`` is the next position, the commitment is a new
  non-zero field element, and ``roots_after.order`` is the recomputed root;
* account_op: opens use the next free index, deposits/withdrawals name an
  opened account, withdrawals carry an oracle-signed mark report no older than
  the last batch, total collateral never goes negative, and the public inputs
  are recomputed (roots, op, index, amount, pubkey, marks, margin bps);
* batch: oracle signature, batch id strictly increasing and equal to the
  report's, proofs chained root to root from ``roots_before`` to
  ``roots_after`` at the current order root, volumes summed, public inputs
  recomputed from the signed prices and the genesis market parameters;
* solvency: claimed at the current account root and total collateral, oracle
  signature (a non-stress report no older than the last batch), chunk public
  inputs recomputed, and ``check_solvency`` (root rebuilt from subroots, sum of
  balances = total collateral, open interest nets to zero, deficit <= fund);
  the published ``result`` must equal what the last chunk opened. A stress
  report (shocked marks) whose deficit exceeds the fund is reported as
  insolvent-under-stress but does not invalidate the ledger: it is a result,
  not a broken promise.

Operator-supplied ``public_signals`` are never used for verification; the
verifier recomputes them and reports any difference. Groth16 proofs are
checked after all cheap checks, one ``batch_verify`` per statement (optionally
split over processes), falling back to ``find_invalid`` to name the entry.
Replay stops at the first structural failure (later roots mean nothing once
the chain breaks) but still verifies the proofs of the entries before it, so
``first_failure`` is truly the first.

Pure: no file or network I/O (``verifier.source`` reads exports,
``verifier.state`` stores incremental state). Never imports prover or
exchange and never runs node.
"""

import hashlib
import json
import multiprocessing
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from verifier import groth16
from verifier.babyjub import Point
from verifier.eddsa import (
    SerializationError,
    public_key_from_dict,
    signature_from_dict,
    verify_poseidon,
)
from verifier.encoding import oracle_message
from verifier.field import FieldError, R
from verifier.merkle import MerkleError, MerkleTree, zero_hashes
from verifier.params import (
    AMOUNT_BITS,
    BPS_DENOM,
    PRICE_BITS,
    TIME_BITS,
    CircuitParams,
    ParamsError,
    domain_tag,
)
from verifier.protocol import STATEMENTS
from verifier.statements import account_op as account_op_statement
from verifier.statements import settle_batch as settle_batch_statement
from verifier.statements import solvency_chunk as solvency_statement

__all__ = [
    "LEDGER_FORMAT",
    "STATEMENTS",
    "Genesis",
    "LedgerFailure",
    "Market",
    "OracleReport",
    "ProofChecker",
    "ReplayReport",
    "ReplayState",
    "Roots",
    "SolvencySummary",
    "check_proofs",
    "genesis_hash",
    "parse_genesis",
    "replay",
]

LEDGER_FORMAT = "darkpool-ledger/v1"
ENTRY_KINDS: tuple[str, ...] = ("genesis", "account_op", "order", "batch", "solvency")
ACCOUNT_OPS: dict[str, int] = {"open": 0, "deposit": 1, "withdraw": 2}

# Which roots each entry kind may change (docs/ledger.md).
_ALLOWED_CHANGES: Mapping[str, frozenset[str]] = {
    "order": frozenset({"order"}),
    "account_op": frozenset({"account"}),
    "batch": frozenset({"account", "fill"}),
    "solvency": frozenset(),
}

# Proofs per batch_verify call when running in one process: large enough that
# the per-call final exponentiation is amortised, small enough for progress.
SERIAL_BATCH = 64

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_SIGNED_DECIMAL = re.compile(r"0|-?[1-9][0-9]{0,77}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class LedgerFailure:
    """One way the ledger does not hold, at ``entry_index``."""

    entry_index: int
    reason: str

    def __str__(self) -> str:
        return f"entry {self.entry_index}: {self.reason}"


class _EntryError(Exception):
    """A check failed inside one entry; becomes a LedgerFailure at that entry."""


@dataclass(frozen=True)
class Roots:
    """The three public state roots (field elements)."""

    account: int
    fill: int
    order: int

    def to_dict(self) -> dict[str, str]:
        return {"account": str(self.account), "fill": str(self.fill), "order": str(self.order)}

    @classmethod
    def parse(cls, obj: object, what: str) -> "Roots":
        d = _mapping(obj, what)
        return cls(
            account=_field_element(_get(d, "account", what), f"{what}.account"),
            fill=_field_element(_get(d, "fill", what), f"{what}.fill"),
            order=_field_element(_get(d, "order", what), f"{what}.order"),
        )

    def changed(self, other: "Roots") -> set[str]:
        return {k for k in ("account", "fill", "order") if getattr(self, k) != getattr(other, k)}


@dataclass(frozen=True)
class Market:
    id: int
    symbol: str
    lot_size: int
    tick_size: int
    imf_bps: int
    mmf_bps: int
    fee_bps: int


@dataclass(frozen=True)
class Genesis:
    """The validated genesis entry."""

    ledger_id: str
    exchange_id: str
    params: CircuitParams
    markets: tuple[Market, ...]
    oracle_pubkey: Point
    vkey_hashes: dict[str, str]
    roots: Roots

    @property
    def oracle_tag(self) -> int:
        return domain_tag("oracle", self.exchange_id)

    @property
    def imf_bps(self) -> list[int]:
        return [m.imf_bps for m in self.markets]

    @property
    def fee_bps(self) -> list[int]:
        return [m.fee_bps for m in self.markets]


@dataclass(frozen=True)
class OracleReport:
    batch_id: int
    timestamp: int
    prices: tuple[int, ...]


@dataclass(frozen=True)
class SolvencySummary:
    """The latest solvency report and what the verifier concluded about it."""

    entry_index: int
    stress: bool
    solvent: bool
    account_root: int
    total_collateral: int
    balance: int
    positions: tuple[int, ...]
    deficit: int
    fund: int
    prices: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_index": self.entry_index,
            "stress": self.stress,
            "solvent": self.solvent,
            "account_root": str(self.account_root),
            "total_collateral": str(self.total_collateral),
            "balance": str(self.balance),
            "positions": [str(p) for p in self.positions],
            "deficit": str(self.deficit),
            "fund": str(self.fund),
            "prices": [str(p) for p in self.prices],
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "SolvencySummary":
        return cls(
            entry_index=int(obj["entry_index"]),
            stress=bool(obj["stress"]),
            solvent=bool(obj["solvent"]),
            account_root=int(obj["account_root"]),
            total_collateral=int(obj["total_collateral"]),
            balance=int(obj["balance"]),
            positions=tuple(int(p) for p in obj["positions"]),
            deficit=int(obj["deficit"]),
            fund=int(obj["fund"]),
            prices=tuple(int(p) for p in obj["prices"]),
        )


@dataclass
class ReplayState:
    """Everything needed to continue a replay after entry ``last_index``.

    ``order_commitments`` is the full public order list: it is needed anyway to
    check that commitments are unique, and it rebuilds the order tree in O(n).
    ``last_entry_hash`` lets a later run notice that an already verified entry
    was rewritten (the ledger is append-only).
    """

    ledger_id: str
    last_index: int
    last_entry_hash: str
    roots: Roots
    order_commitments: list[int]
    total_collateral: int
    last_batch_id: int | None
    account_count: int
    entries_verified: int = 0
    batches: int = 0
    proofs_verified: int = 0
    latest_solvency: SolvencySummary | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger_id": self.ledger_id,
            "last_index": self.last_index,
            "last_entry_hash": self.last_entry_hash,
            "roots": self.roots.to_dict(),
            "order_commitments": [str(c) for c in self.order_commitments],
            "total_collateral": str(self.total_collateral),
            "last_batch_id": self.last_batch_id,
            "account_count": self.account_count,
            "entries_verified": self.entries_verified,
            "batches": self.batches,
            "proofs_verified": self.proofs_verified,
            "latest_solvency": (
                None if self.latest_solvency is None else self.latest_solvency.to_dict()
            ),
        }

    @classmethod
    def from_dict(cls, obj: object) -> "ReplayState":
        """Parse a stored state; raises ValueError (any kind) if it is malformed."""
        d = _mapping(obj, "state")
        try:
            solvency = d.get("latest_solvency")
            last_batch = d.get("last_batch_id")
            return cls(
                ledger_id=_hex64(d["ledger_id"], "state.ledger_id"),
                last_index=_uint(d["last_index"], "state.last_index"),
                last_entry_hash=_hex64(d["last_entry_hash"], "state.last_entry_hash"),
                roots=Roots.parse(d["roots"], "state.roots"),
                order_commitments=[
                    _field_element(c, "state.order_commitments")
                    for c in _list(d["order_commitments"], "state.order_commitments")
                ],
                total_collateral=_uint(d["total_collateral"], "state.total_collateral"),
                last_batch_id=None if last_batch is None else _uint(last_batch, "batch id"),
                account_count=_uint(d["account_count"], "state.account_count"),
                entries_verified=_uint(d.get("entries_verified", 0), "entries_verified"),
                batches=_uint(d.get("batches", 0), "state.batches"),
                proofs_verified=_uint(d.get("proofs_verified", 0), "state.proofs_verified"),
                latest_solvency=(
                    None
                    if solvency is None
                    else SolvencySummary.from_dict(_mapping(solvency, "state.latest_solvency"))
                ),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"state is missing or mistypes {exc}") from None
        except _EntryError as exc:
            raise ValueError(str(exc)) from None


@dataclass
class ReplayReport:
    """The outcome of one replay run."""

    manifest_entries: int
    genesis: Genesis | None
    state: ReplayState | None
    failures: list[LedgerFailure] = field(default_factory=list)
    checked_from: int = 0
    checked_to: int = -1
    proofs_this_run: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    notes: list[str] = field(default_factory=list)
    keys_pinned: bool = False
    solvency_warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def first_failure(self) -> LedgerFailure | None:
        return min(self.failures) if self.failures else None

    def to_dict(self) -> dict[str, Any]:
        first = self.first_failure
        g = self.genesis
        s = self.state
        return {
            "ok": self.ok,
            "ledger_id": None if g is None else g.ledger_id,
            "exchange_id": None if g is None else g.exchange_id,
            "profile": None if g is None else g.params.to_dict(),
            "entries": self.manifest_entries,
            "checked_from": self.checked_from,
            "checked_to": self.checked_to,
            "resumed": self.resumed,
            "batches": None if s is None else s.batches,
            "accounts": None if s is None else s.account_count,
            "orders": None if s is None else len(s.order_commitments),
            "total_collateral": None if s is None else str(s.total_collateral),
            "proofs_verified_total": None if s is None else s.proofs_verified,
            "proofs_verified_this_run": dict(self.proofs_this_run),
            "latest_roots": None if s is None else s.roots.to_dict(),
            "latest_solvency": (
                None if s is None or s.latest_solvency is None else s.latest_solvency.to_dict()
            ),
            "vkey_hashes": None if g is None else dict(g.vkey_hashes),
            "keys_pinned": self.keys_pinned,
            "first_failure": (
                None if first is None else {"entry": first.entry_index, "reason": first.reason}
            ),
            "failures": [
                {"entry": f.entry_index, "reason": f.reason} for f in sorted(self.failures)
            ],
            "notes": list(self.notes),
            "solvency_warnings": list(self.solvency_warnings),
        }


# ---------------------------------------------------------------------------
# Proof checking (batched, optionally over processes)
# ---------------------------------------------------------------------------


class Progress(Protocol):
    """Progress sink: ``phase`` names the step, ``done`` of ``total`` units finished."""

    def __call__(self, phase: str, done: int, total: int) -> None: ...


ProofItem = tuple[groth16.Proof, list[int]]


class ProofChecker(Protocol):
    """Returns the indices of the items that do not verify under ``vk``."""

    def __call__(
        self,
        vk: groth16.PreparedVerificationKey,
        vk_json: object,
        items: Sequence[ProofItem],
        progress: Callable[[int], None],
    ) -> list[int]: ...


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _check_serial(
    vk: groth16.PreparedVerificationKey,
    vk_json: object,
    items: Sequence[ProofItem],
    progress: Callable[[int], None],
) -> list[int]:
    bad: list[int] = []
    done = 0
    for part in _chunks(len(items), SERIAL_BATCH):
        chunk = [items[i] for i in part]
        if not groth16.batch_verify(vk, chunk):
            bad.extend(part[j] for j in groth16.find_invalid(vk, chunk))
        done += len(part)
        progress(done)
    return bad


# Worker side of the process pool: the prepared key is built once per worker
# (one pairing) from the key's JSON, which pickles far more cheaply than FQ12.
_WORKER_KEYS: dict[str, groth16.PreparedVerificationKey] = {}


def _worker_key(vk_json: object) -> groth16.PreparedVerificationKey:
    digest = groth16.vkey_hash(vk_json)
    if digest not in _WORKER_KEYS:
        _WORKER_KEYS[digest] = groth16.prepare(groth16.VerificationKey.from_snarkjs(vk_json))
    return _WORKER_KEYS[digest]


def _worker_batch(args: tuple[object, list[ProofItem]]) -> list[int]:
    vk_json, chunk = args
    vk = _worker_key(vk_json)
    if groth16.batch_verify(vk, chunk):
        return []
    return groth16.find_invalid(vk, chunk)


def _pool_checker(jobs: int) -> ProofChecker:
    def check(
        vk: groth16.PreparedVerificationKey,
        vk_json: object,
        items: Sequence[ProofItem],
        progress: Callable[[int], None],
    ) -> list[int]:
        if len(items) < 2:
            return _check_serial(vk, vk_json, items, progress)
        # At least `jobs` pieces so every worker is busy, at most SERIAL_BATCH
        # proofs each so progress moves.
        size = max(1, min(SERIAL_BATCH, -(-len(items) // jobs)))
        parts = list(_chunks(len(items), size))
        bad: list[int] = []
        done = 0
        # spawn: workers import only the verifier, never inherit a parent's threads.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(processes=min(jobs, len(parts))) as pool:
            tasks = [(vk_json, [items[i] for i in part]) for part in parts]
            for part, result in zip(parts, pool.imap(_worker_batch, tasks), strict=True):
                bad.extend(part[j] for j in result)
                done += len(part)
                progress(done)
        return sorted(bad)

    return check


def check_proofs(jobs: int = 1) -> ProofChecker:
    """A ProofChecker running in this process (``jobs <= 1``) or over ``jobs`` processes.

    The pool uses the ``spawn`` start method (no inherited threads or locks),
    so a script calling it with ``jobs > 1`` needs the usual
    ``if __name__ == "__main__":`` guard; the ``darkpool-verify`` entry point has it.
    """
    return _check_serial if jobs <= 1 else _pool_checker(jobs)


@dataclass
class _PendingProof:
    entry_index: int
    label: str
    proof: groth16.Proof
    public_inputs: list[int]


# ---------------------------------------------------------------------------
# Small strict parsers (raise _EntryError with a one-line reason)
# ---------------------------------------------------------------------------


def _mapping(obj: object, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise _EntryError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj


def _list(obj: object, what: str) -> list[Any]:
    if not isinstance(obj, list):
        raise _EntryError(f"{what} must be a list, got {type(obj).__name__}")
    return obj


def _get(d: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in d:
        raise _EntryError(f"{what} has no {key!r}")
    return d[key]


def _uint(value: object, what: str) -> int:
    """A non-negative integer: a JSON int or a canonical decimal string."""
    if isinstance(value, bool):
        raise _EntryError(f"{what} must be an integer, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise _EntryError(f"{what} is negative ({value})")
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    raise _EntryError(f"{what} must be a non-negative integer, got {value!r:.60}")


def _sint(value: object, what: str) -> int:
    """A signed integer: a JSON int or a signed decimal string."""
    if isinstance(value, bool):
        raise _EntryError(f"{what} must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _SIGNED_DECIMAL.fullmatch(value):
        return int(value)
    raise _EntryError(f"{what} must be an integer, got {value!r:.60}")


def _bits(value: object, bits: int, what: str) -> int:
    n = _uint(value, what)
    if n >= 1 << bits:
        raise _EntryError(f"{what} = {n} does not fit in {bits} bits")
    return n


def _field_element(value: object, what: str) -> int:
    n = _uint(value, what)
    if n >= R:
        raise _EntryError(f"{what} is not a field element (>= r)")
    return n


def _hex64(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise _EntryError(f"{what} must be 64 lowercase hex digits")
    return value


def _point(obj: object, what: str) -> Point:
    """A Baby Jubjub public key, as ``["x", "y"]`` (docs/ledger.md) or ``{"x", "y"}``."""
    if isinstance(obj, list) and len(obj) == 2:
        obj = {"x": obj[0], "y": obj[1]}
    if isinstance(obj, Mapping):
        obj = {
            k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
            for k, v in obj.items()
        }
    try:
        return public_key_from_dict(obj)
    except SerializationError as exc:
        raise _EntryError(f"{what}: {exc}") from None


def canonical_json_hash(obj: object) -> str:
    """SHA-256 hex of the canonical JSON form (sorted keys, no whitespace) of ``obj``."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def genesis_hash(genesis: object) -> str:
    """The ledger id: hash of the canonical genesis JSON."""
    return canonical_json_hash(genesis)


def _oracle_report(obj: object, genesis: Genesis, what: str) -> OracleReport:
    """Parse an oracle report and check its signature under the genesis oracle key."""
    d = _mapping(obj, what)
    batch_id = _field_element(_get(d, "batch_id", what), f"{what}.batch_id")
    timestamp = _bits(_get(d, "timestamp", what), TIME_BITS, f"{what}.timestamp")
    prices_raw = _list(_get(d, "prices", what), f"{what}.prices")
    if len(prices_raw) != genesis.params.markets:
        raise _EntryError(
            f"{what} has {len(prices_raw)} prices for {genesis.params.markets} markets"
        )
    prices = tuple(_bits(p, PRICE_BITS, f"{what}.prices[{i}]") for i, p in enumerate(prices_raw))
    sig_raw = _get(d, "signature", what)
    sig_obj = dict(_mapping(sig_raw, f"{what}.signature"))
    r8 = sig_obj.get("R8")
    if isinstance(r8, list) and len(r8) == 2:
        sig_obj["R8"] = {"x": r8[0], "y": r8[1]}
    if isinstance(sig_obj.get("S"), int) and not isinstance(sig_obj.get("S"), bool):
        sig_obj["S"] = str(sig_obj["S"])
    try:
        signature = signature_from_dict(sig_obj)
    except SerializationError as exc:
        raise _EntryError(f"{what}.signature is malformed: {exc}") from None
    try:
        message = oracle_message(genesis.oracle_tag, batch_id, timestamp, prices)
    except FieldError as exc:
        raise _EntryError(f"{what}: {exc}") from None
    if not verify_poseidon(message, signature, genesis.oracle_pubkey):
        raise _EntryError(f"{what} signature does not verify under the genesis oracle key")
    return OracleReport(batch_id, timestamp, prices)


# ---------------------------------------------------------------------------
# Genesis
# ---------------------------------------------------------------------------


def _parse_market(obj: object, position: int) -> Market:
    what = f"markets[{position}]"
    d = _mapping(obj, what)
    symbol = _get(d, "symbol", what)
    if not isinstance(symbol, str) or not symbol:
        raise _EntryError(f"{what}.symbol must be a non-empty string")
    market = Market(
        id=_uint(_get(d, "id", what), f"{what}.id"),
        symbol=symbol,
        lot_size=_uint(_get(d, "lot_size", what), f"{what}.lot_size"),
        tick_size=_uint(_get(d, "tick_size", what), f"{what}.tick_size"),
        imf_bps=_uint(_get(d, "imf_bps", what), f"{what}.imf_bps"),
        mmf_bps=_uint(_get(d, "mmf_bps", what), f"{what}.mmf_bps"),
        fee_bps=_uint(_get(d, "fee_bps", what), f"{what}.fee_bps"),
    )
    if market.id != position:
        raise _EntryError(f"{what}.id is {market.id}, expected {position}")
    if market.lot_size < 1 or market.tick_size < 1:
        raise _EntryError(f"{what}: lot and tick sizes must be positive")
    for name in ("imf_bps", "mmf_bps", "fee_bps"):
        if getattr(market, name) > BPS_DENOM:
            raise _EntryError(f"{what}.{name} exceeds {BPS_DENOM}")
    if market.mmf_bps > market.imf_bps:
        raise _EntryError(f"{what}: maintenance margin exceeds initial margin")
    return market


def parse_genesis(obj: object) -> Genesis:
    """Validate entry 0 (without keys); raises ValueError with a one-line reason."""
    try:
        return _parse_genesis(obj)
    except _EntryError as exc:
        raise ValueError(str(exc)) from None


def _parse_genesis(obj: object) -> Genesis:
    d = _mapping(obj, "genesis")
    if _get(d, "index", "genesis") != 0:
        raise _EntryError("genesis index must be 0")
    if _get(d, "kind", "genesis") != "genesis":
        raise _EntryError("entry 0 is not of kind 'genesis'")
    exchange_id = _get(d, "exchange_id", "genesis")
    if not isinstance(exchange_id, str) or not exchange_id:
        raise _EntryError("genesis exchange_id must be a non-empty string")
    params_raw = _mapping(_get(d, "params", "genesis"), "genesis params")
    name = params_raw.get("name", "ledger")
    if not isinstance(name, str):
        raise _EntryError("genesis params.name must be a string")
    try:
        params = CircuitParams.from_dict(name, dict(params_raw))
    except ParamsError as exc:
        raise _EntryError(f"genesis params: {exc}") from None
    markets_raw = _list(_get(d, "markets", "genesis"), "genesis markets")
    if len(markets_raw) != params.markets:
        raise _EntryError(
            f"genesis lists {len(markets_raw)} markets but the circuits have {params.markets}"
        )
    markets = tuple(_parse_market(m, i) for i, m in enumerate(markets_raw))
    oracle_pubkey = _point(_get(d, "oracle_pubkey", "genesis"), "genesis oracle_pubkey")
    hashes_raw = _mapping(_get(d, "vkey_hashes", "genesis"), "genesis vkey_hashes")
    vkey_hashes: dict[str, str] = {}
    for statement in STATEMENTS:
        if statement not in hashes_raw:
            raise _EntryError(f"genesis vkey_hashes lacks {statement!r}")
        vkey_hashes[statement] = _hex64(hashes_raw[statement], f"genesis vkey_hashes.{statement}")
    roots = Roots.parse(_get(d, "roots_after", "genesis"), "genesis roots_after")
    empty = Roots(
        account=zero_hashes(params.account_depth)[-1],
        fill=zero_hashes(params.order_depth)[-1],
        order=zero_hashes(params.order_depth)[-1],
    )
    for k in sorted(roots.changed(empty)):
        raise _EntryError(f"genesis {k} root is not the empty-tree root")
    if "roots_before" in d and Roots.parse(d["roots_before"], "genesis roots_before") != roots:
        raise _EntryError("genesis roots_before differ from its roots_after")
    return Genesis(
        ledger_id=genesis_hash(obj),
        exchange_id=exchange_id,
        params=params,
        markets=markets,
        oracle_pubkey=oracle_pubkey,
        vkey_hashes=vkey_hashes,
        roots=roots,
    )


def _load_keys(
    genesis: Genesis,
    shipped: Mapping[str, object],
    pinned: Mapping[str, object] | None,
) -> dict[str, tuple[groth16.PreparedVerificationKey, object]]:
    """The key of each statement, checked against genesis and the user's pins."""
    keys: dict[str, tuple[groth16.PreparedVerificationKey, object]] = {}
    for statement in STATEMENTS:
        expected = genesis.vkey_hashes[statement]
        if pinned is not None:
            if statement not in pinned:
                raise _EntryError(f"no pinned verification key for {statement}")
            pinned_hash = groth16.vkey_hash(pinned[statement])
            if pinned_hash != expected:
                raise _EntryError(
                    f"genesis pins {statement} key {expected[:16]}…, "
                    f"but your pinned key hashes to {pinned_hash[:16]}…"
                )
        if statement in shipped:
            vk_json = shipped[statement]
            actual = groth16.vkey_hash(vk_json)
            if actual != expected:
                raise _EntryError(
                    f"vkeys/{statement}.json hashes to {actual[:16]}…, "
                    f"not genesis vkey_hashes.{statement} {expected[:16]}…"
                )
        elif pinned is not None:
            vk_json = pinned[statement]
        else:
            raise _EntryError(f"the export has no verification key for {statement}")
        try:
            vk = groth16.VerificationKey.from_snarkjs(vk_json)
        except groth16.Groth16Error as exc:
            raise _EntryError(f"{statement} verification key: {exc}") from None
        keys[statement] = (groth16.prepare(vk), vk_json)
    return keys


# ---------------------------------------------------------------------------
# Replay
# ---------------------------------------------------------------------------


class _Replayer:
    """Mutable replay state plus the per-kind checks."""

    def __init__(
        self,
        genesis: Genesis,
        keys: Mapping[str, tuple[groth16.PreparedVerificationKey, object]],
        state: ReplayState,
    ) -> None:
        self.genesis = genesis
        self.keys = keys
        self.state = state
        self.order_tree = MerkleTree.from_leaves(
            state.order_commitments, genesis.params.order_depth
        )
        self.commitment_set = set(state.order_commitments)
        self.pending: dict[str, list[_PendingProof]] = {s: [] for s in STATEMENTS}

    # -- shared -----------------------------------------------------------

    def _proof(
        self, statement: str, obj: object, expected: list[int], index: int, label: str
    ) -> None:
        """Parse a proof, compare the operator's public signals with ours, queue it."""
        d = _mapping(obj, label)
        vk = self.keys[statement][0]
        if vk.n_public != len(expected):
            raise _EntryError(
                f"{statement} key expects {vk.n_public} public inputs, "
                f"the statement has {len(expected)}"
            )
        try:
            proof = groth16.Proof.from_snarkjs(_get(d, "proof", label))
            signals = groth16.parse_public_signals(_get(d, "public_signals", label), vk.n_public)
        except groth16.Groth16Error as exc:
            raise _EntryError(f"{label}: {exc}") from None
        for position, (theirs, ours) in enumerate(zip(signals, expected, strict=True)):
            if theirs != ours:
                raise _EntryError(
                    f"{label}: public signal {position} is {theirs}, "
                    f"but the ledger data give {ours}"
                )
        self.pending[statement].append(_PendingProof(index, label, proof, expected))

    def _fresh_report(self, report: OracleReport, what: str) -> None:
        last = self.state.last_batch_id
        if last is not None and report.batch_id < last:
            raise _EntryError(f"{what} is for batch {report.batch_id}, older than batch {last}")

    # -- kinds ------------------------------------------------------------

    def order(self, e: Mapping[str, Any], index: int, before: Roots, after: Roots) -> None:
        s = self.state
        order_index = _uint(_get(e, "order_index", "order"), "order_index")
        if order_index != len(s.order_commitments):
            raise _EntryError(
                f"order_index is {order_index}, expected the next position "
                f"{len(s.order_commitments)}"
            )
        commitment = _field_element(_get(e, "commitment", "order"), "commitment")
        if commitment == 0:
            raise _EntryError("commitment 0 is the empty leaf, not an order")
        if commitment in self.commitment_set:
            raise _EntryError("commitment repeats an earlier order")
        try:
            self.order_tree.append(commitment)
        except MerkleError as exc:
            raise _EntryError(f"order list: {exc}") from None
        if after.order != self.order_tree.root:
            raise _EntryError("roots_after.order is not the root of the order list")
        s.order_commitments.append(commitment)
        self.commitment_set.add(commitment)

    def account_op(self, e: Mapping[str, Any], index: int, before: Roots, after: Roots) -> None:
        s = self.state
        g = self.genesis
        op = _get(e, "op", "account_op")
        if op not in ACCOUNT_OPS:
            raise _EntryError(f"op must be open, deposit or withdraw, got {op!r:.40}")
        account = _uint(_get(e, "account", "account_op"), "account")
        amount = _bits(_get(e, "amount", "account_op"), AMOUNT_BITS, "amount")
        pubkey = _point(_get(e, "pubkey", "account_op"), "pubkey")
        if op == "open":
            if account != s.account_count:
                raise _EntryError(
                    f"open of account {account}, but the next free index is {s.account_count}"
                )
            if account >= 1 << g.params.account_depth:
                raise _EntryError("the account tree is full")
        elif account >= s.account_count:
            raise _EntryError(f"{op} on account {account}, which has not been opened")
        if op != "open" and amount == 0:
            raise _EntryError(f"{op} of amount 0")
        # Opens and deposits have no margin check; their marks are zeros (the
        # circuit's MarginCheck is disabled, but the inputs are still bound).
        prices: tuple[int, ...] = (0,) * g.params.markets
        if op == "withdraw":
            report = _oracle_report(_get(e, "marks", "withdraw"), g, "marks")
            self._fresh_report(report, "marks")
            prices = report.prices
        elif e.get("marks") is not None:
            raise _EntryError(f"{op} carries marks (only withdrawals do)")
        try:
            expected = account_op_statement.public_inputs(
                old_root=before.account,
                new_root=after.account,
                op=ACCOUNT_OPS[op],
                index=account,
                amount=amount,
                pub=pubkey,
                prices=prices,
                imf_bps=g.imf_bps,
                account_depth=g.params.account_depth,
            )
        except ValueError as exc:
            raise _EntryError(f"public inputs: {exc}") from None
        self._proof("account_op", e, expected, index, "account_op proof")
        if op == "withdraw":
            if amount > s.total_collateral:
                raise _EntryError(
                    f"withdraws {amount}, more than the total collateral {s.total_collateral}"
                )
            s.total_collateral -= amount
        else:
            s.total_collateral += amount
        if op == "open":
            s.account_count += 1

    def batch(self, e: Mapping[str, Any], index: int, before: Roots, after: Roots) -> None:
        s = self.state
        g = self.genesis
        m = g.params.markets
        batch_id = _field_element(_get(e, "batch_id", "batch"), "batch_id")
        if s.last_batch_id is not None and batch_id <= s.last_batch_id:
            raise _EntryError(f"batch_id {batch_id} does not increase (last {s.last_batch_id})")
        report = _oracle_report(_get(e, "oracle", "batch"), g, "oracle report")
        if report.batch_id != batch_id:
            raise _EntryError(f"oracle report is for batch {report.batch_id}, not {batch_id}")
        volume_raw = _list(_get(e, "volume", "batch"), "volume")
        if len(volume_raw) != m:
            raise _EntryError(f"volume has {len(volume_raw)} entries for {m} markets")
        volume = [_uint(v, f"volume[{i}]") for i, v in enumerate(volume_raw)]
        proofs = _list(_get(e, "proofs", "batch"), "proofs")
        if not proofs:
            raise _EntryError("a batch has at least one proof")
        cursor = before
        summed = [0] * m
        for k, obj in enumerate(proofs):
            label = f"batch proof {k}"
            d = _mapping(obj, label)
            p_before = Roots.parse(_get(d, "roots_before", label), f"{label} roots_before")
            p_after = Roots.parse(_get(d, "roots_after", label), f"{label} roots_after")
            if p_before != cursor:
                where = "the batch's roots_before" if k == 0 else f"proof {k - 1}'s roots_after"
                raise _EntryError(f"{label} does not start from {where}")
            if p_after.order != before.order:
                raise _EntryError(f"{label} changes the order root")
            p_volume_raw = _list(_get(d, "volume", label), f"{label} volume")
            if len(p_volume_raw) != m:
                raise _EntryError(f"{label} volume has {len(p_volume_raw)} entries for {m} markets")
            p_volume = [_uint(v, f"{label} volume[{i}]") for i, v in enumerate(p_volume_raw)]
            summed = [a + b for a, b in zip(summed, p_volume, strict=True)]
            try:
                expected = settle_batch_statement.public_inputs(
                    old_acc_root=p_before.account,
                    new_acc_root=p_after.account,
                    old_fill_root=p_before.fill,
                    new_fill_root=p_after.fill,
                    order_root=before.order,
                    batch_id=batch_id,
                    timestamp=report.timestamp,
                    prices=report.prices,
                    volume=p_volume,
                    fee_bps=g.fee_bps,
                    imf_bps=g.imf_bps,
                )
            except ValueError as exc:
                raise _EntryError(f"{label} public inputs: {exc}") from None
            self._proof("settle_batch", d, expected, index, label)
            cursor = p_after
        if cursor != after:
            raise _EntryError("the last batch proof does not end at the batch's roots_after")
        if summed != volume:
            raise _EntryError(f"volume {volume} is not the sum of the proofs' volumes {summed}")
        s.last_batch_id = batch_id
        s.batches += 1

    def solvency(self, e: Mapping[str, Any], index: int, before: Roots, after: Roots) -> None:
        s = self.state
        g = self.genesis
        p = g.params
        account_root = _field_element(_get(e, "account_root", "solvency"), "account_root")
        if account_root != before.account:
            raise _EntryError("account_root is not the current account root")
        total = _sint(_get(e, "total_collateral", "solvency"), "total_collateral")
        if total != s.total_collateral:
            raise _EntryError(
                f"total_collateral {total} differs from the ledger's {s.total_collateral}"
            )
        stress = _get(e, "stress", "solvency")
        if not isinstance(stress, bool):
            raise _EntryError("stress must be true or false")
        report = _oracle_report(_get(e, "oracle", "solvency"), g, "oracle report")
        if not stress:
            self._fresh_report(report, "oracle report")
        chunks = _list(_get(e, "chunks", "solvency"), "chunks")
        if not chunks:
            raise _EntryError("a solvency report has at least one chunk")
        if len(chunks) > p.chunks:
            raise _EntryError(f"{len(chunks)} chunks, but the tree has only {p.chunks}")
        n_public = self.keys["solvency_chunk"][0].n_public
        signals: list[list[int]] = []
        for k, obj in enumerate(chunks):
            label = f"solvency chunk {k}"
            d = _mapping(obj, label)
            try:
                signals.append(
                    groth16.parse_public_signals(_get(d, "public_signals", label), n_public)
                )
            except groth16.Groth16Error as exc:
                raise _EntryError(f"{label}: {exc}") from None
        result = solvency_statement.check_solvency(
            signals,
            p.account_depth,
            p.chunk_height,
            s.total_collateral,
            p.markets,
            expected_root=account_root,
            prices=report.prices,
        )
        if result.totals is None:
            raise _EntryError(f"solvency chunks: {'; '.join(result.reasons)}")
        totals = result.totals
        deficit_reason = f"deficit {totals.deficit} exceeds the insurance fund {totals.fund}"
        structural = [r for r in result.reasons if r != deficit_reason]
        if structural:
            raise _EntryError(f"solvency: {'; '.join(structural)}")
        # Recompute each chunk's public inputs from the values that tie the
        # chunks together, so the layout (flags, indices, prices, opening)
        # is ours, not the operator's.
        decoded = [solvency_statement.ChunkPublic.from_signals(x, p.markets) for x in signals]
        for k, (obj, chunk) in enumerate(zip(chunks, decoded, strict=True)):
            last = k == len(chunks) - 1
            try:
                expected = solvency_statement.public_inputs(
                    chunk_index=k,
                    chunk_count=len(chunks),
                    sub_root=chunk.sub_root,
                    prev_commit=chunk.prev_commit,
                    next_commit=chunk.next_commit,
                    prices=report.prices,
                    opening=totals if last else None,
                )
            except ValueError as exc:
                raise _EntryError(f"solvency chunk {k} public inputs: {exc}") from None
            self._proof("solvency_chunk", obj, expected, index, f"solvency chunk {k}")
        claimed = _mapping(_get(e, "result", "solvency"), "result")
        positions_raw = _list(_get(claimed, "positions", "result"), "result.positions")
        claim = (
            _sint(_get(claimed, "balance", "result"), "result.balance"),
            tuple(_sint(x, "result.positions") for x in positions_raw),
            _sint(_get(claimed, "deficit", "result"), "result.deficit"),
            _sint(_get(claimed, "fund", "result"), "result.fund"),
        )
        opened = (totals.balance, totals.positions, totals.deficit, totals.fund)
        solvent = totals.deficit <= totals.fund
        if "solvent" in claimed and claimed["solvent"] is not solvent:
            raise _EntryError(f"result.solvent is {claimed['solvent']!r}, the proofs say {solvent}")
        for name, theirs, ours in zip(
            ("balance", "positions", "deficit", "fund"), claim, opened, strict=True
        ):
            if theirs != ours:
                raise _EntryError(f"result.{name} is {theirs}, but the proofs open {ours}")
        if not solvent and not stress:
            raise _EntryError(f"insolvent: {deficit_reason}")
        s.latest_solvency = SolvencySummary(
            entry_index=index,
            stress=stress,
            solvent=solvent,
            account_root=account_root,
            total_collateral=s.total_collateral,
            balance=totals.balance,
            positions=totals.positions,
            deficit=totals.deficit,
            fund=totals.fund,
            prices=report.prices,
        )

    # -- dispatch ---------------------------------------------------------

    def entry(self, obj: object, index: int) -> None:
        e = _mapping(obj, "entry")
        claimed = e.get("index")
        if isinstance(claimed, bool) or claimed != index:
            raise _EntryError(f"entry file {index} holds an entry with index {claimed!r:.20}")
        kind_raw = e.get("kind")
        if kind_raw == "genesis":
            raise _EntryError("a second genesis entry")
        if not isinstance(kind_raw, str) or kind_raw not in _ALLOWED_CHANGES:
            raise _EntryError(f"unknown entry kind {kind_raw!r:.40}")
        kind: str = kind_raw
        before = Roots.parse(_get(e, "roots_before", kind), "roots_before")
        after = Roots.parse(_get(e, "roots_after", kind), "roots_after")
        if before != self.state.roots:
            names = ", ".join(sorted(before.changed(self.state.roots)))
            raise _EntryError(
                f"roots_before ({names}) differ from the previous entry's roots_after"
            )
        changed = before.changed(after) - _ALLOWED_CHANGES[kind]
        if changed:
            raise _EntryError(
                f"a {kind} entry may not change the {', '.join(sorted(changed))} root"
            )
        check = {
            "order": self.order,
            "account_op": self.account_op,
            "batch": self.batch,
            "solvency": self.solvency,
        }[kind]
        check(e, index, before, after)
        self.state.roots = after


def _phase_ticker(
    tick: Callable[[str, int, int], None], phase: str, total: int
) -> Callable[[int], None]:
    def step(done: int) -> None:
        tick(phase, done, total)

    return step


def replay(
    *,
    manifest: object,
    genesis: object,
    entries: Callable[[int], object | None],
    vkeys: Mapping[str, object],
    pinned_vkeys: Mapping[str, object] | None = None,
    state: ReplayState | None = None,
    checker: ProofChecker | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    """Replay a ledger; resume after ``state`` if it belongs to the same genesis.

    The returned report's ``state`` is the state after the last entry when
    everything holds (store it for the next run); on failure it is the state
    reached before the failure and must not be stored.
    """
    check = checker if checker is not None else check_proofs(1)

    def tick(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress(phase, done, total)

    report = ReplayReport(manifest_entries=0, genesis=None, state=None)
    try:
        m = _mapping(manifest, "ledger.json")
        if m.get("format") != LEDGER_FORMAT:
            raise _EntryError(
                f"ledger format {m.get('format')!r:.40} is not supported (expected {LEDGER_FORMAT})"
            )
        count = m.get("entries")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _EntryError("ledger.json 'entries' must be a positive integer")
        report.manifest_entries = count
        g = _parse_genesis(genesis)
        report.genesis = g
        keys = _load_keys(g, vkeys, pinned_vkeys)
        report.keys_pinned = pinned_vkeys is not None
    except _EntryError as exc:
        report.failures.append(LedgerFailure(0, str(exc)))
        return report

    start_state = ReplayState(
        ledger_id=g.ledger_id,
        last_index=0,
        last_entry_hash=g.ledger_id,
        roots=g.roots,
        order_commitments=[],
        total_collateral=0,
        last_batch_id=None,
        account_count=0,
        entries_verified=1,
    )
    if state is not None and state.ledger_id != g.ledger_id:
        report.notes.append("the state file is for another ledger (genesis differs); starting over")
        state = None
    if state is not None:
        if state.last_index >= count:
            report.failures.append(
                LedgerFailure(
                    count,
                    f"the ledger has {count} entries but entry {state.last_index} "
                    "was verified before: entries were removed",
                )
            )
            report.state = state
            return report
        earlier = entries(state.last_index) if state.last_index > 0 else genesis
        if earlier is None or canonical_json_hash(earlier) != state.last_entry_hash:
            report.failures.append(
                LedgerFailure(
                    state.last_index,
                    "this entry changed since it was verified (the ledger must be append-only)",
                )
            )
            report.state = state
            return report
        report.resumed = True
        current = replace(state, order_commitments=list(state.order_commitments))
    else:
        current = start_state
    report.state = current
    replayer = _Replayer(g, keys, current)
    report.checked_from = current.last_index + 1
    report.checked_to = current.last_index

    structural: LedgerFailure | None = None
    last_hash = current.last_entry_hash
    total_new = count - 1 - current.last_index
    for n, index in enumerate(range(current.last_index + 1, count)):
        obj = entries(index)
        if obj is None:
            structural = LedgerFailure(index, "entry is missing from the export")
            break
        try:
            replayer.entry(obj, index)
        except _EntryError as exc:
            structural = LedgerFailure(index, str(exc))
            break
        last_hash = canonical_json_hash(obj)
        report.checked_to = index
        tick("checking entries", n + 1, total_new)
    if structural is None and entries(count) is not None:
        structural = LedgerFailure(
            count,
            f"the export holds entry {count}, beyond the {count} entries ledger.json declares",
        )
    if structural is not None:
        report.failures.append(structural)

    bad_proofs = 0
    for statement in STATEMENTS:
        items = replayer.pending[statement]
        report.proofs_this_run[statement] = len(items)
        if not items:
            continue
        vk, vk_json = keys[statement]
        phase = f"verifying {len(items)} {statement} proofs"
        tick(phase, 0, len(items))
        bad = check(
            vk,
            vk_json,
            [(p.proof, p.public_inputs) for p in items],
            _phase_ticker(tick, phase, len(items)),
        )
        bad_proofs += len(bad)
        for i in bad:
            report.failures.append(
                LedgerFailure(items[i].entry_index, f"{items[i].label} does not verify")
            )
    # Count the proofs that passed (a failing run's state is never stored anyway).
    current.proofs_verified += sum(report.proofs_this_run.values()) - bad_proofs
    current.entries_verified = report.checked_to + 1
    if report.ok:
        current.last_index = report.checked_to
        current.last_entry_hash = last_hash
    latest = current.latest_solvency
    if latest is not None and latest.stress and not latest.solvent:
        report.solvency_warnings.append(
            f"entry {latest.entry_index}: insolvent under stressed marks "
            f"(deficit {latest.deficit} > fund {latest.fund})"
        )
    return report
