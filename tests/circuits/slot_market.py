"""A small market in the recycling-order design, for ORDER OPS / SETTLE FILLS tests.

``SlotMarket`` wraps an ``AccountBook`` at the test profile with keys per
account, signs orders and cancels, and chains the two builders the way a batch
does (the book after one proof is the book before the next). Test code only.
"""

from dataclasses import dataclass, field

from prover.account_book import AccountBook
from prover.circuits import DEFAULT_EXCHANGE_ID, Tags, load_params
from prover.statements.order_ops import OrderOp, OrderOpsOutcome, build_order_ops
from prover.statements.settle_fills import GroupFill, SettleFillsOutcome, build_settle_fills
from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
from verifier.eddsa import PrivateKey
from verifier.params import CircuitParams

PARAMS = load_params("test")
TAGS = Tags.for_exchange(DEFAULT_EXCHANGE_ID)
PRICES = (1_000, 20_000)
FEE_BPS = (30, 5)
IMF_BPS = (1_000, 500)
MMF_BPS = (500, 250)
NOW = 1_700_000_000
BATCH_ID = 9


def key(n: int) -> PrivateKey:
    return PrivateKey(bytes([n + 1]) * 32)


@dataclass
class SlotMarket:
    """Accounts 0 (fund) .. with balances, and helpers to place, cancel and fill."""

    params: CircuitParams = PARAMS
    funding: tuple[int, ...] = (0, 0)
    book: AccountBook = field(init=False)
    _blinding: int = 1000

    def __post_init__(self) -> None:
        self.book = AccountBook(self.params)

    def blinding(self) -> int:
        self._blinding += 1
        return self._blinding

    def open(self, index: int, balance: int, positions: tuple[int, ...] | None = None) -> None:
        pub = key(index).public_key()
        self.book.open(
            index,
            pub=(pub.x, pub.y),
            balance=balance,
            funding=self.funding,
            blinding=self.blinding(),
        )
        if positions is not None:
            from dataclasses import replace

            self.book.put(index, replace(self.book.record(index), positions=positions))

    def order(
        self,
        account: int,
        side: int,
        size: int,
        limit: int,
        *,
        order_id: int = 1,
        market: int = 0,
        expiry: int = NOW + 60,
        reduce_only: bool = False,
    ) -> SlottedOrder:
        return SlottedOrder(
            account=account,
            order_id=order_id,
            market=market,
            side=side,
            size=size,
            limit_price=limit,
            expiry=expiry,
            reduce_only=reduce_only,
            salt=77 + account * 1000 + order_id,
        )

    def place_op(self, order: SlottedOrder, signer: int | None = None) -> OrderOp:
        h = order_hash(TAGS.order, order)
        return OrderOp(order, key(order.account if signer is None else signer).sign(h))

    def cancel_op(self, order: SlottedOrder) -> OrderOp:
        msg = cancel_order_message(TAGS.cancel, order_hash(TAGS.order, order))
        return OrderOp(order, key(order.account).sign(msg), cancel=True)

    def ops(self, ops: list[OrderOp], **kw: object) -> OrderOpsOutcome:
        out = build_order_ops(
            self.book,
            ops,
            tags=TAGS,
            batch_id=BATCH_ID,
            funding=self.funding,
            new_blinding=self.blinding,
            **kw,  # type: ignore[arg-type]
        )
        self.book = out.book
        return out

    def fills(self, fills: list[GroupFill], **kw: object) -> SettleFillsOutcome:
        out = build_settle_fills(
            self.book,
            fills,
            tags=TAGS,
            batch_id=BATCH_ID,
            timestamp=kw.pop("timestamp", NOW),  # type: ignore[arg-type]
            prices=kw.pop("prices", PRICES),  # type: ignore[arg-type]
            funding=self.funding,
            fee_bps=FEE_BPS,
            imf_bps=IMF_BPS,
            mmf_bps=MMF_BPS,
            new_blinding=self.blinding,
            **kw,  # type: ignore[arg-type]
        )
        self.book = out.book
        return out
