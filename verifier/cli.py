"""``darkpool-verify``: check darkpool proofs and ledgers without trusting the operator.

Usage:
  darkpool-verify SOURCE [--vkeys DIR] [--genesis HASH] [--oracle-key HEX] [--json]
                         [--jobs N] [--state FILE]
  darkpool-verify ledger SOURCE [...]          the same, spelled out
  darkpool-verify groth16 VKEY PROOF PUBLIC   drop-in for ``snarkjs groth16 verify``
  darkpool-verify inclusion --ledger SOURCE --opening FILE [--latest] [--json]

SOURCE is a ledger export directory (``darkpool export DIR``) or the base URL
of a running exchange (``http://HOST:PORT``; read with urllib). ``--vkeys DIR``
holds verification keys you trust (``<statement>.json``); without it the
report prints the keys' hashes so you can pin them. ``--genesis HASH`` and
``--oracle-key HEX`` pin the ledger (its genesis, which fixes the operator
key, markets and limits) and the independent oracle's key; without them the
report prints both for pinning. ``--state FILE`` makes a re-run check only the
entries added since the last successful run (a state of another genesis, or
a rewritten past entry, is a failure).

``inclusion`` replays the whole ledger, then checks an account opening (the
JSON of ``GET /v1/accounts/{i}/inclusion``): the leaf and path give the root,
the root is one the ledger verified, the key is the one the ledger's open
published (see verifier.inclusion_slots). An opening under an older verified
root (the account may have changed since) passes with a WARNING naming the
latest root's entry; ``--latest`` makes it a failure (exit 1); ``--json``
carries ``is_latest``. ``--fills`` (the retired list state's fill-history
check) is refused in one line.

Exit codes: 0 valid; 1 invalid (a proof or ledger that does not hold);
2 could not read the input (missing file, not JSON). Errors are one line;
progress goes to stderr. This module only reads files; it never imports
prover or exchange and never runs node.
"""

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verifier import groth16, inclusion, ledger, poseidon
from verifier.babyjub import Point
from verifier.funding import SECONDS_PER_YEAR, index_horizon_s
from verifier.inclusion_slots import check_slots_inclusion, parse_slots_opening
from verifier.oracle import OracleFormatError, key_hex, parse_key_hex
from verifier.params import FUNDING_BITS
from verifier.source import (
    InputError,
    load_json_file,
    load_vkey_dir,
    open_source,
    read_manifest_count,
)
from verifier.state import load_state, save_state

__all__ = ["EXIT_INVALID", "EXIT_UNREADABLE", "EXIT_VALID", "InputError", "load_json_file", "main"]

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def cmd_groth16(args: argparse.Namespace) -> int:
    vk_obj = load_json_file(Path(args.vkey), "verification key")
    proof_obj = load_json_file(Path(args.proof), "proof")
    public_obj = load_json_file(Path(args.public), "public signals")
    try:
        vk = groth16.VerificationKey.from_snarkjs(vk_obj)
        proof = groth16.Proof.from_snarkjs(proof_obj)
        public = groth16.parse_public_signals(public_obj, vk.n_public)
        ok = groth16.verify(vk, proof, public)
    except groth16.Groth16Error as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not ok:
        print("INVALID: the pairing check failed", file=sys.stderr)
        return EXIT_INVALID
    print(f"OK: proof valid for verification key {groth16.vkey_hash(vk_obj)[:16]}")
    return EXIT_VALID


class _PlainProgress:
    """Progress as plain stderr lines: each phase's start and end, and about every 10%."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        previous = self._last.get(phase)
        if previous is None or done == total or done - previous >= step:
            self._last[phase] = done
            print(f"darkpool-verify: {phase}: {done}/{total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _RichProgress:
    """Progress bars on stderr with rich (only when rich is installed and stderr is a terminal)."""

    def __init__(self, progress_mod: Any, console_mod: Any) -> None:
        self._bar = progress_mod.Progress(
            progress_mod.TextColumn("{task.description}"),
            progress_mod.BarColumn(),
            progress_mod.MofNCompleteColumn(),
            progress_mod.TimeElapsedColumn(),
            console=console_mod.Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._bar.start()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self._tasks:
            self._tasks[phase] = self._bar.add_task(phase, total=total)
        self._bar.update(self._tasks[phase], completed=done, total=total)

    def close(self) -> None:
        self._bar.stop()


def _make_progress(quiet: bool) -> _PlainProgress | _RichProgress | None:
    if quiet:
        return None
    if sys.stderr.isatty():
        # rich is optional at run time: the verifier must work without it.
        try:
            import rich.console
            import rich.progress
        except ImportError:
            return _PlainProgress()
        return _RichProgress(rich.progress, rich.console)
    return _PlainProgress()


def _risk_rule_lines(g: ledger.Genesis, st: ledger.ReplayState | None) -> list[str]:
    """What genesis makes the operator do about risk, and a warning where it makes it do nothing."""
    lines: list[str] = []
    rules = g.risk
    every = []
    if rules is not None and rules.sweep_interval_batches:
        every.append(f"{rules.sweep_interval_batches} batches")
    if rules is not None and rules.sweep_interval_s:
        every.append(f"{rules.sweep_interval_s} s")
    if every:
        lines.append(f"  risk rules     a health sweep at least every {' and every '.join(every)}")
    else:
        lines.append(
            "  warning        genesis requires no health sweeps: liquidation completeness is "
            "NOT enforced by this ledger (an account below maintenance margin may stay open)"
        )
    if g.funding is not None:
        f = g.funding
        lines.append(
            f"  funding rules  one index update every {f.interval_s} s (a batch, sweep, "
            "liquidation, deleverage, withdrawal or solvency report that long or more "
            "after the last paid interval fails), "
            f"premium / {f.premium_divisor}, clamp {f.clamp_bps} bps"
        )
        horizon = index_horizon_s(
            interval_s=f.interval_s, premium_divisor=f.premium_divisor, clamp_bps=f.clamp_bps
        )
        lasts = (
            "forever (clamp 0)"
            if horizon is None
            else f"for at least {horizon // SECONDS_PER_YEAR:,} years (every interval at the "
            "clamp, at the largest price; past it every update is refused)"
        )
        lines.append(f"  funding range  the {FUNDING_BITS}-bit indices stay in range {lasts}")
    if st is not None and st.pending_cancels:
        lines.append(
            f"  note           {len(st.pending_cancels)} accepted cancel(s) not executed yet "
            "(the next batch must execute them before any fill, or it fails)"
        )
    if st is not None and st.risk.pending:
        lines.append(
            f"  warning        account(s) {', '.join(map(str, st.risk.pending))} were below "
            "maintenance margin at the last health sweep and are not liquidated yet "
            "(the next batch fails unless they are)"
        )
    return lines


def _short(x: int | str) -> str:
    text = str(x)
    return text if len(text) <= 20 else f"{text[:8]}…{text[-8:]}"


def _human_summary(source: str, report: ledger.ReplayReport, seconds: float) -> str:
    lines = [f"darkpool ledger {source}"]
    g, st = report.genesis, report.state
    if g is not None:
        p = g.params
        lines.append(f"  ledger id      {g.ledger_id}")
        lines.append(
            f"  exchange       {g.exchange_id} (profile {p.name}: account depth {p.account_depth}, "
            f"order depth {p.order_depth}, {p.markets} markets, {p.fill_slots} fill slots), "
            "recycling order slots (state slots)"
        )
    checked = (
        f"checked {report.checked_from}..{report.checked_to}"
        if report.checked_to >= report.checked_from
        else "no new entries"
    )
    resumed = " (resumed from the state file)" if report.resumed else ""
    lines.append(f"  entries        {report.manifest_entries} ({checked}){resumed}")
    if st is not None:
        lines.append(
            f"  state          {st.account_count} accounts, {len(st.order_commitments)} orders, "
            f"{st.batches} batch{'es' if st.batches != 1 else ''}, total collateral {st.total_collateral}"
        )
        per = ", ".join(f"{k} {v}" for k, v in report.proofs_this_run.items() if v)
        lines.append(
            f"  proofs         {sum(report.proofs_this_run.values())} checked this run"
            f"{f' ({per})' if per else ''}, {st.proofs_verified} in total, {seconds:.1f} s"
        )
        r = st.roots
        lines.append(
            f"  latest roots   account {_short(r.account)}  fill {_short(r.fill)}  "
            f"order {_short(r.order)}"
        )
        rk = st.risk
        lines.append(
            f"  risk           {rk.sweeps} health sweeps, {rk.liquidations} liquidations "
            f"({rk.liquidation_steps} steps), {rk.funding_updates} funding updates"
            + (f", {rk.adl_events} ADL ({rk.adl_trades} trades)" if rk.adl_events else "")
            + (f", pending liquidation of {rk.pending}" if rk.pending else "")
        )
        sv = st.latest_solvency
        if sv is None:
            lines.append("  solvency       no solvency report yet")
        else:
            verdict = "solvent" if sv.solvent else "INSOLVENT"
            stress = " under stressed marks" if sv.stress else ""
            lines.append(
                f"  solvency       entry {sv.entry_index}: {verdict}{stress} (balances {sv.balance} = "
                f"collateral {sv.total_collateral}, deficit {sv.deficit} vs fund {sv.fund}, "
                "open interest nets to zero)"
            )
    if g is not None:
        if report.keys_pinned:
            lines.append("  keys           match your pinned keys (--vkeys)")
        else:
            lines.append(
                "  keys           NOT pinned; to pin, keep these hashes (or pass --vkeys DIR):"
            )
            for name, digest in g.vkey_hashes.items():
                lines.append(f"                   {name:<15} {digest}")
        state = "pinned (--genesis)" if report.genesis_pinned else "NOT pinned; pin with --genesis"
        lines.append(f"  genesis        {g.ledger_id}  {state}")
        state = (
            "pinned (--oracle-key)"
            if report.oracle_key_pinned
            else "NOT pinned; pin with --oracle-key"
        )
        lines.append(f"  oracle key     {key_hex(g.oracle_pubkey)}  {state}")
        lines.append(f"  operator key   {key_hex(g.operator_pubkey)} (signs every entry)")
        lm = g.limits
        lines.append(
            f"  limits         reports at most {lm.max_report_age_s} s old, prices >= "
            f"{lm.min_price}, mark moves <= {lm.max_move_bps} bps per report"
        )
        lines.extend(_risk_rule_lines(g, st))
    for note in report.notes:
        lines.append(f"  note           {note}")
    for warning in report.solvency_warnings:
        lines.append(f"  warning        {warning}")
    first = report.first_failure
    if first is None:
        lines.append("RESULT: VALID")
    else:
        more = len(report.failures) - 1
        extra = f" (and {more} more failure{'s' if more > 1 else ''})" if more else ""
        lines.append(f"RESULT: INVALID at entry {first.entry_index}: {first.reason}{extra}")
    return "\n".join(lines)


def _genesis_pin(text: str | None) -> str | None:
    if text is None:
        return None
    pin = text.strip().lower()
    if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
        raise InputError("--genesis must be 64 hex digits (the genesis hash)")
    return pin


def _oracle_pin(text: str | None) -> Point | None:
    if text is None:
        return None
    try:
        return parse_key_hex(text, "--oracle-key")
    except OracleFormatError as exc:
        raise InputError(str(exc)) from None


def cmd_inclusion(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    src = open_source(args.ledger)
    genesis = src.genesis()
    if args.fills is not None:
        raise InputError("--fills is for list ledgers: a slots ledger has no fill tree")
    raw = load_json_file(Path(args.opening), "opening")
    try:
        opening = parse_slots_opening(raw)
    except inclusion.InclusionInputError as exc:
        raise InputError(str(exc)) from None
    pinned = load_vkey_dir(Path(args.vkeys)) if args.vkeys is not None else None
    manifest = src.manifest()
    read_manifest_count(manifest)
    recorder = inclusion.HistoryRecorder(src.entry)
    progress = _make_progress(args.quiet)
    try:
        report = ledger.replay(
            manifest=manifest,
            genesis=genesis,
            entries=recorder,
            vkeys=src.vkeys(),
            pinned_vkeys=pinned,
            checker=ledger.check_proofs(args.jobs),
            progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()
    try:
        history = recorder.history(genesis, report)
    except ValueError as exc:
        print(f"RESULT: NOT VERIFIED: {exc}")
        return EXIT_INVALID
    result = check_slots_inclusion(opening, history, require_latest=args.latest)
    if args.json:
        out = result.to_dict()
        out["source"] = src.description
        out["ledger_id"] = None if report.genesis is None else report.genesis.ledger_id
        print(json.dumps(out, indent=2))
    else:
        lines = [f"darkpool inclusion of account {opening.account} in {src.description}"]
        lines.append(f"  root           {_short(opening.root)}")
        for check in result.checks:
            lines.append(f"  {check.name:<14} {'ok' if check.ok else 'FAILED'}: {check.detail}")
        for note in result.notes:
            lines.append(f"  note           {note}")
        for warning in result.warnings:
            lines.append(f"  WARNING        {warning}")
        first = result.first_failure
        if first is not None:
            lines.append(f"RESULT: NOT INCLUDED: {first.name}: {first.detail}")
        elif result.is_latest is False:
            lines.append(
                "RESULT: INCLUDED in an older account root, not the latest (--latest fails)"
            )
        else:
            lines.append("RESULT: INCLUDED")
        print("\n".join(lines))
    return EXIT_VALID if result.ok else EXIT_INVALID


def cmd_ledger(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    src = open_source(args.source)
    pinned = load_vkey_dir(Path(args.vkeys)) if args.vkeys is not None else None
    manifest = src.manifest()
    read_manifest_count(manifest)  # not a ledger export at all: unreadable input (exit 2)
    genesis = src.genesis()
    shipped = src.vkeys()
    stored: ledger.ReplayState | None = None
    notes: list[str] = []
    if args.state is not None:
        stored, note = load_state(Path(args.state))
        if note is not None:
            notes.append(note)
    progress = _make_progress(args.quiet)
    started = time.perf_counter()
    try:
        report = ledger.replay(
            manifest=manifest,
            genesis=genesis,
            entries=src.entry,
            vkeys=shipped,
            pinned_vkeys=pinned,
            state=stored,
            checker=ledger.check_proofs(args.jobs),
            progress=progress,
            pinned_genesis=_genesis_pin(args.genesis),
            pinned_oracle_key=_oracle_pin(args.oracle_key),
        )
    finally:
        if progress is not None:
            progress.close()
    seconds = time.perf_counter() - started
    report.notes[:0] = notes
    if report.ok and args.state is not None and report.state is not None:
        save_state(Path(args.state), report.state)
    if args.json:
        out = report.to_dict()
        out["source"] = src.description
        out["seconds"] = round(seconds, 3)
        print(json.dumps(out, indent=2))
    else:
        print(_human_summary(src.description, report, seconds))
    return EXIT_VALID if report.ok else EXIT_INVALID


SUBCOMMANDS = ("groth16", "ledger", "inclusion")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darkpool-verify",
        description="Verify darkpool proofs and ledgers with pure Python + py_ecc. "
        "A bare SOURCE means `ledger SOURCE`.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument(
        "--backend",
        choices=groth16.BACKENDS,
        default=None,
        help="pairing and Poseidon backend: python (py_ecc, the default trust root) or native "
        "(mcl + light-poseidon, needs the darkpool[native] extra; ~100x faster). "
        f"Default: ${groth16.BACKEND_ENV} or python",
    )
    g = sub.add_parser("groth16", parents=[backend], help="verify one snarkjs-format Groth16 proof")
    g.add_argument("vkey", help="verification_key.json")
    g.add_argument("proof", help="proof.json")
    g.add_argument("public", help="public.json")
    g.set_defaults(func=cmd_groth16)
    led = sub.add_parser(
        "ledger", parents=[backend], help="replay a ledger export and check every entry and proof"
    )
    led.add_argument("source", help="ledger export directory or http(s)://HOST:PORT")
    led.add_argument("--vkeys", metavar="DIR", help="directory of verification keys you trust")
    led.add_argument(
        "--genesis", metavar="HASH", help="the genesis hash you trust (64 hex digits; printed)"
    )
    led.add_argument(
        "--oracle-key", metavar="HEX", help="the oracle public key you trust (64 hex; printed)"
    )
    led.add_argument("--json", action="store_true", help="print the report as JSON")
    led.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="verify proofs in N processes"
    )
    led.add_argument(
        "--state", metavar="FILE", help="incremental state: only check entries added since"
    )
    led.add_argument("--quiet", action="store_true", help="no progress on stderr")
    led.set_defaults(func=cmd_ledger)
    inc = sub.add_parser(
        "inclusion", parents=[backend], help="check an account opening against a replayed ledger"
    )
    inc.add_argument(
        "--ledger", required=True, metavar="SOURCE", help="export directory or http(s) URL"
    )
    inc.add_argument(
        "--opening", required=True, metavar="FILE", help="JSON of GET /v1/accounts/{i}/inclusion"
    )
    inc.add_argument(
        "--fills", metavar="FILE", help="refused: the list state's fill-history check is retired"
    )
    inc.add_argument("--vkeys", metavar="DIR", help="directory of verification keys you trust")
    inc.add_argument(
        "--latest",
        action="store_true",
        help="fail (exit 1) unless the opening's root is the ledger's latest account root "
        "(without it an older root passes with a WARNING)",
    )
    inc.add_argument("--json", action="store_true", help="print the result as JSON")
    inc.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="verify proofs in N processes"
    )
    inc.add_argument("--quiet", action="store_true", help="no progress on stderr")
    inc.set_defaults(func=cmd_inclusion)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in SUBCOMMANDS and args_list[0] not in ("-h", "--help"):
        args_list.insert(0, "ledger")
    parser = build_parser()
    args = parser.parse_args(args_list)
    try:
        if args.backend is not None:
            groth16.set_backend(args.backend)
            if args.backend == "native" and poseidon.native_available():
                poseidon.set_backend("native")  # light-poseidon, bit-exact (tested)
        else:
            groth16.current_backend()  # a bad $DARKPOOL_VERIFY_BACKEND fails here, in one line
        if poseidon.ENV_PROBLEM is not None:
            raise groth16.BackendError(poseidon.ENV_PROBLEM)
        rc: int = args.func(args)
    except groth16.BackendError as exc:
        print(f"darkpool-verify: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except InputError as exc:
        print(f"darkpool-verify: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        print("darkpool-verify: interrupted", file=sys.stderr)
        return EXIT_UNREADABLE
    return rc


if __name__ == "__main__":
    sys.exit(main())
