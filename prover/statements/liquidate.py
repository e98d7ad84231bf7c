"""Witnesses for LIQUIDATE (``circuits/liquidate.circom``): one step of a liquidation.

``build_liquidation_step`` takes the account tree, the liquidated account and
the fund (index 0) as they are before the step, the market and lot count the
operator chose (``exchange.domain.liquidation.step_quantity`` decides it;
this module only executes it) and returns a ``LiquidationStepWitness``: the
states after the step, the new tree, the circuit's input JSON and public
inputs. The fee formula is ``verifier.accounting.liquidation_fee`` and the
public layout ``verifier.statements.liquidate`` (one copy each). Pure: never
runs node.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from prover.statements.layout import named_public_inputs
from verifier import accounting
from verifier.encoding import AccountState, to_field
from verifier.merkle import MerklePath, MerkleTree
from verifier.params import BPS_DENOM, CircuitParams
from verifier.protocol import FEE_ACCOUNT, Tags
from verifier.statements.liquidate import LiquidationStatementError, LiquidationStepPublic

TEMPLATE = "LiquidateStep"
PUBLIC = [
    "oldAccountRoot",
    "newAccountRoot",
    "account",
    "market",
    "continuation",
    "closedAll",
    "flatAfter",
    "prices",
    "imfBps",
    "mmfBps",
    "liqFeeBps",
]
PER_MARKET_INPUTS = ("prices", "imfBps", "mmfBps", "liqFeeBps")


def template_args(params: CircuitParams, tags: Tags) -> list[int]:
    """LiquidateStep(ACC_DEPTH, M); no domain tag is hashed in this statement."""
    return [params.account_depth, params.markets]


@dataclass(frozen=True)
class LiquidationStepWitness:
    """Everything the prover knows for one step, plus the states it produces."""

    public: LiquidationStepPublic
    before: AccountState
    after: AccountState
    fund_before: AccountState
    fund_after: AccountState
    path: MerklePath
    fund_path: MerklePath
    lots: int
    fee_raw: int
    fee: int
    prev_fee_raw: int
    prev_fee: int
    cover: int
    tree_after: MerkleTree = field(repr=False, compare=False)

    def public_inputs(self) -> list[int]:
        return self.public.signals()

    def to_circuit_inputs(self) -> dict[str, object]:
        """Input JSON for the witness generator (every value reduced mod r)."""
        pub = self.public_inputs()
        m = len(self.public.prices)
        return {
            **named_public_inputs(pub, PUBLIC, dict.fromkeys(PER_MARKET_INPUTS, m)),
            "pubX": self.before.pub_x,
            "pubY": self.before.pub_y,
            "balance": to_field(self.before.balance),
            "positions": [to_field(s) for s in self.before.positions],
            "nonce": self.before.nonce,
            "blinding": self.before.blinding,
            "newBlinding": self.after.blinding,
            "siblings": list(self.path.siblings),
            "fundPubX": self.fund_before.pub_x,
            "fundPubY": self.fund_before.pub_y,
            "fundBalance": to_field(self.fund_before.balance),
            "fundPositions": [to_field(s) for s in self.fund_before.positions],
            "fundNonce": self.fund_before.nonce,
            "fundBlinding": self.fund_before.blinding,
            "fundNewBlinding": self.fund_after.blinding,
            "fundSiblings": list(self.fund_path.siblings),
            "lots": self.lots,
            "feeRaw": self.fee_raw,
            "fee": self.fee,
            "prevFeeRaw": self.prev_fee_raw,
            "prevFee": self.prev_fee,
        }


def build_liquidation_step(
    tree: MerkleTree,
    *,
    account: int,
    before: AccountState,
    fund_before: AccountState,
    market: int,
    lots: int,
    continuation: bool,
    prices: Sequence[int],
    imf_bps: Sequence[int],
    mmf_bps: Sequence[int],
    liquidation_fee_bps: Sequence[int],
    new_blinding: int,
    fund_new_blinding: int,
    params: CircuitParams,
) -> LiquidationStepWitness:
    """Execute one step on a copy of ``tree``; raises LiquidationStatementError if
    the inputs could not satisfy the circuit (wrong leaves, lots out of range,
    account not eligible, a shortfall the fund cannot cover, a non-minimal step)."""
    if account == FEE_ACCOUNT:
        raise LiquidationStatementError("the insurance fund is never liquidated")
    if tree.get(account) != before.leaf() or tree.get(FEE_ACCOUNT) != fund_before.leaf():
        raise LiquidationStatementError("the account or fund state is not the tree's leaf")
    m = params.markets
    if not (len(prices) == len(imf_bps) == len(mmf_bps) == len(liquidation_fee_bps) == m):
        raise LiquidationStatementError(f"expected {m} prices and fractions")
    s = before.positions[market]
    if not 1 <= lots <= abs(s):
        raise LiquidationStatementError(f"cannot move {lots} lots of a position of {s}")
    eligible = accounting.meets_margin(
        before.balance, before.positions, prices, imf_bps if continuation else mmf_bps
    )
    if eligible:
        raise LiquidationStatementError(
            "account is not below " + ("initial" if continuation else "maintenance") + " margin"
        )
    equity = accounting.equity(before.balance, before.positions, prices)
    cover = max(-equity, 0)
    fund_equity = accounting.equity(fund_before.balance, fund_before.positions, prices)
    if cover > max(fund_equity, 0):
        raise LiquidationStatementError("the fund cannot cover the shortfall (needs ADL)")
    equity_pos = equity + cover
    price = prices[market]
    fee_raw = accounting.fee(lots, price, liquidation_fee_bps[market])
    fee = accounting.liquidation_fee(lots, price, liquidation_fee_bps[market], equity_pos)
    prev_fee_raw = accounting.fee(lots - 1, price, liquidation_fee_bps[market])
    prev_fee = accounting.liquidation_fee(lots - 1, price, liquidation_fee_bps[market], equity_pos)
    moved = lots if s > 0 else -lots
    new_positions = list(before.positions)
    new_positions[market] -= moved
    after = replace(
        before,
        balance=before.balance + cover + moved * price - fee,
        positions=tuple(new_positions),
        blinding=new_blinding,
    )
    fund_positions = list(fund_before.positions)
    fund_positions[market] += moved
    fund_after = replace(
        fund_before,
        balance=fund_before.balance - cover - moved * price + fee,
        positions=tuple(fund_positions),
        blinding=fund_new_blinding,
    )
    restored = accounting.meets_margin(after.balance, after.positions, prices, imf_bps)
    if not restored and lots != abs(s):
        raise LiquidationStatementError(
            "a step that does not restore IMR must move the whole position"
        )
    if restored and lots > 1:
        weighted_prev = accounting.weighted_notional(after.positions, prices, imf_bps) + (
            price * imf_bps[market]
        )
        if BPS_DENOM * (equity_pos - prev_fee) >= weighted_prev:
            raise LiquidationStatementError(f"{lots - 1} lots would already restore IMR")
    old_root = tree.root
    path = tree.path(account)
    work = tree.copy()
    work.update(account, after.leaf())
    fund_path = work.path(FEE_ACCOUNT)
    work.update(FEE_ACCOUNT, fund_after.leaf())
    public = LiquidationStepPublic(
        old_root=old_root,
        new_root=work.root,
        account=account,
        market=market,
        continuation=continuation,
        closed_all=not restored,
        flat_after=not any(after.positions),
        prices=tuple(prices),
        imf_bps=tuple(imf_bps),
        mmf_bps=tuple(mmf_bps),
        liquidation_fee_bps=tuple(liquidation_fee_bps),
    )
    return LiquidationStepWitness(
        public=public,
        before=before,
        after=after,
        fund_before=fund_before,
        fund_after=fund_after,
        path=path,
        fund_path=fund_path,
        lots=lots,
        fee_raw=fee_raw,
        fee=fee,
        prev_fee_raw=prev_fee_raw,
        prev_fee=prev_fee,
        cover=cover,
        tree_after=work,
    )
