"""Database tables (SQLModel) and the API's request / response models.

Table models hold what the service must survive a crash with:

* ``LedgerEntryRow`` — public ledger entries, by index (JSON text);
* ``OrderRow`` — accepted orders as the trader sent them: commitment, sealed-box
  ciphertext, arrival time, status. Never the plaintext: the service decrypts
  in memory only;
* ``SnapshotRow`` — the operator's private state (account openings with
  blindings, filled amounts, cancels) after ledger entry ``ledger_index``,
  written in the same transaction as that entry; under the slots state only
  what neither the ledger nor the account rows hold (O(live orders));
* ``AccountRowRow`` — slots state: one row per account a change touched
  (``prover.account_book.account_row``: leaf opening + order slots), so a
  change stores O(touched accounts) and the book at any ledger index is the
  latest row per account up to it;
* ``AuthNonceRow`` — used request signatures until they expire (replay guard);
* ``SolvencyJobRow`` — on-demand solvency jobs.

Response models are separate classes, so a response never leaks a private
column. Request bodies (``RequestModel``) refuse unknown fields with a 422. Integers that may exceed 2^53 are decimal strings in JSON. Portable
SQL only (SQLite by default, PostgreSQL via DATABASE_URL): every time
(Unix seconds or milliseconds), index and count column is 64-bit
(``BigInteger``), so millisecond times and times after 2038 fit on
PostgreSQL too; amounts live in the JSON text of entries and snapshots.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import BigInteger, Column, LargeBinary, Text
from sqlmodel import Field as DBField
from sqlmodel import SQLModel

DecimalStr = Annotated[
    str, Field(pattern=r"^(0|[1-9][0-9]{0,77})$", description="non-negative decimal integer")
]
SignatureInput = Annotated[
    str | dict[str, Any],
    Field(description="signature_to_dict JSON object, or 128 hex digits (pack_signature)"),
]

# ---------------------------------------------------------------- tables


class LedgerEntryRow(SQLModel, table=True):
    __tablename__ = "ledger_entry"

    index: int = DBField(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = DBField(max_length=16)
    data: str = DBField(sa_column=Column(Text, nullable=False))


class OrderRow(SQLModel, table=True):
    __tablename__ = "order_intake"

    id: int | None = DBField(default=None, primary_key=True)  # acceptance order
    commitment: str = DBField(max_length=80, unique=True, index=True)
    ciphertext: bytes = DBField(sa_column=Column(LargeBinary, nullable=False))
    received_at: int = DBField(sa_column=Column(BigInteger, nullable=False))  # Unix ms
    status: str = DBField(max_length=16)  # pending | listed | cancelled
    order_index: int | None = DBField(
        default=None, sa_column=Column(BigInteger, nullable=True, index=True)
    )


class SnapshotRow(SQLModel, table=True):
    __tablename__ = "operator_snapshot"

    id: int | None = DBField(default=None, primary_key=True)
    ledger_index: int = DBField(sa_column=Column(BigInteger, nullable=False, index=True))
    account_root: str = DBField(max_length=80, index=True)
    data: str = DBField(sa_column=Column(Text, nullable=False))


class AccountRowRow(SQLModel, table=True):
    __tablename__ = "account_rows"

    id: int | None = DBField(default=None, primary_key=True)
    ledger_index: int = DBField(sa_column=Column(BigInteger, nullable=False, index=True))
    account: int = DBField(sa_column=Column(BigInteger, nullable=False, index=True))
    data: str = DBField(sa_column=Column(Text, nullable=False))


class AuthNonceRow(SQLModel, table=True):
    __tablename__ = "auth_nonce"

    account: int = DBField(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message: str = DBField(primary_key=True, max_length=80)
    expires_at: int = DBField(sa_column=Column(BigInteger, nullable=False, index=True))


class SolvencyJobRow(SQLModel, table=True):
    __tablename__ = "solvency_job"

    id: str = DBField(primary_key=True, max_length=32)
    status: str = DBField(max_length=16)  # queued | running | done | failed
    shock_bps: int | None = DBField(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: int = DBField(sa_column=Column(BigInteger, nullable=False))
    done: int = DBField(default=0, sa_column=Column(BigInteger, nullable=False))
    total: int = DBField(default=0, sa_column=Column(BigInteger, nullable=False))
    ledger_index: int | None = DBField(default=None, sa_column=Column(BigInteger, nullable=True))
    error: str | None = DBField(default=None, max_length=500)


class BatchJobRow(SQLModel, table=True):
    """A batch from the moment its oracle report is fixed until its entry is published.

    ``proving``: the report is chosen and proofs are running (a restart runs
    the batch again with this report and the same blinding stream, so it
    publishes what an uninterrupted run would have); ``published``: the batch
    entry is ``ledger_index``; ``failed``: it could not be published
    (``error``), nothing changed.
    """

    __tablename__ = "batch_job"

    batch_id: int = DBField(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    status: str = DBField(max_length=16)  # proving | published | failed
    report: str = DBField(sa_column=Column(Text, nullable=False))  # signed oracle report JSON
    created_at: int = DBField(sa_column=Column(BigInteger, nullable=False))
    proofs_done: int = DBField(default=0, sa_column=Column(BigInteger, nullable=False))
    starts: int = DBField(default=1, sa_column=Column(BigInteger, nullable=False))
    ledger_index: int | None = DBField(default=None, sa_column=Column(BigInteger, nullable=True))
    error: str | None = DBField(default=None, max_length=500)


class BatchView(BaseModel):
    batch_id: int
    status: str = Field(description="proving | published | failed")
    oracle_seq: int = Field(description="seq of the oracle report the batch settles at")
    proofs_done: int = Field(description="settle proofs landed in the current attempt")
    starts: int = Field(description="attempts: 1, plus one per operator restart mid-proof")
    ledger_index: int | None = Field(description="the batch entry, once published")
    error: str | None


# ---------------------------------------------------------------- API models


class RequestModel(BaseModel):
    """Base of every request body (and object nested in one): an unknown field is a 422.

    A misspelt or extra field (``{"amount": "5", "x": 1}``) is refused, never
    silently dropped, so a client never believes the server read a field it ignored.
    """

    model_config = ConfigDict(extra="forbid")


class PublicKeyModel(RequestModel):
    x: DecimalStr
    y: DecimalStr


class RootsModel(BaseModel):
    account: str
    fill: str
    order: str


class SetupModel(BaseModel):
    done: int = Field(description="statement circuits built so far")
    total: int = Field(description="statement circuits to build")
    current: str | None = Field(description="the statement being built now")
    elapsed_s: float = Field(description="seconds since the service started")
    error: str | None = Field(description="why setup failed, if it did")


class Health(BaseModel):
    status: str = Field(description="ok (ready; HTTP 200) | setting_up | failed | stopping (503)")
    batch_in_progress: bool
    ledger_entries: int | None = Field(description="null until ready")
    pending_orders: int | None = Field(description="null until ready")
    setup: SetupModel


class Info(BaseModel):
    exchange_id: str
    profile: str
    state: str = Field(
        description="genesis state: slots (recycling order slots), the only one (the list "
        "state is retired); how orders and cancels are signed: docs/wire-protocol.md"
    )
    params: dict[str, Any]
    markets: list[dict[str, Any]]
    operator_box_public_key: str = Field(description="X25519 key (hex) to seal orders to")
    oracle_pubkey: PublicKeyModel
    vkey_hashes: dict[str, str]
    roots: RootsModel
    total_collateral: str
    ledger_entries: int
    next_batch_id: int
    latest_oracle: dict[str, Any] | None
    batch_interval_s: float


class OpenAccountRequest(RequestModel):
    pubkey: PublicKeyModel
    amount: DecimalStr
    timestamp: StrictInt = Field(ge=0, description="Unix seconds (a JSON integer)")
    signature: SignatureInput


class AccountOpened(BaseModel):
    account: int
    entry_index: int


class DepositRequest(RequestModel):
    amount: DecimalStr


class WithdrawRequest(RequestModel):
    amount: DecimalStr
    signature: SignatureInput


class AccountOpResult(BaseModel):
    account: int
    entry_index: int
    balance: str
    nonce: int


class OrderView(BaseModel):
    commitment: str
    status: str = Field(description="pending | open | filled | cancelled | expired")
    order_index: int | None
    account: int
    market: int
    side: int
    size: str
    limit_price: str
    expiry: int
    filled: str
    order_id: int | None = Field(
        default=None, description="slots state: the trader's order id (slot = id mod slots)"
    )
    reduce_only: bool | None = Field(default=None, description="slots state: reduce-only flag")
    holds_slot: bool | None = Field(
        default=None,
        description="slots state: the order still occupies its slot, so a newer order id "
        "cannot take it yet (live, pending, or cancelled until a batch executes the cancel)",
    )
    reason: str | None = Field(
        default=None,
        description="why an open order did not trade (fully) in the last batch: margin_limited, "
        "out_of_range (a fill would leave what the circuits represent), self_trade, "
        "outside_limit, batch_full, or a settlement refusal",
    )


class AccountView(BaseModel):
    account: int
    pubkey: PublicKeyModel
    balance: str
    positions: list[str]
    nonce: int
    blinding: str
    leaf: str
    account_root: str
    checkpoints: list[str] | None = Field(
        default=None, description="slots state: funding indices the leaf last settled to"
    )
    order_root: str | None = Field(
        default=None, description="slots state: root of the account's order slot tree"
    )
    orders: list[OrderView]
    liquidations: list[int] = Field(
        default_factory=list,
        description="ledger entry indices of the proven liquidations of this account",
    )


class InclusionView(BaseModel):
    account: int
    root: str
    leaf: str
    siblings: list[str | list[str]] = Field(
        description="bottom-up: one [s0, s1, s2] sibling triple per level of the "
        "quaternary account tree"
    )
    opening: dict[str, Any] = Field(
        description="pub_x, pub_y, balance, positions, checkpoints, order_root, nonce, blinding"
    )


class SubmitOrderRequest(RequestModel):
    commitment: DecimalStr
    ciphertext: str = Field(max_length=8192, description="base64 sealed box of the order JSON")


class OrderAccepted(BaseModel):
    commitment: str
    status: str = Field(description="listed (in the order list now) or pending (after the batch)")
    order_index: int | None


#: Orders one ``POST /v1/orders/batch`` request may carry.
MAX_ORDERS_PER_REQUEST = 64


class SubmitOrdersRequest(RequestModel):
    orders: list[SubmitOrderRequest] = Field(
        min_length=1,
        max_length=MAX_ORDERS_PER_REQUEST,
        description=f"1..{MAX_ORDERS_PER_REQUEST} sealed orders, each as POST /v1/orders takes it",
    )


class OrderBatchItem(BaseModel):
    commitment: str
    status: str = Field(description="listed, pending, or refused (nothing changed for it)")
    order_index: int | None
    code: int = Field(description="202 if accepted, else the status POST /v1/orders would answer")
    detail: str | None = Field(description="the one-line reason of a refusal")


class OrdersBatchResult(BaseModel):
    accepted: int
    refused: int
    results: list[OrderBatchItem] = Field(description="one per submitted order, in order")


class CancelRequest(RequestModel):
    signature: SignatureInput


class CancelResult(BaseModel):
    commitment: str
    order_index: int
    status: str


class LedgerPage(BaseModel):
    start: int
    total: int
    entries: list[dict[str, Any]]


class RootsView(BaseModel):
    ledger_index: int
    roots: RootsModel
    total_collateral: str


class SolvencyRequest(RequestModel):
    # Strict: JSON true, 1.0 or "5" is a 422, never a shock of 1 or 5 bps.
    shock_bps: StrictInt | None = Field(default=None, gt=-10_000, le=1_000_000)


class SolvencyJobView(BaseModel):
    id: str
    status: str
    shock_bps: int | None
    done: int
    total: int
    error: str | None
    entry: dict[str, Any] | None


class BatchResult(BaseModel):
    batch_id: int
    entry_index: int
    fills: int
    proofs: int
    prices: list[str]
    volume: list[str]
    pending_listed: int
