"""Locating and running the Node.js tools: node, circom2, snarkjs; one-line errors; progress.

``node`` comes from PATH (Node.js >= 18); circom2 / snarkjs / circomlib from the
project's ``node_modules`` (installed by ``npm ci`` from the lockfile). Every
tool failure becomes a one-line ``ToolchainError`` naming the tool and its
most telling output line.
"""

import contextlib
import functools
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prover.errors import ToolchainError

NODE_MISSING = (
    "node not found: install Node.js >= 18 (https://nodejs.org) "
    "and run `npm ci` in the project root"
)
MIN_NODE_MAJOR = 18
PROGRESS_DELAY_S = 1.0
PROGRESS_TICK_S = 30.0

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE_RE = re.compile(r"^(error\b|Error\b|\[ERROR\])|\berror\[[A-Z0-9]+\]")
_NOISE_LINE_RE = re.compile(r"^(at\s|[{}\[\]]$|\^+$|Node\.js v|\w+: .*,$|\w+: \S+$)")


@functools.cache
def project_root() -> Path:
    """The directory holding package.json (and node_modules), found from this file."""
    here = Path(__file__).resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / "package.json").is_file():
            return candidate
    raise ToolchainError(
        f"project root not found: no package.json above {here}; run darkpool from a source checkout"
    )


def node_executable() -> str:
    """Path of ``node`` on PATH, checked to be Node.js >= 18."""
    node = shutil.which("node")
    if node is None:
        raise ToolchainError(NODE_MISSING)
    major = _node_major_version(node)
    if major < MIN_NODE_MAJOR:
        raise ToolchainError(f"{node} is Node.js {major}: install Node.js >= {MIN_NODE_MAJOR}")
    return node


@functools.cache
def _node_major_version(node: str) -> int:
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"cannot run {node} --version: {exc}") from exc
    match = re.match(r"v(\d+)\.", out.strip())
    if match is None:
        raise ToolchainError(f"{node} --version printed {out.strip()!r}, not a Node.js version")
    return int(match.group(1))


def _package_json(package: str) -> dict[str, Any]:
    path = project_root() / "node_modules" / package / "package.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ToolchainError(
            f"{package} is not installed ({path} unreadable): run `npm ci` in {project_root()}"
        ) from exc
    if not isinstance(data, dict):
        raise ToolchainError(f"{path} is not a package.json object: run `npm ci`")
    return data


def _node_tool(package: str, command: str) -> Path:
    """The JS entry point of ``node_modules/.bin/<command>``, run with our ``node``.

    Running ``node <entry>`` instead of the .bin shim makes the located node the
    one that runs (the shim's shebang would pick whatever ``env node`` finds).
    """
    shim = project_root() / "node_modules" / ".bin" / command
    if not shim.exists():
        raise ToolchainError(
            f"{command} not found in {shim.parent}: run `npm ci` in {project_root()}"
        )
    bins = _package_json(package).get("bin")
    rel = bins.get(command) if isinstance(bins, dict) else bins
    if not isinstance(rel, str):
        raise ToolchainError(f"{package}/package.json names no {command} binary: run `npm ci`")
    entry = project_root() / "node_modules" / package / rel
    if not entry.is_file():
        raise ToolchainError(f"{entry} missing: run `npm ci` in {project_root()}")
    return entry


def tool_versions() -> dict[str, str]:
    """Versions of the pinned npm packages, read from their package.json files."""
    versions: dict[str, str] = {}
    for package in ("circom2", "snarkjs", "circomlib"):
        version = _package_json(package).get("version")
        if not isinstance(version, str):
            raise ToolchainError(f"{package}/package.json has no version: run `npm ci`")
        versions[package] = version
    return versions


def _summarise(output: str) -> str:
    """The most telling line of a tool's output: its first error line, else its last line."""
    lines = [_ANSI_RE.sub("", raw).strip() for raw in output.splitlines()]
    lines = [line for line in lines if line and not line.startswith("at ")]
    for index, line in enumerate(lines):
        if _ERROR_LINE_RE.search(line):
            text = re.sub(r"^\[ERROR\]\s*snarkJS:\s*", "", line)
            text = re.sub(r"^(Error:\s*)+", "", text)
            follow = lines[index + 1] if index + 1 < len(lines) else ""
            # circom's witness generator names the failing template on the next line.
            if follow.startswith("Error in template"):
                text = f"{text} {follow}"
            return text[:400]
    # No error line: the last line that is not stack-trace debris.
    lines = [line for line in lines if not _NOISE_LINE_RE.match(line)]
    return lines[-1][:400] if lines else "no output"


def _run(
    what: str,
    args: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    verdict: bool = False,
) -> str:
    """Run a tool; return its stdout+stderr (ANSI colours removed), or raise a one-line ToolchainError.

    ``verdict=True`` is for checkers (verify, wtns check) whose non-zero exit
    means "no" rather than "broken": their output is returned either way.
    """
    argv = [str(a) for a in args]
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,  # snarkjs would otherwise prompt for entropy
            capture_output=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise ToolchainError(f"{what}: cannot start {argv[0]} ({exc.strerror or exc})") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 and not verdict:
        raise ToolchainError(f"{what} failed: {_summarise(output)}")
    return _ANSI_RE.sub("", output)


def _snarkjs(what: str, *args: str | Path, verdict: bool = False) -> str:
    return _run(
        f"snarkjs {what}",
        [node_executable(), _node_tool("snarkjs", "snarkjs"), *args],
        verdict=verdict,
    )


def format_duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``1h20m``: a short human duration for estimates and elapsed time."""
    total = max(round(seconds), 1)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total % 3600 // 60:02d}m"


@contextlib.contextmanager
def progress(label: str, *, estimate_s: float | None = None) -> Iterator[None]:
    """Announce ``label`` on stderr if the step runs longer than a second, then its time.

    With ``estimate_s`` the announcement carries the estimate (for 2 idle
    cores); a long step then prints its elapsed time every
    ``PROGRESS_TICK_S``, so a slow machine is visibly busy, not hung. Quick
    steps print nothing, so cache hits stay silent.
    """
    start = time.monotonic()
    lock = threading.Lock()
    state = {"announced": False, "finished": False}
    stop = threading.Event()
    suffix = "" if estimate_s is None else f" (about {format_duration(estimate_s)} on 2 idle cores)"

    def announce() -> None:
        if stop.wait(PROGRESS_DELAY_S):
            return
        with lock:
            if state["finished"]:
                return
            print(f"[darkpool] {label}{suffix}…", end="", file=sys.stderr, flush=True)
            state["announced"] = True
        while not stop.wait(PROGRESS_TICK_S):
            with lock:
                if stop.is_set():
                    return
                elapsed = time.monotonic() - start
                print(f" {format_duration(elapsed)}…", end="", file=sys.stderr, flush=True)

    ticker = threading.Thread(target=announce, daemon=True)
    ticker.start()
    outcome = "failed"
    try:
        yield
        outcome = "done"
    finally:
        stop.set()
        with lock:
            state["finished"] = True
            if state["announced"]:
                elapsed = time.monotonic() - start
                print(f"  {outcome} in {elapsed:.1f}s", file=sys.stderr, flush=True)


def report(text: str) -> None:
    """Append ``text`` (e.g. ``40%, ~12s left``) to the progress line being printed."""
    print(f" {text}…", end="", file=sys.stderr, flush=True)


def _warn(message: str) -> None:
    print(f"[darkpool] WARNING: {message}", file=sys.stderr, flush=True)
