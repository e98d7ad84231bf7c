"""The ledger's entry kinds after genesis: one typed model per kind, defined here and nowhere else.

Genesis and the records several kinds share (roots, markets, limits, proof
data) are in ``verifier.ledger.genesis`` and re-exported here.

Each model parses its JSON strictly (``from_json``, raising ``EntryError``
with a one-line reason naming the field) and writes it back (``to_json``, the
form of docs/ledger.md). The operator builds these models and the export
writes ``to_json``; the replay parses with ``from_json`` and checks meaning
(roots, proofs, signatures) in ``verifier.ledger.replay``.

Adding a kind: subclass ``Entry`` with ``kind`` and ``may_change`` class
variables, ``body_from_json`` and ``body_json``, decorate it with
``@register``, and give the replay a check for it.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from verifier.babyjub import Point
from verifier.eddsa import public_key_to_dict
from verifier.ledger.genesis import (
    DEFAULT_LIMITS_JSON,
    Genesis,
    Limits,
    Market,
    ProofData,
    Roots,
    genesis_hash,
    parse_report,
)
from verifier.ledger.parse import (
    EntryError,
    as_list,
    bits,
    field_element,
    get,
    hex64,
    mapping,
    point,
    sint,
    uint,
)
from verifier.oracle import OracleReport
from verifier.params import (
    AMOUNT_BITS,
    TIME_BITS,
)

__all__ = [
    "ACCOUNT_OPS",
    "BATCH_PROOF_PARSERS",
    "DEFAULT_LIMITS_JSON",
    "ENTRY_TYPES",
    "AccountOpEntry",
    "BatchEntry",
    "BatchProof",
    "Entry",
    "Genesis",
    "Limits",
    "Market",
    "OracleReport",
    "OrderEntry",
    "ProofData",
    "Roots",
    "SolvencyEntry",
    "SolvencyResult",
    "genesis_hash",
    "parse_entry",
    "parse_report",
    "register",
]

ACCOUNT_OPS: dict[str, int] = {"open": 0, "deposit": 1, "withdraw": 2}


# ---------------------------------------------------------------------------
# Entries after genesis
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Entry:
    """Fields common to every entry after genesis; subclasses add the body."""

    kind: ClassVar[str] = ""
    may_change: ClassVar[frozenset[str]] = frozenset()

    index: int
    prev_hash: str
    time: int
    roots_before: Roots
    roots_after: Roots
    signature: Any = None

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "Entry":
        raise NotImplementedError

    def body_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "kind": self.kind,
            "prev_hash": self.prev_hash,
            "time": self.time,
            **self.body_json(),
            "roots_before": self.roots_before.to_json(),
            "roots_after": self.roots_after.to_json(),
        }
        if self.signature is not None:
            out["signature"] = self.signature
        return out


ENTRY_TYPES: dict[str, type[Entry]] = {}
_E = TypeVar("_E", bound=type[Entry])


def register(cls: _E) -> _E:
    """Class decorator: make ``cls.kind`` a known entry kind."""
    if not cls.kind or cls.kind in ENTRY_TYPES or cls.kind == "genesis":
        raise ValueError(f"entry kind {cls.kind!r} is empty or defined twice")
    ENTRY_TYPES[cls.kind] = cls
    return cls


def entry_header(obj: object, index: int) -> tuple[Mapping[str, Any], type[Entry], dict[str, Any]]:
    """(json, model, common fields) of entry ``index``; the body is not parsed yet."""
    e = mapping(obj, "entry")
    claimed = e.get("index")
    if isinstance(claimed, bool) or claimed != index:
        raise EntryError(f"entry file {index} holds an entry with index {claimed!r:.20}")
    kind_raw = e.get("kind")
    if kind_raw == "genesis":
        raise EntryError("a second genesis entry")
    if not isinstance(kind_raw, str) or kind_raw not in ENTRY_TYPES:
        raise EntryError(f"unknown entry kind {kind_raw!r:.40}")
    header = {
        "index": index,
        "prev_hash": hex64(get(e, "prev_hash", kind_raw), "prev_hash"),
        "time": bits(get(e, "time", kind_raw), TIME_BITS, "time"),
        "signature": e.get("signature"),
        "roots_before": Roots.parse(get(e, "roots_before", kind_raw), "roots_before"),
        "roots_after": Roots.parse(get(e, "roots_after", kind_raw), "roots_after"),
    }
    return e, ENTRY_TYPES[kind_raw], header


def parse_entry(obj: object, index: int, genesis: Genesis) -> Entry:
    """Parse entry ``index`` (>= 1) into its typed model; raises EntryError."""
    e, model, header = entry_header(obj, index)
    return model.body_from_json(e, header, genesis)


@register
@dataclass(frozen=True, kw_only=True)
class OrderEntry(Entry):
    """A new order commitment appended to the public order list."""

    kind: ClassVar[str] = "order"
    may_change: ClassVar[frozenset[str]] = frozenset({"order"})

    order_index: int
    commitment: int

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "OrderEntry":
        return cls(
            **header,
            order_index=uint(get(d, "order_index", "order"), "order_index"),
            commitment=field_element(get(d, "commitment", "order"), "commitment"),
        )

    def body_json(self) -> dict[str, Any]:
        return {"order_index": self.order_index, "commitment": str(self.commitment)}


@register
@dataclass(frozen=True, kw_only=True)
class AccountOpEntry(Entry):
    """Open / deposit / withdraw on one account, with its account_op proof."""

    kind: ClassVar[str] = "account_op"
    may_change: ClassVar[frozenset[str]] = frozenset({"account"})

    op: str
    account: int
    amount: int
    pubkey: Point
    marks: OracleReport | None
    proof: ProofData

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "AccountOpEntry":
        op = get(d, "op", "account_op")
        if op not in ACCOUNT_OPS:
            raise EntryError(f"op must be open, deposit or withdraw, got {op!r:.40}")
        account = uint(get(d, "account", "account_op"), "account")
        amount = bits(get(d, "amount", "account_op"), AMOUNT_BITS, "amount")
        pubkey = point(get(d, "pubkey", "account_op"), "pubkey")
        marks: OracleReport | None = None
        if op == "withdraw":
            marks = genesis.report(d, "withdraw", key="marks")
        elif d.get("marks") is not None:
            raise EntryError(f"{op} carries marks (only withdrawals do)")
        return cls(
            **header,
            op=op,
            account=account,
            amount=amount,
            pubkey=pubkey,
            marks=marks,
            proof=ProofData.from_json(d, "account_op proof"),
        )

    def body_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "op": self.op,
            "account": self.account,
            "amount": str(self.amount),
            "pubkey": public_key_to_dict(self.pubkey),
        }
        if self.marks is not None:
            out["marks"] = self.marks.to_json()
        out.update(self.proof.to_json())
        return out


@dataclass(frozen=True)
class BatchProof:
    """One proof of a batch, chained root to root; volume in lots per market (base of
    ``verifier.ledger.slots.SlotsBatchProof``)."""

    proof: ProofData
    roots_before: Roots
    roots_after: Roots
    volume: tuple[int, ...]

    @classmethod
    def from_json(cls, obj: object, k: int, markets: int) -> "BatchProof":
        label = f"batch proof {k}"
        d = mapping(obj, label)
        before = Roots.parse(get(d, "roots_before", label), f"{label} roots_before")
        after = Roots.parse(get(d, "roots_after", label), f"{label} roots_after")
        volume_raw = as_list(get(d, "volume", label), f"{label} volume")
        if len(volume_raw) != markets:
            raise EntryError(f"{label} volume has {len(volume_raw)} entries for {markets} markets")
        volume = tuple(uint(v, f"{label} volume[{i}]") for i, v in enumerate(volume_raw))
        return cls(ProofData.from_json(d, label), before, after, volume)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.proof.to_json(),
            "roots_before": self.roots_before.to_json(),
            "roots_after": self.roots_after.to_json(),
            "volume": [str(v) for v in self.volume],
        }


#: How a batch's proofs are parsed, by genesis ``state``: ``(json, k, genesis) -> BatchProof``.
#: ``verifier.ledger.slots`` registers "slots" (proofs that name their statement).
BATCH_PROOF_PARSERS: dict[str, Callable[[object, int, Genesis], BatchProof]] = {}


@register
@dataclass(frozen=True, kw_only=True)
class BatchEntry(Entry):
    """A settled batch at one oracle report: its proofs and summed volume."""

    kind: ClassVar[str] = "batch"
    may_change: ClassVar[frozenset[str]] = frozenset({"account", "fill"})

    batch_id: int
    oracle: OracleReport
    volume: tuple[int, ...]
    proofs: tuple[BatchProof, ...]

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "BatchEntry":
        m = genesis.params.markets
        batch_id = field_element(get(d, "batch_id", "batch"), "batch_id")
        oracle = genesis.report(d, "batch")
        volume_raw = as_list(get(d, "volume", "batch"), "volume")
        if len(volume_raw) != m:
            raise EntryError(f"volume has {len(volume_raw)} entries for {m} markets")
        volume = tuple(uint(v, f"volume[{i}]") for i, v in enumerate(volume_raw))
        proofs_raw = as_list(get(d, "proofs", "batch"), "proofs")
        if not proofs_raw:
            raise EntryError("a batch has at least one proof")
        parse_proof = BATCH_PROOF_PARSERS[genesis.state]
        proofs = tuple(parse_proof(p, k, genesis) for k, p in enumerate(proofs_raw))
        return cls(**header, batch_id=batch_id, oracle=oracle, volume=volume, proofs=proofs)

    def body_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "oracle": self.oracle.to_json(),
            "volume": [str(v) for v in self.volume],
            "proofs": [p.to_json() for p in self.proofs],
        }


@dataclass(frozen=True)
class SolvencyResult:
    """What the operator says the last solvency chunk opened (signed amounts)."""

    balance: int
    positions: tuple[int, ...]
    deficit: int
    fund: int
    solvent: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, obj: object) -> "SolvencyResult":
        d = mapping(obj, "result")
        positions_raw = as_list(get(d, "positions", "result"), "result.positions")
        balance = sint(get(d, "balance", "result"), "result.balance")
        positions = tuple(sint(x, "result.positions") for x in positions_raw)
        deficit = sint(get(d, "deficit", "result"), "result.deficit")
        fund = sint(get(d, "fund", "result"), "result.fund")
        solvent = get(d, "solvent", "result")
        if not isinstance(solvent, bool):
            raise EntryError(f"result.solvent must be true or false, got {solvent!r:.20}")
        reasons_raw = as_list(get(d, "reasons", "result"), "result.reasons")
        if not all(isinstance(r, str) for r in reasons_raw):
            raise EntryError("result.reasons must be a list of strings")
        reasons = tuple(reasons_raw)
        return cls(balance, positions, deficit, fund, solvent, reasons)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "balance": str(self.balance),
            "positions": [str(s) for s in self.positions],
            "deficit": str(self.deficit),
            "fund": str(self.fund),
        }
        out["solvent"] = self.solvent
        out["reasons"] = list(self.reasons)
        return out


@register
@dataclass(frozen=True, kw_only=True)
class SolvencyEntry(Entry):
    """A solvency report over the whole account tree at one set of marks.

    ``oracle`` is always a real signed report; ``stress`` is None (the report's
    marks) or a public shock vector (bps per market): the verifier derives the
    stressed marks with ``verifier.oracle.stressed_prices``.
    """

    kind: ClassVar[str] = "solvency"
    may_change: ClassVar[frozenset[str]] = frozenset()

    account_root: int
    total_collateral: int
    oracle: OracleReport
    stress: tuple[int, ...] | None
    chunks: tuple[ProofData, ...]
    result: SolvencyResult

    @classmethod
    def body_from_json(
        cls, d: Mapping[str, Any], header: dict[str, Any], genesis: Genesis
    ) -> "SolvencyEntry":
        account_root = field_element(get(d, "account_root", "solvency"), "account_root")
        total = sint(get(d, "total_collateral", "solvency"), "total_collateral")
        stress_raw = get(d, "stress", "solvency")
        stress: tuple[int, ...] | None = None
        if stress_raw is not None:
            shocks = as_list(
                get(mapping(stress_raw, "stress"), "shock_bps", "stress"), "stress.shock_bps"
            )
            if len(shocks) != genesis.params.markets:
                raise EntryError(
                    f"stress.shock_bps has {len(shocks)} shocks for {genesis.params.markets} markets"
                )
            stress = tuple(sint(x, f"stress.shock_bps[{i}]") for i, x in enumerate(shocks))
        oracle = genesis.report(d, "solvency")
        chunks = ProofData.list_from_json(d, "chunks", "solvency", "solvency chunk")
        return cls(
            **header,
            account_root=account_root,
            total_collateral=total,
            oracle=oracle,
            stress=stress,
            chunks=chunks,
            result=SolvencyResult.from_json(get(d, "result", "solvency")),
        )

    def body_json(self) -> dict[str, Any]:
        return {
            "account_root": str(self.account_root),
            "total_collateral": str(self.total_collateral),
            "oracle": self.oracle.to_json(),
            "stress": None if self.stress is None else {"shock_bps": list(self.stress)},
            "chunks": [c.to_json() for c in self.chunks],
            "result": self.result.to_json(),
        }
