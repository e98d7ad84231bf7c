"""Benchmark: replaying a whole ledger with ``darkpool-verify`` (verifier.ledger.replay).

Run with ``uv run python -m benchmarks.replay [--batches N]`` (default 100).

1. Builds a recycling-order ("slots") ledger with the in-process operator
   (exchange.operator.slots, test profile, real Groth16 proofs): an insurance
   account and four traders, then N batches of one crossing buy/sell pair each
   (two ORDER OPS places in one proof and one SETTLE FILLS group per batch). Proving
   takes several seconds per batch, so progress is printed; the export is
   cached under ``benchmarks/results/ledger-N/`` and later runs reuse it
   (``--rebuild`` makes it again).
2. Measures, on that export:
   * the full replay (read, every structural check, every proof) with
     ``--jobs 1`` and ``--jobs 2``: entries/s and proofs/s;
   * the replay's cheap part alone (a proof checker that checks nothing),
     so the cost of pairings is visible by difference;
   * single-proof ``groth16.verify`` (prepared key, proof parsing included)
     for settle_fills and account_update;
   * the baseline, ``snarkjs groth16 verify`` through its CLI
     (``prover.toolchain.snarkjs_verify``, Node start-up included) on a
     sample of proofs, extrapolated to the ledger's proof count: the JSON
     and the table say it is an extrapolation.

Prints a table and writes ``benchmarks/results/replay.json`` (the last run). Never asserts
on timings; it stops if the honest ledger does not verify.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, print_table, summarize, time_once, write_json
from verifier import groth16, ledger
from verifier.source import DirectorySource, replay_source

ROOT = Path(__file__).resolve().parent.parent
SHARED_DEV_PTAU = ROOT.parent / "shared" / "ptau" / "dev_bn128_16.ptau"
TRADERS = 4
FUND = 10**6
DEPOSIT = 10**8
SNARKJS_SAMPLE = 5
SINGLE_VERIFY_RUNS = 5


def ledger_dir(batches: int, profile: str = "test") -> Path:
    return RESULTS_DIR / f"slots-ledger-{profile}-{batches}"


def build_ledger(batches: int, target: Path, profile: str = "test") -> Path:
    """Operator run with ``batches`` batches of one fill each; exported to ``target``."""
    # Imported here: only generation needs the prover and exchange stacks.
    from exchange.operator import MarketSpec
    from exchange.operator.slots import SlotsOperator
    from oracle.signer import SimulatedOracle
    from verifier.account_state import SlottedOrder, order_hash
    from verifier.eddsa import PrivateKey
    from verifier.encoding import BUY, SELL
    from verifier.protocol import Tags

    tags = Tags.for_exchange("darkpool-dev")
    oracle = SimulatedOracle([1000, 500], tags.oracle, seed=7, key=PrivateKey(b"\x11" * 32))
    markets = [
        MarketSpec(0, "BTC-PERP", 1, 1, imf_bps=500, mmf_bps=300, fee_bps=5),
        MarketSpec(1, "ETH-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
    ]
    insurance = PrivateKey(b"\x12" * 32)
    keys = [PrivateKey(bytes([0x20 + i]) * 32) for i in range(TRADERS)]
    now = [1_000_000]
    op = SlotsOperator(
        markets=markets,
        oracle=oracle,
        insurance_pubkey=insurance.public_key(),
        insurance_fund=FUND,
        profile=profile,
        clock=lambda: now[0],
    )
    accounts = [op.open_account(k.public_key(), DEPOSIT) for k in keys]
    started = time.perf_counter()
    for b in range(1, batches + 1):
        now[0] += 10
        report = oracle.report(b, now[0])
        op.observe(report)
        market = b % 2
        # Rotate who buys and who sells so positions stay small.
        buyer, seller = (b - 1) % TRADERS, b % TRADERS
        price = report.prices[market]
        for i, side, limit in ((buyer, BUY, price * 2), (seller, SELL, 1)):
            # Order id b: every earlier order of the account filled, so a newer id may
            # take its slot (b mod 4 at the test profile).
            order = SlottedOrder(
                accounts[i], b, market, side, 1 + b % 3, limit, 10**9, salt=10**6 * b + i
            )
            op.submit_order(order, keys[i].sign(order_hash(tags.order, order)))
        summary = op.run_batch(report)
        if not summary.fills:
            raise SystemExit(f"benchmark aborted: batch {b} has no fill")
        elapsed = time.perf_counter() - started
        eta = elapsed / b * (batches - b)
        print(
            f"  batch {b}/{batches}: {len(summary.fills)} fill(s), "
            f"{elapsed:.0f} s elapsed, ~{eta:.0f} s left",
            file=sys.stderr,
            flush=True,
        )
    return op.export(target)


def _no_proofs(
    vk: groth16.PreparedVerificationKey,
    vk_json: object,
    items: Sequence[ledger.ProofItem],
    progress: Callable[[int], None],
) -> list[int]:
    progress(len(items))
    return []


def _replay(export: Path, checker: ledger.ProofChecker) -> ledger.ReplayReport:
    return replay_source(DirectorySource(export), checker=checker)


def _proofs(export: Path, statement: str) -> list[tuple[dict[str, Any], list[str]]]:
    """(proof, public signals) of every ``statement`` proof in the export."""
    src = DirectorySource(export)
    count = int(src.manifest()["entries"])  # type: ignore[index]
    found: list[tuple[dict[str, Any], list[str]]] = []
    for i in range(1, count):
        e: Any = src.entry(i)
        if statement == "account_update" and e["kind"] == "account_op":
            found.append((e["proof"], e["public_signals"]))
        elif e["kind"] == "batch":
            found.extend(
                (p["proof"], p["public_signals"])
                for p in e["proofs"]
                if p["statement"] == statement
            )
    return found


def _single_verify(export: Path, statement: str) -> dict[str, object]:
    vk_json = DirectorySource(export).vkeys()[statement]
    vk = groth16.prepare(groth16.VerificationKey.from_snarkjs(vk_json))
    proof_json, public = _proofs(export, statement)[0]
    samples = []
    for _ in range(SINGLE_VERIFY_RUNS):

        def once() -> bool:
            proof = groth16.Proof.from_snarkjs(proof_json)
            return groth16.verify(vk, proof, groth16.parse_public_signals(public, vk.n_public))

        seconds, ok = time_once(once)
        if not ok:
            raise SystemExit(f"benchmark aborted: a valid {statement} proof failed to verify")
        samples.append(seconds)
    t = summarize(samples)
    return {"median_s": t.median, "best_s": t.best, "runs": t.runs, "per_s": 1 / t.median}


def _snarkjs_sample(export: Path, n: int) -> dict[str, object]:
    from prover import toolchain

    vkeys = DirectorySource(export).vkeys()
    sample: list[tuple[str, dict[str, Any], list[str]]] = []
    for statement in ("settle_fills", "order_ops", "account_update"):
        sample += [(statement, p, s) for p, s in _proofs(export, statement)]
    # Mostly batch proofs (the bulk of a ledger), at least one account_update.
    batch_part = [x for x in sample if x[0] != "account_update"][: n - 1]
    chosen = batch_part + [x for x in sample if x[0] == "account_update"][:1]
    samples: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (statement, proof, public) in enumerate(chosen):
            d = Path(tmp)
            files = [d / f"vk{k}.json", d / f"proof{k}.json", d / f"public{k}.json"]
            for path, obj in zip(files, (vkeys[statement], proof, public), strict=True):
                path.write_text(json.dumps(obj))
            seconds, ok = time_once(partial(toolchain.snarkjs_verify, *files))
            if ok is not True:
                raise SystemExit("benchmark aborted: snarkjs rejected a valid proof")
            samples.append(seconds)
    t = summarize(samples)
    return {
        "sample": len(samples),
        "statements": [c[0] for c in chosen],
        "median_s": t.median,
        "mean_s": sum(samples) / len(samples),
        "best_s": t.best,
    }


def run(batches: int, rebuild: bool, profile: str = "test") -> dict[str, object]:
    if not os.environ.get("DARKPOOL_PTAU") and SHARED_DEV_PTAU.is_file():
        os.environ["DARKPOOL_PTAU"] = str(SHARED_DEV_PTAU)
    export = ledger_dir(batches, profile)
    if rebuild or not (export / "ledger.json").is_file():
        print(f"building a ledger with {batches} batches (cached in {export})…", file=sys.stderr)
        seconds, _ = time_once(lambda: build_ledger(batches, export, profile))
        print(f"built in {seconds:.0f} s", file=sys.stderr)
    else:
        print(f"reusing the cached ledger {export}", file=sys.stderr)

    print("replaying without proof checks…", file=sys.stderr)
    cheap_s, report = time_once(lambda: _replay(export, _no_proofs))
    assert isinstance(report, ledger.ReplayReport)
    if not report.ok:
        raise SystemExit(f"benchmark aborted: the ledger does not verify: {report.first_failure}")
    entries = report.manifest_entries
    proofs_by_statement = dict(report.proofs_this_run)
    proofs = sum(proofs_by_statement.values())
    rows: list[dict[str, object]] = []
    results: dict[str, object] = {
        "batches": batches,
        "entries": entries,
        "proofs": proofs,
        "proofs_by_statement": proofs_by_statement,
        "export_bytes": sum(f.stat().st_size for f in export.rglob("*") if f.is_file()),
    }
    rows.append(
        {
            "what": "replay, no proof checks",
            "seconds": cheap_s,
            "entries/s": f"{entries / cheap_s:.1f}",
            "proofs/s": "-",
        }
    )
    results["replay_no_proofs_s"] = cheap_s
    for jobs in (1, 2):
        print(f"full replay with --jobs {jobs}…", file=sys.stderr)
        seconds, full = time_once(partial(_replay, export, ledger.check_proofs(jobs)))
        assert isinstance(full, ledger.ReplayReport)
        if not full.ok:
            raise SystemExit(f"benchmark aborted: replay failed: {full.first_failure}")
        results[f"replay_jobs{jobs}"] = {
            "seconds": seconds,
            "entries_per_s": entries / seconds,
            "proofs_per_s": proofs / seconds,
        }
        rows.append(
            {
                "what": f"full replay --jobs {jobs}",
                "seconds": seconds,
                "entries/s": f"{entries / seconds:.1f}",
                "proofs/s": f"{proofs / seconds:.2f}",
            }
        )
    for statement in ("settle_fills", "order_ops", "account_update"):
        print(f"single {statement} verify…", file=sys.stderr)
        single = _single_verify(export, statement)
        results[f"single_verify_{statement}"] = single
        rows.append(
            {
                "what": f"one {statement} groth16.verify",
                "seconds": single["median_s"],
                "entries/s": "-",
                "proofs/s": f"{single['per_s']:.2f}",
            }
        )
    print(f"snarkjs groth16 verify on {SNARKJS_SAMPLE} proofs…", file=sys.stderr)
    snark = _snarkjs_sample(export, SNARKJS_SAMPLE)
    mean = float(snark["mean_s"])  # type: ignore[arg-type]
    snark["extrapolated_ledger_s"] = mean * proofs
    snark["note"] = (
        f"measured on {snark['sample']} proofs and extrapolated to the ledger's {proofs} "
        "proofs (mean per proof x count); includes Node start-up per proof; "
        "checks proofs only, none of the ledger's other checks"
    )
    results["snarkjs_verify"] = snark
    rows.append(
        {
            "what": f"snarkjs verify x{proofs} (extrapolated from {snark['sample']})",
            "seconds": mean * proofs,
            "entries/s": "-",
            "proofs/s": f"{1 / mean:.2f}",
        }
    )
    print()
    print(
        f"ledger: {batches} batches, {entries} entries, {proofs} proofs "
        f"({', '.join(f'{k} {v}' for k, v in proofs_by_statement.items() if v)})"
    )
    print_table(rows, ("what", "seconds", "entries/s", "proofs/s"))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=100, help="batches in the ledger")
    parser.add_argument(
        "--profile",
        default="test",
        help="circuit profile (test fits any --batches: filled orders free their slots; "
        "bench only differs in the list state's order_depth, so it builds the same "
        "circuits under new keys)",
    )
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached ledger")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error("--batches must be at least 1")
    results = run(args.batches, args.rebuild, args.profile)
    path = write_json("replay", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
