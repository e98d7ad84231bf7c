"""``darkpool demo``: a scripted market run end to end against a real ``darkpool serve`` process.

The demo builds the circuits first (in this process, with progress, so a cold
build is visible instead of a silent server start), then starts the price
oracle (``darkpool oracle serve``: its own process, key directory and clock;
the operator fetches signed reports from it over HTTP and never holds its
key) and the REST service as subprocesses on free 127.0.0.1 ports, the server
with its own temporary data directory and SQLite file, and drives it only
through the client SDK
(``client.sdk``): five traders with run-time keys, deposits, crossing and
resting orders on two markets, a partial fill, a margin rejection (the API's
4xx reason is shown), a cancel, a withdrawal, a scripted 10% crash of the
oracle's ETH-PERP mark after which the server's proven health sweep flags a
leveraged trader and partially liquidates her (issue 11; funding index
updates on the way), several proven batches triggered with the operator token (read from the server's key directory, where the
service stores it), an on-demand solvency proof and a stress test at shocked
marks (polled as jobs), inclusion checks for every trader against their own
account view, and finally an export of the published ledger replayed with
``verifier.ledger`` (the ``darkpool-verify`` path: it recomputes every public
input instead of trusting the operator's, then checks every proof) with the
oracle key pinned to the one the oracle process published; the pins
(``--genesis``, ``--oracle-key``) are printed for a by-hand check. Returns 0
only if every check held.

The server is always terminated (its whole process group, so node provers go
with it), also on errors and Ctrl-C. Demo only: keys and prices are throwaway,
and nothing here is a market. This module never reads the server's keys other
than the operator token, and never touches the server's database.
"""

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from client.sdk import ClientError, DarkpoolClient
from demo.report import DemoStats, Trader
from demo.server import (
    JOB_TIMEOUT_S,
    ORACLE_SEED,
    ORACLE_STEP_BPS,
    ORDER_TTL,
    SHOCK_SEQ,
    DemoError,
    LocalServer,
    crash_market,
    demo_shocks,
)
from exchange.core.config import MarketConfig
from oracle.feed import SimulatedFeed
from prover import circuits
from verifier.eddsa import PrivateKey
from verifier.encoding import BUY, SELL
from verifier.ledger import replay
from verifier.oracle import parse_key_hex
from verifier.protocol import STATEMENTS, Tags
from verifier.source import DirectorySource

# ---------------------------------------------------------------- the story


class Demo:
    """The scripted run; each public method is one step of the story."""

    def __init__(
        self,
        console: Console,
        profile: str,
        exchange_id: str,
        markets: Sequence[MarketConfig],
    ) -> None:
        self.console = console
        self.profile = profile
        self.exchange_id = exchange_id
        self.markets = list(markets)
        self.stats = DemoStats()
        self.tags = Tags.for_exchange(exchange_id)
        # The same seeded walk the oracle process's simulated feed takes, so the script
        # can price orders against the marks of the batch they will land in.
        self.shocks = demo_shocks(len(self.markets))
        self.feed = SimulatedFeed(
            [m.start_price for m in self.markets],
            seed=ORACLE_SEED,
            max_step_bps=ORACLE_STEP_BPS,
            shocks=self.shocks,
        )
        self.traders = [
            Trader("alice", PrivateKey.generate(), 2_000_000),
            Trader("bob", PrivateKey.generate(), 1_500_000),
            Trader("carol", PrivateKey.generate(), 800_000),
            Trader("dave", PrivateKey.generate(), 40_000),
            # Opens a ~7x long on the crash market (ETH-PERP) just before the scripted crash.
            Trader("erin", PrivateKey.generate(), 4_300),
        ]
        self.client: DarkpoolClient
        self.token = ""
        # The oracle process's key (read from the oracle, not the operator) and the
        # genesis hash of the replayed export: what a verifier pins.
        self.oracle_key = ""
        self.genesis_hash: str | None = None

    # ------------------------------------------------------------ output helpers

    @contextmanager
    def step(self, label: str, phase: str) -> Iterator[None]:
        """Announce ``label``; its time goes into the summary under the short ``phase``."""
        self.console.print(f"[bold cyan]>[/] {label} ...")
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.stats.steps.append((phase, elapsed))
        self.console.print(f"  [green]done[/] in {elapsed:.1f}s")

    @contextmanager
    def working(self, label: str) -> Iterator[None]:
        """A spinner with elapsed time while something slow runs elsewhere (server, prover)."""
        if not self.console.is_terminal:  # logs and captured output get the step lines only
            yield
            return
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        ) as bar:
            bar.add_task(label, total=None)
            yield

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.stats.checks.append((what, ok, detail))
        mark = "[green]ok[/]" if ok else "[bold red]FAILED[/]"
        self.console.print(f"  {mark} {escape(what)}" + (f" ({escape(detail)})" if detail else ""))
        return ok

    # ------------------------------------------------------------ setup and server

    def build_circuits(self) -> None:
        for statement in STATEMENTS:
            started = time.perf_counter()
            with self.working(f"building {statement} ({self.profile}; cold: minutes, then cached)"):
                art = circuits.build_statement(statement, self.profile, self.exchange_id)
            self.console.print(
                f"  {statement:<19} {art.constraints:>9,} constraints  "
                f"({time.perf_counter() - started:.1f}s)"
            )

    # ------------------------------------------------------------ trader actions

    def symbol(self, market: int) -> str:
        return self.markets[market].symbol

    def order(
        self, trader: Trader, market: int, side: int, size: int, limit: int
    ) -> dict[str, Any] | None:
        verb = "buy" if side == BUY else "sell"
        what = f"{trader.name} {verb} {size} {self.symbol(market)} @ {limit}"
        expiry = int(time.time()) + ORDER_TTL
        try:
            result = self.client.submit_order(
                trader.key, trader.index, market, side, size, limit, expiry
            )
        except ClientError as exc:
            if not 400 <= exc.status < 500:
                raise
            self.stats.rejected.append(exc.detail)
            self.console.print(
                f"  [yellow]rejected[/] {what}: HTTP {exc.status}: {escape(exc.detail)}"
            )
            return None
        trader.orders.append(int(result["commitment"]))
        order_id = f", id {result['order_id']}" if "order_id" in result else ""
        self.console.print(
            f"  order #{result['order_index']} ({result['status']}{order_id}): {what}, "
            f"commitment {result['commitment'][:12]}…"
        )
        return result

    def order_view(self, trader: Trader, commitment: int) -> dict[str, Any]:
        return self.client.order_status(trader.key, trader.index, commitment)

    def next_marks(self) -> tuple[int, ...]:
        """The marks the next batch will use (the demo knows the simulated path)."""
        return self.feed.prices_at(int(self.client.info(refresh=True)["next_batch_id"]))

    def batch(self) -> dict[str, Any]:
        expected = self.next_marks()
        started = time.perf_counter()
        with self.working("matching and proving the batch"):
            result = self.client.admin_batch(self.token)
        elapsed = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.fills += int(result["fills"])
        self.stats.batch_proofs += int(result["proofs"])
        prices = tuple(int(p) for p in result["prices"])
        marks = ", ".join(f"{self.symbol(i)} {p}" for i, p in enumerate(prices))
        volume = ", ".join(
            f"{self.symbol(i)} {v}" for i, v in enumerate(result["volume"]) if int(v)
        )
        self.console.print(
            f"  batch {result['batch_id']} (ledger entry {result['entry_index']}) at marks "
            f"{marks}: {result['fills']} fills, volume {volume or '0'}, "
            f"{result['proofs']} batch proof(s) in {elapsed:.1f}s"
        )
        self.check("the batch used the simulated oracle's marks", prices == expected)
        return result

    # ------------------------------------------------------------ the story

    def run(self, server: LocalServer, ledger_out: Path) -> bool:
        self.client = DarkpoolClient(server.url)
        try:
            return self._story(server, ledger_out)
        finally:
            self.client.close()

    def _story(self, server: LocalServer, ledger_out: Path) -> bool:
        client = self.client
        self.token = server.operator_token
        info = client.info()
        self.check(
            "the server runs the requested profile, exchange and ledger state",
            (info["profile"], info["exchange_id"], client.state)
            == (self.profile, self.exchange_id, "slots"),
            f"{info['profile']}, {info['exchange_id']}, {client.state}",
        )
        alice, bob, carol, dave, erin = self.traders
        with self.step(
            f"open {len(self.traders)} trader accounts (account_update proofs)", "open accounts"
        ):
            for t in self.traders:
                with self.working(f"opening {t.name}'s account"):
                    t.index = client.open_account(t.key, t.deposit)
                self.console.print(f"  {t.name}: account {t.index}, deposit {t.deposit}")
        with self.step("alice deposits 250000 more", "deposit"):
            result = client.deposit(alice.key, alice.index, 250_000)
            self.check(
                "alice's balance includes the deposit",
                int(result["balance"]) == alice.deposit + 250_000,
                f"balance {result['balance']}",
            )
        multi = len(self.markets) > 1

        with self.step("batch 1: crossing orders, a partial fill, a margin rejection", "batch 1"):
            marks = self.next_marks()
            alice_buy = self.order(alice, 0, BUY, 10, marks[0] + 150)  # crosses, partly filled
            self.order(bob, 0, SELL, 6, marks[0] - 150)
            self.order(carol, 0, BUY, 5, marks[0] - 3_000)  # rests: limit far below
            if multi:
                self.order(bob, 1, BUY, 40, marks[1] + 20)
                self.order(carol, 1, SELL, 40, marks[1] - 20)
            rejected = self.order(dave, 0, BUY, 20, marks[0] + 150)
            reason = self.stats.rejected[-1] if self.stats.rejected else ""
            self.check(
                "dave's oversized order is refused by the API for margin",
                rejected is None and "margin" in reason,
                reason,
            )
            if alice_buy is None:
                raise DemoError("alice's first order was refused")
            alice_h = int(alice_buy["commitment"])
            self.batch()
            view = self.order_view(alice, alice_h)
            filled = int(view["filled"])
            self.check(
                "alice's buy is partially filled",
                0 < filled < 10 and view["status"] == "open",
                f"{filled}/10 lots, {view['status']}",
            )

        with self.step("batch 2: fill the rest, a cancel, more fills", "batch 2"):
            marks = self.next_marks()
            self.order(carol, 0, SELL, 4, marks[0] - 100)  # completes alice's order
            cancelled = self.order(dave, 0, SELL, 1, marks[0] - 100)
            if cancelled is not None:  # signed over h alone
                result = client.cancel(dave.key, int(cancelled["commitment"]))
                self.console.print(f"  dave cancels order #{result['order_index']}")
            if multi:
                self.order(alice, 1, SELL, 15, marks[1] - 10)
                self.order(bob, 1, BUY, 20, marks[1] + 10)
                self.order(dave, 1, SELL, 5, marks[1] - 10)
            crash = crash_market(len(self.markets))
            self.order(erin, crash, BUY, 10, marks[crash] + 20)  # equity ~1.4x initial margin
            self.order(carol, crash, SELL, 10, marks[crash] - 20)
            self.batch()
            view = self.order_view(alice, alice_h)
            self.check(
                "alice's buy is now completely filled",
                view["filled"] == "10" and view["status"] == "filled",
                f"{view['filled']}/10 lots, {view['status']}",
            )
            if cancelled is not None:
                view = self.order_view(dave, int(cancelled["commitment"]))
                self.check(
                    "dave's cancelled order did not trade",
                    view["status"] == "cancelled" and view["filled"] == "0",
                    view["status"],
                )

        with self.step(
            "batch 3: nothing crosses (empty batch, no account changes)", "batch 3 (empty)"
        ):
            books = [self.holdings(t) for t in self.traders]
            result = self.batch()
            unchanged = books == [self.holdings(t) for t in self.traders]
            # Its one empty settle_fills group still rewrites the fee account's leaf
            # (fresh blinding), so the account root moves; no trader's leaf does.
            self.check(
                "empty batch: no fills, every trader's balance and positions unchanged",
                unchanged and int(result["fills"]) == 0,
            )

        with self.step(
            f"batch {SHOCK_SEQ}: the oracle's {self.symbol(crash_market(len(self.markets)))} "
            "mark falls 10%: "
            "health sweep, proven partial liquidation of erin, funding",
            "batch 4 (crash)",
        ):
            self.crash(erin)

        with self.step("bob withdraws 100000 (signed, margin-checked in the proof)", "withdrawals"):
            view = client.account(bob.key, bob.index)
            balance = int(view["balance"])
            result = client.withdraw(bob.key, bob.index, 100_000)
            # Read after: a funding interval that ended meanwhile is published (with a
            # batch) before the withdrawal, which then settles at the new indices.
            funding = self.funding_owed(view)
            self.check(
                "bob's balance dropped by the withdrawal and the funding it settled",
                int(result["balance"]) == balance - funding - 100_000,
                f"{balance} -> {result['balance']}, funding paid {funding}",
            )
            greedy = int(client.account(dave.key, dave.index)["balance"])
            try:
                client.withdraw(dave.key, dave.index, greedy)
                self.check("dave cannot withdraw his whole balance with a position open", False)
            except ClientError as exc:
                self.check(
                    "dave cannot withdraw his whole balance with a position open",
                    400 <= exc.status < 500,
                    f"HTTP {exc.status}: {exc.detail}",
                )

        with self.step("solvency proof at the latest marks (POST /v1/solvency)", "solvency proof"):
            self.solvency(None)
        with self.step("stress test: solvency at marks shocked by -20%", "stress solvency proof"):
            self.solvency(-2_000)

        with self.step(
            "inclusion: each trader checks their own leaf against the root", "inclusion checks"
        ):
            published = client.roots()["roots"]["account"]
            for t in self.traders:
                self.inclusion(t, published)

        with self.step(f"export the ledger to {ledger_out}", "export"):
            client.export_ledger(ledger_out)
        with self.step(
            "replay the export with verifier.ledger (the darkpool-verify path)", "ledger replay"
        ):
            self._run_replay(ledger_out)
        return all(ok for _, ok, _ in self.stats.checks)

    def crash(self, erin: Trader) -> None:
        """Batch ``SHOCK_SEQ`` at the crashed mark: the server sweeps and liquidates first."""
        last = crash_market(len(self.markets))
        before = int(self.client.account(erin.key, erin.index)["positions"][last])
        self.batch()
        view = self.client.account(erin.key, erin.index)
        after = int(view["positions"][last])
        self.check(
            "erin (below maintenance margin) was partially liquidated before the batch",
            0 < after < before and len(view["liquidations"]) == 1,
            f"{self.symbol(last)} position {before} -> {after} lots, the rest to the fund; "
            f"her status names liquidation entry {view['liquidations']}",
        )

    def holdings(self, t: Trader) -> tuple[str, list[str]]:
        view = self.client.account(t.key, t.index)
        return str(view["balance"]), [str(p) for p in view["positions"]]

    def funding_owed(self, view: dict[str, Any]) -> int:
        """What the account pays when it next settles funding, from its checkpoints
        and the latest published funding indices."""
        indices = [0] * len(self.markets)
        for e in self.client.all_entries():
            if e["kind"] == "funding":
                indices = [int(f) for f in e["indices"]]
        return sum(
            int(s) * (f - int(c))
            for s, f, c in zip(view["positions"], indices, view["checkpoints"], strict=True)
        )

    def solvency(self, shock_bps: int | None) -> None:
        job = self.client.start_solvency(self.token, shock_bps)
        self.stats.solvency_jobs += 1
        label = "stress solvency" if shock_bps is not None else "solvency"
        deadline = time.monotonic() + JOB_TIMEOUT_S
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} chunk proofs"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        ) as bar:
            task = bar.add_task(f"proving {label} (job {job['id'][:8]})", total=job["total"])
            while job["status"] not in ("done", "failed"):
                if time.monotonic() > deadline:
                    raise DemoError(f"solvency job {job['id']} did not finish in time")
                time.sleep(0.25)
                job = self.client.solvency_job(job["id"])
                bar.update(task, completed=job["done"], total=max(job["total"], 1))
        if job["status"] == "failed" or job["entry"] is None:
            self.check(f"{label} job finished", False, str(job["error"]))
            return
        entry = job["entry"]
        r = entry["result"]
        self.console.print(
            f"  job {job['id'][:8]}: {job['done']}/{job['total']} chunk proofs, ledger entry "
            f"{entry['index']}; balances {r['balance']} = collateral {entry['total_collateral']}, "
            f"open interest {r['positions']}, deficit {r['deficit']} vs fund {r['fund']}"
        )
        self.check(f"{label} holds", bool(r["solvent"]), "; ".join(r["reasons"]))
        self.check(
            f"{label} entry is {'a stress test' if shock_bps is not None else 'not a stress test'}",
            bool(entry["stress"]) == (shock_bps is not None),
        )

    def inclusion(self, t: Trader, published_root: str) -> None:
        inc = self.client.inclusion(t.key, t.index)
        path_ok = self.client.check_inclusion(inc, t.key.public_key())
        view = self.client.account(t.key, t.index)
        opening = inc["opening"]
        matches = (
            opening["balance"] == view["balance"]
            and list(opening["positions"]) == list(view["positions"])
            and inc.get("leaf", view["leaf"]) == view["leaf"]
        )
        same_root = inc["root"] == view["account_root"] == published_root
        positions = ", ".join(
            f"{self.symbol(i)} {p}" for i, p in enumerate(view["positions"]) if int(p)
        )
        self.check(
            f"{t.name}'s leaf is in the published root and matches their account view",
            path_ok and matches and same_root,
            f"balance {view['balance']}, positions: {positions or 'flat'}",
        )

    def _run_replay(self, directory: Path) -> None:
        source = DirectorySource(directory)
        report = replay(
            manifest=source.manifest(),
            genesis=source.genesis(),
            entries=source.entry,
            vkeys=source.vkeys(),
            pinned_oracle_key=parse_key_hex(self.oracle_key, "oracle key"),
        )
        if report.genesis is not None:
            self.genesis_hash = report.genesis.ledger_id
        reasons = "; ".join(f"entry {f.entry_index}: {f.reason}" for f in report.failures)
        proofs = sum(report.proofs_this_run.values())
        self.stats.proofs = dict(report.proofs_this_run)
        self.stats.ledger_entries = report.manifest_entries
        self.check(
            f"ledger replay: {report.checked_to + 1} entries, {proofs} proofs, "
            "oracle key pinned to the oracle process's",
            report.ok,
            reasons,
        )
        risk = report.state.risk.counts() if report.state is not None else {}
        self.stats.risk = risk
        self.check(
            "the ledger holds proven health sweeps, a liquidation and funding updates",
            all(risk.get(k, 0) > 0 for k in ("health_sweeps", "liquidations", "funding_updates")),
            ", ".join(f"{k} {v}" for k, v in risk.items() if k != "batches_since_sweep"),
        )
        for warning in report.solvency_warnings:
            self.console.print(f"  [yellow]note[/] {warning}")
