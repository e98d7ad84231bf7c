"""A recycling-order ("slots") ledger at the production profile, proven and replayed.

    uv run python -m benchmarks.slots_production [--profile production] [--prover groth16py]

Runs ``exchange.operator.slots.SlotsOperator`` in process with 4 markets and
real Groth16 proofs: the insurance fund and 4 accounts opened, a deposit, 12
crossing orders and one cancelled order, one batch at a signed oracle report
(``order_ops`` proofs, then up to 8 fills as chained ``settle_fills`` groups),
a withdrawal and a solvency report; exports the ledger to a temporary
directory and replays it with ``verifier.ledger.replay`` (what
``darkpool-verify`` runs), which must say VALID (exit 1 otherwise).

Key setup (compile + Groth16 setup on ``$DARKPOOL_PTAU``, cached in
``$DARKPOOL_CACHE``) is timed per statement before the operator starts; a
near-zero setup time means the keys were already in the cache. Prints a
table per statement (constraints, proofs, seconds per proof, setup seconds)
and writes ``benchmarks/results/slots_production.json``. The baseline is the
verifier: its replay time of the same ledger is reported next to the proving
time. Reports numbers only; never asserts on timings.
"""

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_json
from prover import backends, circuits, toolchain
from verifier.protocol import DEFAULT_EXCHANGE_ID, STATEMENTS

NOW = 1000
EXPIRY = 10**6
PRICES = [100, 50, 20, 10]  # start marks of the 4 markets, in ticks
# (owner, market, side, size, limit): each market gets one buyer crossed by two
# sellers, so 2 fills per market and 8 in the batch; order ids count per owner.
ORDERS = [
    ("a", 0, "buy", 4, 110),
    ("b", 0, "sell", 2, 95),
    ("c", 0, "sell", 2, 96),
    ("b", 1, "buy", 3, 55),
    ("c", 1, "sell", 1, 48),
    ("d", 1, "sell", 2, 49),
    ("c", 2, "buy", 2, 22),
    ("d", 2, "sell", 1, 19),
    ("a", 2, "sell", 1, 19),
    ("d", 3, "buy", 2, 11),
    ("a", 3, "sell", 1, 9),
    ("b", 3, "sell", 1, 9),
]


def setup_keys(profile: str) -> dict[str, float]:
    """Seconds to build (or find in the cache) each statement's keys."""
    seconds = {}
    for statement in STATEMENTS:
        start = time.perf_counter()
        circuits.build_statement(statement, profile)
        seconds[statement] = time.perf_counter() - start
    return seconds


def run_ledger(profile: str, directory: Path) -> tuple[dict[str, list[float]], Any, float, int]:
    """The scenario above; (prove seconds per statement, replay report, replay s, fills)."""
    from exchange.operator import MarketSpec
    from exchange.operator.slots import SlotsOperator
    from oracle.feed import SimulatedFeed
    from oracle.signer import OracleSigner
    from verifier import ledger
    from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
    from verifier.eddsa import PrivateKey
    from verifier.encoding import BUY, SELL, withdraw_message
    from verifier.protocol import Tags
    from verifier.source import DirectorySource

    params = circuits.load_params(profile)
    times: dict[str, list[float]] = defaultdict(list)

    def prove(
        artifacts: toolchain.CircuitArtifacts, inputs: Mapping[str, object]
    ) -> tuple[dict[str, Any], list[str]]:
        start = time.perf_counter()
        out = backends.prove_inputs(artifacts, inputs)
        times[artifacts.name.removesuffix(f"_{profile}")].append(time.perf_counter() - start)
        return out

    tags = Tags.for_exchange(DEFAULT_EXCHANGE_ID)
    feed = SimulatedFeed(PRICES[: params.markets], seed=1)
    oracle = OracleSigner(feed, tags.oracle, key=PrivateKey(bytes([1]) * 32))
    markets = [
        MarketSpec(m, f"M{m}-PERP", 1, 1, imf_bps=500, mmf_bps=300, fee_bps=5)
        for m in range(params.markets)
    ]
    keys = {name: PrivateKey(bytes([i + 2]) * 32) for i, name in enumerate("iabcd")}
    op = SlotsOperator(
        markets=markets,
        oracle=oracle,
        insurance_pubkey=keys["i"].public_key(),
        insurance_fund=1000,
        profile=profile,
        clock=lambda: NOW,
        prove=prove,
        operator_key=PrivateKey(bytes([9]) * 32),
    )
    index = {name: op.open_account(keys[name].public_key(), 100_000) for name in "abcd"}
    op.deposit(index["d"], 5_000)
    report = op.oracle.report(1, NOW)
    op.observe(report)
    live = [row for row in ORDERS if row[1] < params.markets]
    for n, (owner, market, side, size, limit) in enumerate(live):
        order_id = 1 + sum(1 for o, *_ in live[:n] if o == owner)
        order = SlottedOrder(
            index[owner], order_id, market, BUY if side == "buy" else SELL, size, limit, EXPIRY
        )
        op.submit_order(order, keys[owner].sign(order_hash(tags.order, order)))
    spare = 1 + sum(1 for o, *_ in live if o == "a")
    cancelled = SlottedOrder(index["a"], spare, 0, BUY, 1, 60, EXPIRY, salt=7)
    h = order_hash(tags.order, cancelled)
    op.submit_order(cancelled, keys["a"].sign(h))
    op.cancel(h, keys["a"].sign(cancel_order_message(tags.cancel, h)))
    summary = op.run_batch(report)
    nonce = op.account_state(index["a"]).nonce
    message = withdraw_message(tags.withdraw, index["a"], 1000, nonce)
    op.withdraw(index["a"], 1000, keys["a"].sign(message))
    op.prove_solvency(report)
    src = DirectorySource(op.export(directory))
    start = time.perf_counter()
    replay = ledger.replay(
        manifest=src.manifest(), genesis=src.genesis(), entries=src.entry, vkeys=src.vkeys()
    )
    return times, replay, time.perf_counter() - start, len(summary.fills)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="production")
    parser.add_argument("--prover", choices=backends.PROVERS, default=None)
    args = parser.parse_args(argv)
    if args.prover:
        os.environ[backends.PROVER_ENV] = args.prover
    prover = backends.get_prover().name
    setup = setup_keys(args.profile)
    with tempfile.TemporaryDirectory(prefix="darkpool-slots-bench-") as tmp:
        times, replay, replay_s, fills = run_ledger(args.profile, Path(tmp) / "export")
    rows = []
    for statement in STATEMENTS:
        samples = times.get(statement, [])
        rows.append(
            {
                "statement": statement,
                "constraints": circuits.compile_statement(statement, args.profile)[1],
                "proofs": len(samples),
                "s_per_proof": sum(samples) / len(samples) if samples else None,
                "setup_s": setup[statement],
            }
        )
    print(f"profile {args.profile}, prover {prover}, {fills} fills in the batch")
    print_table(rows, ["statement", "constraints", "proofs", "s_per_proof", "setup_s"])
    proving = sum(sum(v) for v in times.values())
    verdict = "VALID" if replay.ok else f"INVALID {replay.failures}"
    print(f"proving {proving:.1f} s in all; verifier replay {replay_s:.1f} s: {verdict}")
    path = write_json(
        "slots_production",
        {
            "profile": args.profile,
            "prover": prover,
            "fills": fills,
            "statements": rows,
            "proving_s": proving,
            "baseline_replay_s": replay_s,
            "proofs_replayed": dict(replay.proofs_this_run),
            "valid": replay.ok,
        },
    )
    print(f"wrote {path}")
    return 0 if replay.ok else 1


if __name__ == "__main__":
    sys.exit(main())
