"""``darkpool demo``: a scripted market run end to end through the in-process operator.

Four traders with run-time keys, two markets and a moving simulated oracle:
deposits, crossing and resting orders, a partial fill, a margin rejection, a
cancel, a withdrawal, several proven batches, a solvency proof and a stress
test at shocked marks, inclusion checks for every trader, then an export of
the ledger and an independent check of every proof in it with ``verifier``
(pure Python). Returns 0 only if everything verified. Demo only: keys and
prices are throwaway, and nothing here is a market.
"""

import json
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from exchange.operator import MarketSpec, Operator, OperatorError, RejectedOrder
from exchange.oracle import OracleReport, SimulatedOracle
from prover.circuits import DEFAULT_EXCHANGE_ID, STATEMENTS, Tags
from verifier import groth16
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL, Order, cancel_message, order_commitment, withdraw_message
from verifier.field import R
from verifier.ledger import replay
from verifier.source import DirectorySource

MARKETS = (
    MarketSpec(0, "BTC-PERP", lot_size=1, tick_size=1, imf_bps=500, mmf_bps=300, fee_bps=5),
    MarketSpec(1, "ETH-PERP", lot_size=1, tick_size=1, imf_bps=1000, mmf_bps=500, fee_bps=5),
    MarketSpec(2, "SOL-PERP", lot_size=1, tick_size=1, imf_bps=1000, mmf_bps=500, fee_bps=10),
    MarketSpec(3, "DOGE-PERP", lot_size=1, tick_size=1, imf_bps=2000, mmf_bps=1000, fee_bps=10),
)
START_PRICES = (60_000, 3_000, 150, 20)
BATCH_SECONDS = 5
ORDER_TTL = 3_600


@dataclass
class Trader:
    name: str
    key: PrivateKey
    deposit: int
    index: int = -1
    orders: list[int] = field(default_factory=list)


@dataclass
class DemoStats:
    fills: int = 0
    batches: int = 0
    steps: list[tuple[str, float]] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)


class Demo:
    """The scripted run; each public method is one step of the story."""

    def __init__(self, console: Console, profile: str, exchange_id: str) -> None:
        self.console = console
        self.stats = DemoStats()
        self.tags = Tags.for_exchange(exchange_id)
        self.clock_now = int(time.time())
        markets = MARKETS[: _profile_markets(profile)]
        self.oracle = SimulatedOracle(
            START_PRICES[: len(markets)], self.tags.oracle, seed=7, max_step_bps=40
        )
        self.insurance_key = PrivateKey.generate()
        with self.step("genesis: build circuits, open the insurance account"):
            self.op = Operator(
                markets=markets,
                oracle=self.oracle,
                insurance_pubkey=self.insurance_key.public_key(),
                insurance_fund=1_000_000,
                profile=profile,
                exchange_id=exchange_id,
                clock=lambda: self.clock_now,
            )
        self.traders = [
            Trader("alice", PrivateKey.generate(), 2_000_000),
            Trader("bob", PrivateKey.generate(), 1_500_000),
            Trader("carol", PrivateKey.generate(), 800_000),
            Trader("dave", PrivateKey.generate(), 40_000),
        ]

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        self.console.print(f"[bold cyan]>[/] {label} ...")
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.stats.steps.append((label, elapsed))
        self.console.print(f"  [green]done[/] in {elapsed:.1f}s")

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.stats.checks.append((what, ok, detail))
        mark = "[green]ok[/]" if ok else "[bold red]FAILED[/]"
        self.console.print(f"  {mark} {what}" + (f" ({detail})" if detail else ""))
        return ok

    # ------------------------------------------------------------ trader actions

    def order(self, trader: Trader, market: int, side: int, size: int, limit: int) -> int | None:
        order = Order(
            account=trader.index,
            market=market,
            side=side,
            size=size,
            limit_price=limit,
            expiry=self.clock_now + ORDER_TTL,
            salt=secrets.randbelow(R),
        )
        signature = trader.key.sign(order_commitment(self.tags.order, order))
        verb = "buy" if side == BUY else "sell"
        symbol = self.op.markets[market].symbol
        try:
            index = self.op.submit_order(order, signature)
        except RejectedOrder as exc:
            self.console.print(
                f"  [yellow]rejected[/] {trader.name} {verb} {size} {symbol} @ {limit}: {exc.reason}"
            )
            return None
        trader.orders.append(index)
        self.console.print(f"  order #{index}: {trader.name} {verb} {size} {symbol} @ {limit}")
        return index

    def batch(self) -> OracleReport:
        batch_id = self.op.next_batch_id
        self.clock_now += BATCH_SECONDS
        report = self.oracle.report(batch_id, self.clock_now)
        summary = self.op.run_batch(report)
        self.stats.batches += 1
        self.stats.fills += len(summary.fills)
        marks = ", ".join(
            f"{m.symbol} {p}" for m, p in zip(self.op.markets, report.prices, strict=True)
        )
        self.console.print(
            f"  batch {batch_id} at marks {marks}: {len(summary.fills)} fills, "
            f"{summary.proofs} settle_batch proof(s)"
        )
        for fill in summary.fills:
            b, s = fill.buy.order, fill.sell.order
            self.console.print(
                f"    fill {fill.quantity} {self.op.markets[b.market].symbol}: "
                f"order #{fill.buy.index} (account {b.account}) buys from "
                f"order #{fill.sell.index} (account {s.account})"
            )
        return report

    def next_marks(self) -> tuple[int, ...]:
        """The marks the next batch will use (the demo knows the simulated path)."""
        return self.oracle.prices_at(self.op.next_batch_id)

    # ------------------------------------------------------------ the story

    def run(self, ledger_out: Path) -> bool:
        op = self.op
        alice, bob, carol, dave = self.traders
        with self.step("open 4 trader accounts (account_op proofs)"):
            for t in self.traders:
                t.index = op.open_account(t.key.public_key(), t.deposit)
                self.console.print(f"  {t.name}: account {t.index}, deposit {t.deposit}")
        with self.step("alice deposits 250000 more"):
            op.deposit(alice.index, 250_000)
        multi = len(op.markets) > 1

        with self.step("batch 1: crossing orders, a partial fill, a margin rejection"):
            marks = self.next_marks()
            self.order(alice, 0, BUY, 10, marks[0] + 150)  # crosses, partly filled
            self.order(bob, 0, SELL, 6, marks[0] - 150)
            self.order(carol, 0, BUY, 5, marks[0] - 3_000)  # rests: limit far below
            if multi:
                self.order(bob, 1, BUY, 40, marks[1] + 20)
                self.order(carol, 1, SELL, 40, marks[1] - 20)
            rejected = self.order(dave, 0, BUY, 20, marks[0] + 150)
            self.check("dave's oversized order is rejected for margin", rejected is None)
            self.batch()
            filled, _ = op.order_status(alice.orders[0])
            self.check("alice's buy is partially filled", 0 < filled < 10, f"{filled}/10 lots")

        with self.step("batch 2: fill the rest, a cancel, three fills over two proofs"):
            marks = self.next_marks()
            self.order(carol, 0, SELL, 4, marks[0] - 100)  # completes alice's order
            cancelled = self.order(dave, 0, SELL, 1, marks[0] - 100)
            if cancelled is not None:
                h = op.commitments[cancelled]
                op.cancel(cancelled, dave.key.sign(cancel_message(self.tags.cancel, cancelled, h)))
                self.console.print(f"  dave cancels order #{cancelled}")
            if multi:
                self.order(alice, 1, SELL, 15, marks[1] - 10)
                self.order(bob, 1, BUY, 20, marks[1] + 10)
                self.order(dave, 1, SELL, 5, marks[1] - 10)
            self.batch()
            filled, _ = op.order_status(alice.orders[0])
            self.check("alice's buy is now completely filled", filled == 10, f"{filled}/10 lots")
            if cancelled is not None:
                filled, flag = op.order_status(cancelled)
                self.check("dave's cancelled order did not trade", flag and filled == 0)

        with self.step("batch 3: nothing crosses (empty batch, roots unchanged)"):
            before = op.roots
            self.batch()
            self.check("empty batch keeps the account and fill roots", op.roots == before)

        with self.step("bob withdraws 100000 (signed, margin-checked in the proof)"):
            state = op.account_state(bob.index)
            msg = withdraw_message(self.tags.withdraw, bob.index, 100_000, state.nonce)
            op.withdraw(bob.index, 100_000, bob.key.sign(msg))
            try:
                state = op.account_state(dave.index)
                greedy = state.balance
                msg = withdraw_message(self.tags.withdraw, dave.index, greedy, state.nonce)
                op.withdraw(dave.index, greedy, dave.key.sign(msg))
                self.check("dave cannot withdraw his whole balance with a position open", False)
            except OperatorError as exc:
                self.check(
                    "dave cannot withdraw his whole balance with a position open", True, str(exc)
                )

        latest = op.latest_report
        assert latest is not None
        with self.step("solvency proof at the latest marks"):
            entry = op.prove_solvency(latest)
            self._print_solvency(entry.body)
        with self.step("stress test: solvency at marks shocked by -20%"):
            shocked = self.oracle.shocked(latest, -2_000)
            entry = op.prove_solvency(shocked, stress=True)
            self._print_solvency(entry.body)

        with self.step("inclusion: each trader checks their own leaf against the root"):
            root = op.ledger.roots.account
            for t in self.traders:
                path = op.inclusion_path(t.index)
                leaf = op.account_state(t.index).leaf()
                self.check(f"{t.name}'s account is in the published root", path.verify(root, leaf))

        with self.step(f"export the ledger to {ledger_out}"):
            op.export(ledger_out)
        with self.step("verify every proof in the export (pure-Python Groth16)"):
            verify_export(ledger_out, self.check)
        with self.step("replay the export with verifier.ledger (the darkpool-verify path)"):
            self._run_replay(ledger_out)
        return all(ok for _, ok, _ in self.stats.checks)

    def _print_solvency(self, body: Any) -> None:
        r = body["result"]
        self.console.print(
            f"  balances {r['balance']} = collateral {body['total_collateral']}, "
            f"open interest {r['positions']}, deficit {r['deficit']} vs fund {r['fund']}"
        )
        self.check(
            f"{'stress ' if body['stress'] else ''}solvency holds",
            bool(r["solvent"]),
            "; ".join(r["reasons"]),
        )

    def _run_replay(self, directory: Path) -> None:
        source = DirectorySource(directory)
        report = replay(
            manifest=source.manifest(),
            genesis=source.genesis(),
            entries=source.entry,
            vkeys=source.vkeys(),
        )
        reasons = "; ".join(f"entry {f.entry_index}: {f.reason}" for f in report.failures)
        proofs = sum(report.proofs_this_run.values())
        self.check(
            f"ledger replay: {report.checked_to + 1} entries, {proofs} proofs",
            report.ok,
            reasons,
        )
        for warning in report.solvency_warnings:
            self.console.print(f"  [yellow]note[/] {warning}")


def _profile_markets(profile: str) -> int:
    from prover.circuits import load_params

    return load_params(profile).markets


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def verify_export(directory: Path, check: Callable[[str, bool, str], bool]) -> None:
    """Batch-verify every proof in an export, per statement, against the pinned vkeys."""
    genesis = _load(directory / "genesis.json")
    items: dict[str, list[tuple[groth16.Proof, list[int]]]] = {s: [] for s in STATEMENTS}
    for path in sorted((directory / "entries").glob("*.json")):
        entry = _load(path)
        kind = entry["kind"]
        if kind == "account_op":
            proofs: Sequence[Any] = [entry]
        elif kind == "batch":
            proofs = entry["proofs"]
        elif kind == "solvency":
            proofs = entry["chunks"]
        else:
            continue
        statement = {"batch": "settle_batch", "solvency": "solvency_chunk"}.get(kind, kind)
        for p in proofs:
            items[statement].append(
                (
                    groth16.Proof.from_snarkjs(p["proof"]),
                    [int(x) for x in p["public_signals"]],
                )
            )
    for statement in STATEMENTS:
        vk_obj = _load(directory / "vkeys" / f"{statement}.json")
        pinned = groth16.vkey_hash(vk_obj) == genesis["vkey_hashes"][statement]
        check(f"{statement} verification key matches genesis", pinned, "")
        vk = groth16.prepare(groth16.VerificationKey.from_snarkjs(vk_obj))
        started = time.perf_counter()
        ok = groth16.batch_verify(vk, items[statement])
        elapsed = time.perf_counter() - started
        check(
            f"{len(items[statement])} {statement} proofs verify",
            ok,
            f"batch verify {elapsed:.1f}s",
        )


def _summary(console: Console, demo: Demo, total: float, ok: bool) -> None:
    op = demo.op
    table = Table(title="darkpool demo summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("ledger entries", str(len(op.ledger)))
    table.add_row("batches", str(demo.stats.batches))
    table.add_row("fills", str(demo.stats.fills))
    for s in STATEMENTS:
        n = op.proof_counts[s]
        avg = op.proof_seconds[s] / n if n else 0.0
        table.add_row(f"{s} proofs", f"{n} (avg {avg:.1f}s)")
    for label, seconds in demo.stats.steps:
        table.add_row(f"time: {label}", f"{seconds:.1f}s")
    table.add_row("total time", f"{total:.1f}s")
    passed = sum(ok for _, ok, _ in demo.stats.checks)
    table.add_row("checks passed", f"{passed}/{len(demo.stats.checks)}")
    table.add_row("verification", "[green]ALL VERIFIED[/]" if ok else "[bold red]FAILED[/]")
    console.print(table)


def run(
    profile: str = "test",
    exchange_id: str = DEFAULT_EXCHANGE_ID,
    ledger_out: Path | str | None = None,
) -> int:
    """Run the scripted market; 0 only if every proof and check verified."""
    console = Console()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="darkpool-demo-") as tmp:
        out = Path(ledger_out) if ledger_out is not None else Path(tmp) / "ledger"
        try:
            demo = Demo(console, profile, exchange_id)
            ok = demo.run(out)
        except (OperatorError, ValueError) as exc:
            console.print(f"[bold red]demo failed:[/] {exc}")
            return 1
        _summary(console, demo, time.perf_counter() - started, ok)
        if ledger_out is not None:
            console.print(f"ledger export: {out}")
    return 0 if ok else 1
