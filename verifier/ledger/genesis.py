"""The ledger's shared records and its genesis entry.

``Roots``, ``Market``, ``Limits`` and ``ProofData`` appear in several entry
kinds; ``Genesis`` is entry 0 (exchange parameters, markets, oracle and
operator keys, limits, verification-key hashes). Each parses its JSON
strictly (``from_json``, raising ``EntryError`` naming the field) and writes
it back (``to_json``, the form of docs/ledger.md). The entry kinds after
genesis are in ``verifier.ledger.entries``.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from verifier import groth16
from verifier.babyjub import Point
from verifier.eddsa import public_key_to_dict
from verifier.ledger.parse import (
    EntryError,
    IntRecord,
    Range,
    as_list,
    bits,
    canonical_json_hash,
    field_element,
    get,
    hex64,
    int_fields,
    mapping,
    point,
)
from verifier.ledger.rules import FundingRules, RiskRules
from verifier.oracle import MAX_SHOCK_BPS, OracleFormatError, OracleReport
from verifier.params import (
    AMOUNT_BITS,
    BPS_DENOM,
    CircuitParams,
    ParamsError,
    domain_tag,
)
from verifier.protocol import STATEMENTS
from verifier.quadtree import quad_zero_hashes

__all__ = [
    "DEFAULT_LIMITS_JSON",
    "LEDGER_STATES",
    "LIST_STATE_REFUSED",
    "SLOTS_STATE",
    "Genesis",
    "Limits",
    "Market",
    "ProofData",
    "Roots",
    "chunk_signals",
    "empty_roots",
    "genesis_hash",
    "parse_report",
]

# ---------------------------------------------------------------------------
# Shared records
# ---------------------------------------------------------------------------


#: The public state roots, in the order entries and docs/ledger.md list them.
ROOT_NAMES = ("account", "fill", "order")


@dataclass(frozen=True)
class Roots:
    """The three public state roots (field elements)."""

    account: int
    fill: int
    order: int

    def to_dict(self) -> dict[str, str]:
        return {k: str(getattr(self, k)) for k in ROOT_NAMES}

    to_json = to_dict

    @classmethod
    def parse(cls, obj: object, what: str) -> "Roots":
        return cls(**int_fields(mapping(obj, what), what, ROOT_NAMES, field_element))

    from_json = parse

    def changed(self, other: "Roots") -> set[str]:
        return {k for k in ROOT_NAMES if getattr(self, k) != getattr(other, k)}


_MARKET_RANGES: dict[str, Range] = {
    "id": (0, None),
    "lot_size": (1, None),
    "tick_size": (1, None),
    "imf_bps": (0, BPS_DENOM),
    "mmf_bps": (0, BPS_DENOM),
    "fee_bps": (0, BPS_DENOM),
}


@dataclass(frozen=True)
class Market:
    """One market's public parameters (genesis); sizes in base units, margins in bps."""

    id: int
    symbol: str
    lot_size: int
    tick_size: int
    imf_bps: int
    mmf_bps: int
    fee_bps: int

    @classmethod
    def from_json(cls, obj: object, position: int) -> "Market":
        what = f"markets[{position}]"
        d = mapping(obj, what)
        symbol = get(d, "symbol", what)
        if not isinstance(symbol, str) or not symbol:
            raise EntryError(f"{what}.symbol must be a non-empty string")
        market = cls(symbol=symbol, **int_fields(d, what, _MARKET_RANGES))
        if market.id != position:
            raise EntryError(f"{what}.id is {market.id}, expected {position}")
        if market.mmf_bps > market.imf_bps:
            raise EntryError(f"{what}: maintenance margin exceeds initial margin")
        return market

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "symbol": self.symbol,
            "lot_size": str(self.lot_size),
            "tick_size": str(self.tick_size),
            "imf_bps": self.imf_bps,
            "mmf_bps": self.mmf_bps,
            "fee_bps": self.fee_bps,
        }


#: Development defaults for genesis ``limits``: reports up to an hour old, prices
#: at least one tick, at most a 20% mark move between consecutive reports.
DEFAULT_LIMITS_JSON: dict[str, int] = {
    "max_report_age_s": 3600,
    "min_price": 1,
    "max_move_bps": 2000,
}


def parse_report(obj: object, what: str, markets: int) -> OracleReport:
    """A signed oracle report (``verifier.oracle`` format); the signature is checked by the replay."""
    try:
        return OracleReport.from_json(obj, markets, what)
    except OracleFormatError as exc:
        raise EntryError(str(exc)) from None


@dataclass(frozen=True)
class Limits(IntRecord):
    """Oracle and time bounds fixed in genesis (checked by the replay at every report).

    ``max_report_age_s``: a report may be at most this many seconds older than
    the entry that uses it (entry ``time``); ``min_price``: every mark and
    index price is at least this (> 0, ticks); ``max_move_bps``: between
    consecutive reports no mark moves by more than this many basis points.
    """

    max_report_age_s: int
    min_price: int
    max_move_bps: int

    what: ClassVar[str] = "genesis limits"
    ranges: ClassVar[Mapping[str, Range]] = {
        "max_report_age_s": (1, None),
        "min_price": (1, None),
        "max_move_bps": (1, MAX_SHOCK_BPS),
    }


@dataclass(frozen=True)
class ProofData:
    """A snarkjs proof and the operator's public signals, kept as JSON.

    They are parsed against the statement's key at check time (the number of
    public signals comes from the key); the signals are only compared with the
    verifier's own recomputation, never trusted.
    """

    proof: Any
    public_signals: Any

    @classmethod
    def from_json(cls, d: Mapping[str, Any], what: str) -> "ProofData":
        return cls(get(d, "proof", what), get(d, "public_signals", what))

    def to_json(self) -> dict[str, Any]:
        return {"proof": self.proof, "public_signals": self.public_signals}

    @classmethod
    def list_from_json(
        cls, d: Mapping[str, Any], key: str, kind: str, item: str
    ) -> tuple["ProofData", ...]:
        """The proofs listed under ``key`` of a ``kind`` entry; proof k is named ``"<item> k"``."""
        raw = as_list(get(d, key, kind), f"{kind} {key}")
        return tuple(
            cls.from_json(mapping(c, f"{item} {k}"), f"{item} {k}") for k, c in enumerate(raw)
        )


def chunk_signals(
    chunks: Sequence[ProofData], n_public: int, tree_chunks: int, report: str, label: str
) -> list[list[int]]:
    """The public signals (``n_public`` field elements each) of a chunked report's proofs.

    A report (solvency, health sweep) has 1 to ``tree_chunks`` chunk proofs.
    EntryError: ``"<report> has at least one chunk"``, ``"N chunks, but the
    tree has only C"``, ``"<label> k: <why its signals do not parse>"``.
    """
    if not chunks:
        raise EntryError(f"{report} has at least one chunk")
    if len(chunks) > tree_chunks:
        raise EntryError(f"{len(chunks)} chunks, but the tree has only {tree_chunks}")
    signals: list[list[int]] = []
    for k, chunk in enumerate(chunks):
        try:
            signals.append(groth16.parse_public_signals(chunk.public_signals, n_public))
        except groth16.Groth16Error as exc:
            raise EntryError(f"{label} {k}: {exc}") from None
    return signals


# ---------------------------------------------------------------------------
# Genesis
# ---------------------------------------------------------------------------

#: Genesis ``state``: the account/order state a ledger's proofs use. Only the
#: recycling order slots in the account leaf (issue 12, quaternary tree) remain;
#: the retired "list" state (binary tree, order list, fill tree; a genesis
#: without ``state``) is refused with ``LIST_STATE_REFUSED``.
SLOTS_STATE = "slots"
LIST_STATE_REFUSED = "list-state ledgers are no longer supported"

#: The statements (and so the genesis ``vkey_hashes`` keys) of each state.
LEDGER_STATES: dict[str, tuple[str, ...]] = {SLOTS_STATE: STATEMENTS}


def genesis_hash(genesis: object) -> str:
    """The ledger id: hash of the canonical genesis JSON."""
    return canonical_json_hash(genesis)


def empty_roots(params: CircuitParams, state: str = SLOTS_STATE) -> Roots:
    """Genesis roots: the empty quaternary account tree; the order and fill roots are 0
    (there is no order list or fill tree)."""
    if state != SLOTS_STATE:
        raise ValueError(f"genesis state {state!r}: {LIST_STATE_REFUSED}")
    return Roots(account=quad_zero_hashes(params.account_levels)[-1], fill=0, order=0)


@dataclass(frozen=True)
class Genesis:
    """Entry 0: parameters, markets, oracle and operator keys, limits, key hashes, empty roots.

    ``ledger_id`` is ``genesis_hash`` of the JSON it was parsed from (or of
    ``to_json()`` when built in memory).
    """

    exchange_id: str
    params: CircuitParams
    markets: tuple[Market, ...]
    oracle_pubkey: Point
    operator_pubkey: Point
    limits: Limits
    vkey_hashes: dict[str, str]
    roots: Roots
    ledger_id: str = ""
    min_deposit: int = 0
    risk: RiskRules | None = None
    funding: FundingRules | None = None
    state: str = SLOTS_STATE

    kind: ClassVar[str] = "genesis"

    def report(self, d: Mapping[str, Any], kind: str, key: str = "oracle") -> OracleReport:
        """The signed oracle report under ``key`` of a ``kind`` entry, one price per genesis market.

        Named ``"oracle report"`` (``key`` itself for any other key) in a failure.
        """
        what = "oracle report" if key == "oracle" else key
        return parse_report(get(d, key, kind), what, self.params.markets)

    @property
    def statements(self) -> tuple[str, ...]:
        """The statements whose keys this ledger uses (``LEDGER_STATES[state]``)."""
        return LEDGER_STATES[self.state]

    @property
    def oracle_tag(self) -> int:
        return domain_tag("oracle", self.exchange_id)

    @property
    def imf_bps(self) -> list[int]:
        return [m.imf_bps for m in self.markets]

    @property
    def fee_bps(self) -> list[int]:
        return [m.fee_bps for m in self.markets]

    @classmethod
    def from_json(cls, obj: object) -> "Genesis":
        d = mapping(obj, "genesis")
        if get(d, "index", "genesis") != 0:
            raise EntryError("genesis index must be 0")
        if get(d, "kind", "genesis") != "genesis":
            raise EntryError("entry 0 is not of kind 'genesis'")
        exchange_id = get(d, "exchange_id", "genesis")
        if not isinstance(exchange_id, str) or not exchange_id:
            raise EntryError("genesis exchange_id must be a non-empty string")
        params_raw = mapping(get(d, "params", "genesis"), "genesis params")
        name = params_raw.get("name", "ledger")
        if not isinstance(name, str):
            raise EntryError("genesis params.name must be a string")
        try:
            params = CircuitParams.from_dict(name, dict(params_raw))
        except ParamsError as exc:
            raise EntryError(f"genesis params: {exc}") from None
        markets_raw = as_list(get(d, "markets", "genesis"), "genesis markets")
        if len(markets_raw) != params.markets:
            raise EntryError(
                f"genesis lists {len(markets_raw)} markets but the circuits have {params.markets}"
            )
        markets = tuple(Market.from_json(m, i) for i, m in enumerate(markets_raw))
        oracle_pubkey = point(get(d, "oracle_pubkey", "genesis"), "genesis oracle_pubkey")
        operator_pubkey = point(get(d, "operator_pubkey", "genesis"), "genesis operator_pubkey")
        limits = Limits.from_json(get(d, "limits", "genesis"))
        if "state" not in d:
            raise EntryError(f"genesis has no state (a list-state ledger): {LIST_STATE_REFUSED}")
        state = d["state"]
        if state == "list":
            raise EntryError(f"genesis state 'list': {LIST_STATE_REFUSED}")
        if state not in LEDGER_STATES:
            raise EntryError(f"genesis state must be 'slots', got {state!r:.40}")
        if params.account_depth % 2:
            raise EntryError("genesis state 'slots' needs an even params.account_depth")
        hashes_raw = mapping(get(d, "vkey_hashes", "genesis"), "genesis vkey_hashes")
        vkey_hashes: dict[str, str] = {}
        for statement in LEDGER_STATES[state]:
            if statement not in hashes_raw:
                raise EntryError(f"genesis vkey_hashes lacks {statement!r}")
            vkey_hashes[statement] = hex64(
                hashes_raw[statement], f"genesis vkey_hashes.{statement}"
            )
        min_deposit = bits(d.get("min_deposit", 0), AMOUNT_BITS, "genesis min_deposit")
        roots = Roots.parse(get(d, "roots_after", "genesis"), "genesis roots_after")
        empty = empty_roots(params, state)
        for k in sorted(roots.changed(empty)):
            raise EntryError(f"genesis {k} root is not the empty-tree root")
        if "roots_before" in d and Roots.parse(d["roots_before"], "genesis roots_before") != roots:
            raise EntryError("genesis roots_before differ from its roots_after")
        risk_raw, funding_raw = d.get("risk"), d.get("funding")
        return cls(
            exchange_id=exchange_id,
            params=params,
            markets=markets,
            oracle_pubkey=oracle_pubkey,
            operator_pubkey=operator_pubkey,
            limits=limits,
            vkey_hashes=vkey_hashes,
            roots=roots,
            ledger_id=genesis_hash(obj),
            min_deposit=min_deposit,
            risk=None
            if risk_raw is None
            else RiskRules.from_json(risk_raw, [m.mmf_bps for m in markets]),
            funding=None if funding_raw is None else FundingRules.from_json(funding_raw),
            state=state,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": 0,
            "kind": "genesis",
            "exchange_id": self.exchange_id,
            "params": self.params.to_dict(),
            "markets": [m.to_json() for m in self.markets],
            "oracle_pubkey": public_key_to_dict(self.oracle_pubkey),
            "operator_pubkey": public_key_to_dict(self.operator_pubkey),
            "limits": self.limits.to_json(),
            "vkey_hashes": dict(self.vkey_hashes),
            "min_deposit": self.min_deposit,
            "roots_before": self.roots.to_json(),
            "roots_after": self.roots.to_json(),
        }
        if self.risk is not None:
            out["risk"] = self.risk.to_json()
        if self.funding is not None:
            out["funding"] = self.funding.to_json()
        out["state"] = self.state
        return out
