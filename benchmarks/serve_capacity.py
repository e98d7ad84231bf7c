"""Capacity of a fresh default server: many accounts, 10,000 orders over time, no "full".

Issue 12's done-when: "on a fresh default server, 64 accounts and 10,000
orders over time are accepted with no 'full' error". This starts ``darkpool
serve`` as an operator would (the slots state; ``--profile`` default the serve
default, ``production``; the server's default rate limits), opens
``--accounts`` accounts through the SDK (one ``account_update`` proof each),
then submits ``--orders`` short-lived orders from ``--clients`` threads over
HTTP: each expires ``--ttl`` seconds after it is signed and every
``--cancel-every``-th is cancelled right after it is accepted, so order slots
recycle (a slot takes a newer id once its order expired, filled or had its
cancel executed). The orders come in ``--rounds`` phases; after each, once
every order of the phase has expired, one batch runs (operator token): it
places no expired order (no proof for them) and executes the phase's cancels
(one proven ``order_ops`` op each, which is what frees a cancelled slot), so
cancels are the expensive path and expiry the cheap one. Order ids are the SDK's defaults (``client.slots.OrderIds``:
per account increasing, in a slot no live order of the client holds); when all
of an account's slots are live the client waits for the earliest expiry
(counted as ``waits``), which is what "over time" means for 4^slot_levels
slots per account. Nothing crosses, and the server's batch timer is off (as in
every ``serve_env`` server; batches run between rounds): this measures intake
and slot recycling, not matching.

Prints a table and writes ``benchmarks/results/serve_capacity.json``: time to
ready, account opening, orders/s overall and for the first vs the last 1,000
orders (the in-run baseline: intake must not slow down as the ledger grows),
refusals by reason. Exits 1 if any refusal says "full" or that a slot still
holds a live order.

Run: ``uv run python -m benchmarks.serve_capacity [--profile test] [--accounts 64]
[--orders 10000]``. The test profile's tree holds 15 trader accounts (4 slots each).
"""

import argparse
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_json
from benchmarks.intake import cpu_seconds
from client.sdk import ClientError, DarkpoolClient
from client.slots import SlotsBusy
from demo.server import local_server, serve_env
from exchange.core.config import SERVE_DEFAULTS, default_markets
from prover.circuits import load_params
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL

TOKEN = "serve-capacity-benchmark-token-01"
DEPOSIT = 10**9
#: Orders per rate window for the in-run baseline (first vs last).
WINDOW = 1_000
#: A refusal with one of these in its reason fails the run (issue 12: no "full").
FULL_PATTERNS = ("full", "still holds live order")


@dataclass
class Outcomes:
    accepted: int = 0
    cancelled: int = 0
    waits: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refused(self, exc: ClientError) -> None:
        reason = f"{exc.status} " + re.sub(r"\d+", "N", exc.detail)[:90]
        with self.lock:
            self.refusals[reason] += 1


def open_accounts(url: str, count: int) -> tuple[list[tuple[PrivateKey, int]], float]:
    """``count`` funded accounts (one proof each); (key, index) pairs and the seconds taken."""
    client = DarkpoolClient(url)
    started = time.perf_counter()
    opened = []
    for i in range(count):
        key = PrivateKey.generate()
        opened.append((key, client.open_account(key, DEPOSIT)))
        if (i + 1) % 8 == 0:
            print(f"  {i + 1}/{count} accounts open", flush=True)
    client.close()
    return opened, time.perf_counter() - started


def submit_loop(
    url: str,
    accounts: Sequence[tuple[PrivateKey, int]],
    count: int,
    prices: Sequence[int],
    args: argparse.Namespace,
    out: Outcomes,
) -> None:
    """One client thread: ``count`` orders round-robin over its ``accounts``."""
    client = DarkpoolClient(url)
    markets = len(prices)
    k = 0
    try:
        while k < count:
            key, account = accounts[k % len(accounts)]
            market = k % markets
            side = BUY if (k // markets) % 2 else SELL
            # Never crossing: buys 5% under the start price, sells 5% over.
            limit = prices[market] * (95 if side == BUY else 105) // 100
            expiry = int(time.time()) + args.ttl
            try:
                result = client.submit_order(key, account, market, side, 1, limit, expiry)
            except SlotsBusy:
                with out.lock:
                    out.waits += 1
                time.sleep(0.2)  # the earliest expiry is at most ttl + 1 s away
                continue
            except ClientError as exc:
                out.refused(exc)
                k += 1
                continue
            k += 1
            with out.lock:
                out.accepted += 1
                out.accepted_at.append(time.perf_counter())
            if args.cancel_every and k % args.cancel_every == 0:
                try:
                    client.cancel(key, int(result["commitment"]))
                    with out.lock:
                        out.cancelled += 1
                except ClientError as exc:
                    out.refused(exc)
    finally:
        client.close()


def rate(times: Sequence[float]) -> float | None:
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def run(args: argparse.Namespace) -> dict[str, Any]:
    params = load_params(args.profile)
    capacity = (1 << params.account_depth) - 1  # account 0 is the insurance fund
    accounts = min(args.accounts, capacity)
    markets = default_markets(params.markets)
    prices = [m.start_price for m in markets]
    with tempfile.TemporaryDirectory(prefix="serve-capacity-") as tmp:
        data = Path(tmp) / "server"
        env = serve_env(data, profile=args.profile, operator_token=TOKEN, oracle_step_bps="0")
        if args.state:
            env["DARKPOOL_STATE"] = args.state
        started = time.perf_counter()
        with local_server(data, env, timeout=args.start_timeout) as server:
            ready_s = time.perf_counter() - started
            print(f"server ready in {ready_s:.1f}s at {server.url}", flush=True)
            admin = DarkpoolClient(server.url)
            info = admin.info()
            opened, open_s = open_accounts(server.url, accounts)
            out = Outcomes()
            batches: list[dict[str, Any]] = []
            cpu0 = cpu_seconds(server.process.pid)
            t0 = time.perf_counter()
            batch_s = 0.0
            for r in range(args.rounds):
                share = args.orders // args.rounds + (r < args.orders % args.rounds)
                threads = [
                    threading.Thread(
                        target=submit_loop,
                        args=(
                            server.url,
                            opened[c :: args.clients],
                            share // args.clients + (c < share % args.clients),
                            prices,
                            args,
                            out,
                        ),
                    )
                    for c in range(args.clients)
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if r + 1 < args.rounds or args.cancel_every:
                    # Every order of the round expires first, so the batch places none
                    # (nothing to prove for them) and only executes the round's cancels.
                    time.sleep(args.ttl + 1.5)
                    b0 = time.perf_counter()
                    batches.append(admin.admin_batch(TOKEN))
                    batch_s += time.perf_counter() - b0
                    print(
                        f"  round {r + 1}/{args.rounds}: {out.accepted} accepted, batch "
                        f"{batches[-1].get('batch_id')} in {time.perf_counter() - b0:.1f}s",
                        flush=True,
                    )
            wall = time.perf_counter() - t0
            server_cpu = cpu_seconds(server.process.pid) - cpu0
            health = admin.health()
            admin.close()
    times = sorted(out.accepted_at)
    first, last = rate(times[:WINDOW]), rate(times[-WINDOW:])
    full = {r: n for r, n in out.refusals.items() if any(p in r for p in FULL_PATTERNS)}
    return {
        "profile": args.profile,
        "state": info.get("state", "list"),
        "markets": [m["symbol"] for m in info["markets"]],
        "slots_per_account": 1 << (2 * params.slot_levels),
        "accounts": accounts,
        "orders": args.orders,
        "ttl_s": args.ttl,
        "cancel_every": args.cancel_every,
        "clients": args.clients,
        "ready_s": round(ready_s, 2),
        "open_accounts_s": round(open_s, 2),
        "accepted": out.accepted,
        "cancelled": out.cancelled,
        "waits_all_slots_live": out.waits,
        "refusals": dict(out.refusals),
        "full_refusals": full,
        "wall_s": round(wall, 2),
        "batch_s": round(batch_s, 2),
        "orders_per_s": round(out.accepted / wall, 2) if wall else None,
        "first_window_orders_per_s": round(first, 2) if first else None,
        "last_window_orders_per_s": round(last, 2) if last else None,
        "last_vs_first": round(last / first, 3) if first and last else None,
        "server_cpu_ms_per_order": round(1000 * server_cpu / max(out.accepted, 1), 2),
        "batches": len(batches),
        "batch_proofs": sum(int(b.get("proofs", 0)) for b in batches),
        "ledger_entries": health.get("ledger_entries"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_capacity")
    parser.add_argument("--profile", default=SERVE_DEFAULTS["profile"])
    parser.add_argument("--state", default=None, help="DARKPOOL_STATE (default: the serve default)")
    parser.add_argument("--accounts", type=int, default=64)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--ttl", type=int, default=2, help="seconds from signing to expiry")
    parser.add_argument("--cancel-every", type=int, default=500, metavar="K")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=5, help="submit phases, each followed by one batch"
    )
    parser.add_argument("--start-timeout", type=float, default=7_200.0)
    args = parser.parse_args(argv)
    result = run(args)
    rows = [
        {"what": k, "value": str(v)}
        for k, v in result.items()
        if k not in ("refusals", "full_refusals")
    ]
    rows += [
        {"what": f"refused: {r}", "value": str(n)} for r, n in sorted(result["refusals"].items())
    ]
    print_table(rows, ["what", "value"])
    path = write_json("serve_capacity", result)
    print(f"wrote {path}")
    if result["full_refusals"]:
        print(
            f"FAILED: refusals for full slots or tree: {result['full_refusals']}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
