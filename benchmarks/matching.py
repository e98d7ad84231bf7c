"""Throughput of the pure matching engine (``exchange.domain.match_batch``).

Run: ``uv run python -m benchmarks.matching``. Builds seeded random books of
1k, 10k and 100k resting orders over 3 markets and times one batch each, in
two scenarios: ``ample`` (every account well collateralised, margin never
binds) and ``tight`` (each account holds 20 BTC lots' notional, so a few
percent of pairings go through the margin-limited search). Prints a table and writes
``benchmarks/results/matching.json``. Pure computation: no proofs, no I/O
besides the result file; never asserts on timings.
"""

import random
from typing import Any

from benchmarks.common import print_table, time_call, write_json
from exchange.domain import AccountEntry, MarketSpec, RestingOrder, match_batch
from verifier.encoding import BUY, SELL, Order

MARKETS = [
    MarketSpec(0, "BTC-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
    MarketSpec(1, "ETH-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
    MarketSpec(2, "SOL-PERP", 1, 1, imf_bps=2000, mmf_bps=1000, fee_bps=10),
]
MARKS = [60_000, 3_000, 150]
TIMESTAMP = 1_000_000
SIZES = (1_000, 10_000, 100_000)


def build_book(
    n_orders: int, scenario: str, seed: int
) -> tuple[list[RestingOrder], dict[int, AccountEntry]]:
    """Random orders (limits within ±2% of the mark, ~half eligible) and flat accounts."""
    rnd = random.Random(seed)
    n_accounts = max(10, n_orders // 20)
    per_account = 10**12 if scenario == "ample" else 20 * max(MARKS)
    accounts = {0: AccountEntry(0, (0,) * len(MARKETS))}
    for a in range(1, n_accounts + 1):
        accounts[a] = AccountEntry(per_account, (0,) * len(MARKETS))
    orders = []
    for index in range(n_orders):
        market = rnd.randrange(len(MARKETS))
        mark = MARKS[market]
        side = rnd.choice((BUY, SELL))
        offset = rnd.randint(-mark // 50, mark // 50)
        order = Order(
            account=rnd.randint(1, n_accounts),
            market=market,
            side=side,
            size=rnd.randint(1, 100),
            limit_price=max(1, mark + offset),
            expiry=TIMESTAMP + 60,
            salt=index,
        )
        orders.append(RestingOrder(index, order, commitment=index + 1))
    return orders, accounts


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for scenario in ("ample", "tight"):
        for n in SIZES:
            orders, accounts = build_book(n, scenario, seed=n)
            result = match_batch(orders, accounts, MARKS, MARKETS, TIMESTAMP)
            repeat = 5 if n <= 1_000 else 3 if n <= 10_000 else 1

            def batch(
                orders: list[RestingOrder] = orders, accounts: dict[int, AccountEntry] = accounts
            ) -> object:
                return match_batch(orders, accounts, MARKS, MARKETS, TIMESTAMP)

            timing = time_call(batch, repeat=repeat)
            rows.append(
                {
                    "scenario": scenario,
                    "orders": n,
                    "markets": len(MARKETS),
                    "fills": len(result.fills),
                    "margin_limited": sum(
                        1 for r in result.skipped.values() if r == "margin_limited"
                    ),
                    "best_s": timing.best,
                    "median_s": timing.median,
                    "runs": timing.runs,
                    "orders_per_s": int(n / timing.best),
                    "fills_per_s": int(len(result.fills) / timing.best),
                }
            )
    return rows


def main() -> None:
    rows = run()
    print_table(
        [{**r, "best": r["best_s"], "median": r["median_s"]} for r in rows],
        [
            "scenario",
            "orders",
            "markets",
            "fills",
            "margin_limited",
            "best",
            "median",
            "orders_per_s",
            "fills_per_s",
        ],
    )
    path = write_json("matching", {"results": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
