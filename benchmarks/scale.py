"""Scale: intake and batches on the recycling-order state (order_ops + settle_fills), by account count.

    uv run python -m benchmarks.scale [--accounts 1000 10000 100000] [--orders 1000000]
                                      [--batches 20] [--fills 8]

For each account count N: an ``AccountBook`` at production depth (2^20
accounts as 10 quaternary levels, 4 markets, 16 order slots per account) is
loaded with N open accounts, then ``--orders`` orders are accepted over
``--batches`` batches and every batch builds the witnesses of its proof chain
— one ``order_ops`` proof per 4 placements and one ``settle_fills`` group per
2 fills (``--fills`` fills per batch). **Proofs are skipped** (witness building
only: snarkjs proving time per statement is in ``benchmarks.prove``).
Intake is measured as the commitment hash and the bookkeeping of an accepted
order; signature checks at intake are measured by ``benchmarks.intake``.

Reported per N: time to load the accounts, intake time per 1,000 orders, time
per batch (mean) and the process's peak RSS after the batches. The baseline
row is the smallest N: a batch should cost the same at 100x the accounts,
because a batch rehashes only the accounts it touches (O(touched x depth))
and copies only shallow dicts. Uses the native Poseidon when installed.
"""

import argparse
import resource
import time
from collections.abc import Sequence

from benchmarks.common import print_table, write_json
from prover.account_book import AccountBook
from prover.circuits import load_params
from prover.statements.order_ops import OrderOp, build_order_ops
from prover.statements.settle_fills import GroupFill, build_settle_fills
from verifier import poseidon
from verifier.account_state import AccountRecord, SlottedOrder, empty_order_root, order_hash
from verifier.eddsa import PrivateKey
from verifier.protocol import DEFAULT_EXCHANGE_ID, Tags
from verifier.quadtree import QuadTree

TAGS = Tags.for_exchange(DEFAULT_EXCHANGE_ID)
PRICES = (60_000, 3_000, 150, 20)
FUNDING = (0, 0, 0, 0)
FEE_BPS = (5, 5, 5, 5)
IMF_BPS = (500, 1_000, 1_000, 1_000)
MMF_BPS = (300, 500, 500, 500)
KEYS = 16  # accounts cycle through this many keys (signing is the trader's cost)


def load_book(n: int) -> tuple[AccountBook, list[PrivateKey]]:
    """N open accounts (index 0 = the fund), bulk-hashed into the tree."""
    params = load_params("production")
    keys = [PrivateKey(bytes([k + 1]) * 32) for k in range(KEYS)]
    pubs = [k.public_key() for k in keys]
    book = AccountBook(params)
    empty = empty_order_root(params.slot_levels)
    leaves = []
    for i in range(n):
        pub = pubs[i % KEYS]
        record = AccountRecord(pub.x, pub.y, 10**9, (0,) * params.markets, FUNDING, empty, 0, i + 1)
        book.records[i] = record
        book.slot_trees[i] = QuadTree(params.slot_levels)
        book.slots[i] = {}
        leaves.append(record.leaf())
    book.tree = QuadTree.from_leaves(leaves, params.account_levels)
    return book, keys


def run_one(n: int, orders: int, batches: int, fills: int) -> dict[str, object]:
    started = time.perf_counter()
    book, keys = load_book(n)
    load_s = time.perf_counter() - started
    per_batch = orders // batches
    next_id = [1] * n
    intake_s = 0.0
    batch_s: list[float] = []
    accepted: dict[int, SlottedOrder] = {}
    for b in range(batches):
        # Intake: accept orders from accounts spread over the whole tree.
        t0 = time.perf_counter()
        for k in range(per_batch):
            account = 1 + (b * per_batch + k) * 7919 % (n - 1)
            order = SlottedOrder(
                account, next_id[account], 0, k % 2, 1, PRICES[0], 2**40, False, k + 1
            )
            next_id[account] += 1
            accepted[order_hash(TAGS.order, order)] = order
        intake_s += time.perf_counter() - t0
        # The batch: place and fill `fills` crossing pairs of fresh accounts.
        pairs = []
        for f in range(fills):
            buyer = 1 + (b * fills + f) * 2 * 104729 % (n - 2)
            seller = buyer + 1
            pairs.append(
                (
                    SlottedOrder(buyer, next_id[buyer], 0, 0, 1, PRICES[0], 2**40, False, 1),
                    SlottedOrder(seller, next_id[seller], 0, 1, 1, PRICES[0], 2**40, False, 2),
                )
            )
            next_id[buyer] += 1
            next_id[seller] += 1
        ops = [
            OrderOp(o, keys[o.account % KEYS].sign(order_hash(TAGS.order, o)))
            for pair in pairs
            for o in pair
        ]
        t0 = time.perf_counter()
        params = book.params
        for i in range(0, len(ops), params.op_slots):
            book = build_order_ops(
                book, ops[i : i + params.op_slots], tags=TAGS, batch_id=b + 1, funding=FUNDING
            ).book
        group = [GroupFill(buy, sell, 1) for buy, sell in pairs]
        for i in range(0, len(group), params.group_fills):
            book = build_settle_fills(
                book,
                group[i : i + params.group_fills],
                tags=TAGS,
                batch_id=b + 1,
                timestamp=1_800_000_000,
                prices=PRICES,
                funding=FUNDING,
                fee_bps=FEE_BPS,
                imf_bps=IMF_BPS,
                mmf_bps=MMF_BPS,
            ).book
        batch_s.append(time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "accounts": n,
        "orders": per_batch * batches,
        "load_s": load_s,
        "intake_per_1000_s": intake_s / max(per_batch * batches, 1) * 1000,
        "batch_s": sum(batch_s) / len(batch_s),
        "fills_per_batch": fills,
        "peak_rss": f"{rss_mb:.0f} MB",
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--fills", type=int, default=8)
    args = parser.parse_args(argv)
    if poseidon.native_available():
        poseidon.set_backend("native")
    rows = [run_one(n, args.orders, args.batches, args.fills) for n in sorted(args.accounts)]
    base = rows[0]["batch_s"]
    for row in rows:
        row["batch_vs_smallest"] = f"{float(row['batch_s']) / float(base):.2f}x"  # type: ignore[arg-type]
    print_table(
        rows,
        [
            "accounts",
            "orders",
            "load_s",
            "intake_per_1000_s",
            "batch_s",
            "batch_vs_smallest",
            "fills_per_batch",
            "peak_rss",
        ],
    )
    path = write_json(
        "scale",
        {"rows": rows, "proofs": "skipped (witness building only)", "poseidon": poseidon_backend()},
    )
    print(f"wrote {path}")


def poseidon_backend() -> str:
    return "native" if poseidon.native_available() else "python"


if __name__ == "__main__":
    main()
