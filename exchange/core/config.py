"""The exchange service's settings: one pydantic-settings ``Settings``, read from the environment.

Every variable is prefixed ``DARKPOOL_`` (``DARKPOOL_DATA_DIR``,
``DARKPOOL_BATCH_INTERVAL_S``, ...) except ``DATABASE_URL``, the usual name
for a SQLAlchemy URL (``sqlite:///...`` by default, ``postgresql+psycopg://...``
for PostgreSQL). Secrets (the operator token) are never printed by this
module; ``exchange.keys`` creates and loads them.
"""

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange.domain import MarketSpec
from verifier.protocol import DEFAULT_EXCHANGE_ID


class MarketConfig(BaseModel):
    """One market as configured (JSON in ``DARKPOOL_MARKETS``); ids are positions."""

    symbol: str
    lot_size: int = 1
    tick_size: int = 1
    imf_bps: int
    mmf_bps: int
    fee_bps: int
    start_price: int = Field(description="first mark of a simulated oracle feed, in ticks")

    def spec(self, market_id: int) -> MarketSpec:
        return MarketSpec(
            market_id,
            self.symbol,
            lot_size=self.lot_size,
            tick_size=self.tick_size,
            imf_bps=self.imf_bps,
            mmf_bps=self.mmf_bps,
            fee_bps=self.fee_bps,
        )


DEFAULT_MARKETS = [
    MarketConfig(symbol="BTC-PERP", imf_bps=500, mmf_bps=300, fee_bps=5, start_price=60_000),
    MarketConfig(symbol="ETH-PERP", imf_bps=1000, mmf_bps=500, fee_bps=5, start_price=3_000),
]

#: The markets a profile with more than two markets gets by default (``darkpool serve``
#: at ``production``, 4 markets): ``DEFAULT_MARKETS`` then these, all integer parameters.
MORE_MARKETS = [
    MarketConfig(symbol="SOL-PERP", imf_bps=1000, mmf_bps=500, fee_bps=10, start_price=150),
    MarketConfig(symbol="DOGE-PERP", imf_bps=2000, mmf_bps=1000, fee_bps=10, start_price=20),
]


def default_markets(count: int) -> list[MarketConfig]:
    """The first ``count`` default markets (ValueError if more than are defined)."""
    known = DEFAULT_MARKETS + MORE_MARKETS
    if not 1 <= count <= len(known):
        raise ValueError(f"no default markets for {count} markets (have {len(known)})")
    return list(known[:count])


#: The one-line refusal of the retired order-list ledger state (``DARKPOOL_STATE=list``,
#: or a database whose genesis names it).
LIST_STATE_REFUSAL = "list-state ledgers are no longer supported (only the 'slots' state)"


def refuse_other_state(state: object, *, where: str = "DARKPOOL_STATE") -> None:
    """ValueError (one line) unless ``state`` is ``"slots"`` or unset (None).

    ``"list"`` (also an absent genesis ``state``: the ledgers before the slots
    state) gets ``LIST_STATE_REFUSAL``; anything else is an unknown state.
    """
    if state is None and where == "DARKPOOL_STATE":
        return
    if state == "slots":
        return
    if state in ("list", None):
        raise ValueError(f"{where} names the list state: {LIST_STATE_REFUSAL}")
    raise ValueError(f"{where}: unknown ledger state {state!r} (only 'slots')")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DARKPOOL_", extra="ignore")

    data_dir: Path = Path(".darkpool-data")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "DARKPOOL_DATABASE_URL"),
        description="SQLAlchemy URL; default sqlite file data_dir/darkpool.sqlite3",
    )
    key_dir: Path | None = Field(default=None, description="default data_dir/keys")
    profile: str = "test"
    state: Literal["slots"] = Field(
        default="slots",
        description="the order state: slots (recycling per-account order slots, "
        "exchange.operator.slots), the only one; 'list' is refused (list-state ledgers "
        "are no longer supported)",
    )
    exchange_id: str = DEFAULT_EXCHANGE_ID
    markets: list[MarketConfig] = Field(default_factory=lambda: list(DEFAULT_MARKETS))
    batch_interval_s: float = Field(
        default=10.0, ge=0, description="seconds between batches; 0 = only on POST /v1/admin/batch"
    )
    operator_token: str | None = Field(
        default=None, description="bearer token of operator endpoints; generated if unset"
    )
    max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    insurance_fund: int = Field(default=1_000_000, ge=0)
    min_deposit: int = Field(
        default=1_000,
        ge=0,
        description="quote units an account must deposit to open (genesis; spam resistance)",
    )
    requests_per_ip_per_minute: int = Field(
        default=6_000,
        ge=0,
        description="mutating trader requests per client IP per minute (0 = off)",
    )
    orders_per_account_per_minute: int = Field(
        default=3_000, ge=0, description="orders and cancels per account per minute (0 = off)"
    )
    commit_group_max: int = Field(
        default=512,
        ge=1,
        description="group commit: at most this many queued changes (orders, ...) share one "
        "database transaction and fsync; 1 = one commit per change",
    )
    sweep_interval_batches: int = Field(
        default=0,
        ge=0,
        description="genesis: a proven health sweep at least every N batches (0 = not "
        "required; `darkpool serve` default: SERVE_RISK_DEFAULTS)",
    )
    sweep_interval_s: int = Field(
        default=0,
        ge=0,
        description="genesis: a proven health sweep at least every N seconds (0 = not "
        "required; `darkpool serve` default: SERVE_RISK_DEFAULTS)",
    )
    funding_interval_s: int = Field(
        default=0,
        ge=0,
        description="genesis: seconds between funding index updates, published before "
        "batches; the batcher runs one when an interval ends, and a late update pays every "
        "elapsed interval (0 = no funding: genesis has no funding rules; `darkpool serve` "
        "default: SERVE_RISK_DEFAULTS)",
    )
    oracle_url: str | None = Field(
        default=None,
        description="base URL of the price oracle (`darkpool oracle serve`); the operator "
        "fetches signed reports over HTTP. Unset: a development oracle in this process",
    )
    oracle_key_dir: Path | None = Field(
        default=None,
        description="development oracle only: its key dir (default data_dir/oracle), "
        "never the operator's key_dir",
    )
    oracle_seed: int = Field(default=0, description="development oracle: random-walk seed")
    oracle_step_bps: int = Field(
        default=40, ge=0, le=10_000, description="development oracle: max move per report"
    )
    auth_window_s: int = Field(default=30, ge=1)

    @field_validator("state", mode="before")
    @classmethod
    def _only_slots(cls, value: object) -> object:
        refuse_other_state(value)
        return value

    @field_validator("markets")
    @classmethod
    def _markets_valid(cls, value: list[MarketConfig]) -> list[MarketConfig]:
        for i, m in enumerate(value):
            m.spec(i)  # raises MarketError (a ValueError) on a bad spec
        return value

    @property
    def resolved_key_dir(self) -> Path:
        return self.key_dir if self.key_dir is not None else self.data_dir / "keys"

    @property
    def resolved_oracle_key_dir(self) -> Path:
        return self.oracle_key_dir if self.oracle_key_dir is not None else self.data_dir / "oracle"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'darkpool.sqlite3').resolve()}"

    def market_specs(self) -> list[MarketSpec]:
        return [m.spec(i) for i, m in enumerate(self.markets)]

    def start_prices(self) -> list[int]:
        return [m.start_price for m in self.markets]


#: The genesis risk rules ``darkpool serve`` uses unless the environment sets them
#: (``DARKPOOL_SWEEP_INTERVAL_BATCHES`` ...; 0 turns a rule off): a proven health
#: sweep at least every 10 batches and every 300 s of batch time (liquidation
#: completeness), funding index updates hourly. ``Settings()`` built in code
#: (tests, embedding) keeps them 0: a sweep costs proofs.
SERVE_RISK_DEFAULTS: dict[str, int] = {
    "sweep_interval_batches": 10,
    "sweep_interval_s": 300,
    "funding_interval_s": 3600,
}

#: What ``darkpool serve`` runs unless ``DARKPOOL_STATE`` / ``DARKPOOL_PROFILE`` say
#: otherwise: the recycling-order ("slots") state at production depth (2^20 accounts,
#: 4 markets, 16 live orders per account). ``Settings()`` built in code stays at the
#: ``test`` profile (the test suite's).
SERVE_DEFAULTS: dict[str, str] = {"profile": "production"}


def serve_settings() -> Settings:
    """``darkpool serve``'s settings: the environment, with ``SERVE_DEFAULTS`` and
    ``SERVE_RISK_DEFAULTS`` where unset, and ``default_markets`` sized to the profile
    when ``DARKPOOL_MARKETS`` is unset.

    Raises pydantic ``ValidationError`` on a bad variable (like ``Settings()``),
    ValueError for a profile with more markets than there are defaults.
    """
    given = {name.upper() for name in os.environ}
    wanted: dict[str, object] = {**SERVE_RISK_DEFAULTS, **SERVE_DEFAULTS}
    defaults = {
        field: value for field, value in wanted.items() if f"DARKPOOL_{field.upper()}" not in given
    }
    settings = Settings(**defaults)  # type: ignore[arg-type]
    if "DARKPOOL_MARKETS" not in given:
        from prover.circuits import load_params

        count = load_params(settings.profile).markets
        if count != len(settings.markets):
            settings = Settings(**defaults, markets=default_markets(count))  # type: ignore[arg-type]
    return settings
