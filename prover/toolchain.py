"""The only code in darkpool that runs Node.js: circom compile, Groth16 setup, witness, prove.

What it does:

* finds ``node`` on PATH and circom2 / snarkjs / circomlib in the project's
  ``node_modules`` (installed by ``npm ci`` from the lockfile);
* compiles circom sources with ``--O2`` and sets them up (``snarkjs groth16
  setup``) into a content-addressed cache. The key covers every ``.circom``
  file reachable through ``include`` (contents, not paths), caller key
  material (e.g. circuit params), the sha256 of the powers-of-tau file and the
  circom2/snarkjs/circomlib versions. Entries are built in a temp directory and
  renamed into place under an ``fcntl`` lock, so a crash never leaves a half
  entry and concurrent builders of one key wait for each other;
* resolves the powers of tau: ``DARKPOOL_PTAU`` names a phase-2-prepared file;
  without it, an INSECURE development file is generated once into the cache;
* generates witnesses and Groth16 proofs, and wraps ``snarkjs groth16 verify``
  and ``snarkjs wtns check`` as baselines for tests and benchmarks.

Trusted-setup choices (development grade, deliberately):

* The generated development ptau is ``powersoftau new`` + ``powersoftau beacon``
  with a fixed, published beacon + ``prepare phase2``. A beacon rather than
  ``contribute -e=...``: snarkjs mixes OS randomness into ``contribute`` even
  with fixed entropy, so only the beacon gives a byte-identical file (and thus
  a stable cache key) on every machine. Anyone can recompute its toxic waste.
* Phase 2 is the zkey straight from ``groth16 setup`` with no contribution
  (delta is the group generator), which is deterministic and fast. Proofs under
  such a zkey are forgeable by anyone even with a ceremony ptau; production
  needs a phase-2 ceremony (``snarkjs zkey contribute`` rounds and a beacon)
  on top of a public ceremony ptau.

Every failure reaches the caller as a ``ToolchainError`` (or ``WitnessError``)
with one line: which tool failed and its most telling output line. This module
never imports ``exchange`` and never parses tool stdout for numbers it can read
from the files themselves (constraint counts come from the r1cs header).
"""

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.errors import ArtifactFormatError, ToolchainError, WitnessError
from prover.r1cs import R1CSHeader, read_ptau_header, read_r1cs_header
from verifier.field import Q as BN254_BASE_FIELD

NODE_MISSING = (
    "node not found: install Node.js >= 18 (https://nodejs.org) "
    "and run `npm ci` in the project root"
)
MIN_NODE_MAJOR = 18
COMPILE_FLAGS = ("--O2", "--r1cs", "--wasm", "--sym")
# Smallest generated dev ptau: power 10 takes ~12 s to prepare and covers any
# test circuit up to 1023 constraints + public signals.
DEV_PTAU_MIN_POWER = 10
# snarkjs cannot prepare beyond 2^28 on BN254 (the scalar field's 2-adicity).
MAX_PTAU_POWER = 28
DEV_PTAU_BEACON = "5c7e1b0d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
DEV_PTAU_BEACON_NAME = "darkpool INSECURE development beacon"
# Names the setup procedure in the cache key: change it when the recipe changes.
SETUP_RECIPE = "groth16-setup/no-phase2-contribution/v1"
PROGRESS_DELAY_S = 1.0
MANIFEST = "manifest.json"

_INCLUDE_RE = re.compile(r'\binclude\s+"([^"]+)"\s*;')
_BLOCK_COMMENT_RE = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT_RE = re.compile(r"//[^\n]*")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE_RE = re.compile(r"^(error\b|Error\b|\[ERROR\])|\berror\[[A-Z0-9]+\]")
_NOISE_LINE_RE = re.compile(r"^(at\s|[{}\[\]]$|\^+$|Node\.js v|\w+: .*,$|\w+: \S+$)")


# ---------------------------------------------------------------- locating tools


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


def cache_dir() -> Path:
    """``$DARKPOOL_CACHE`` or ``<project root>/.cache/darkpool`` (gitignored)."""
    env = os.environ.get("DARKPOOL_CACHE")
    path = Path(env).expanduser().resolve() if env else project_root() / ".cache" / "darkpool"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolchainError(f"cannot create cache directory {path}: {exc.strerror}") from exc
    return path


# ---------------------------------------------------------------- running tools


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


@contextlib.contextmanager
def progress(label: str) -> Iterator[None]:
    """Announce ``label`` on stderr if the step runs longer than a second, then its time.

    Quick steps print nothing, so cache hits stay silent.
    """
    start = time.monotonic()
    lock = threading.Lock()
    state = {"announced": False, "finished": False}

    def announce() -> None:
        with lock:
            if not state["finished"]:
                print(f"[darkpool] {label}…", end="", file=sys.stderr, flush=True)
                state["announced"] = True

    timer = threading.Timer(PROGRESS_DELAY_S, announce)
    timer.daemon = True
    timer.start()
    outcome = "failed"
    try:
        yield
        outcome = "done"
    finally:
        timer.cancel()
        with lock:
            state["finished"] = True
            if state["announced"]:
                elapsed = time.monotonic() - start
                print(f"  {outcome} in {elapsed:.1f}s", file=sys.stderr, flush=True)


def _warn(message: str) -> None:
    print(f"[darkpool] WARNING: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- cache plumbing


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Exclusive inter-process lock ``<cache>/locks/<name>.lock`` (released on crash by the OS)."""
    locks = cache_dir() / "locks"
    locks.mkdir(exist_ok=True)
    fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _cache_entry(kind: str, entry: str, produce: Callable[[Path], None]) -> Path:
    """Directory ``<cache>/<kind>/<entry>``, produced once by ``produce(tmp_dir)``.

    ``produce`` fills a fresh temp directory and writes ``manifest.json`` last;
    the directory is then renamed into place, so an entry with a manifest is
    always complete. Builders of the same entry serialise on a lock; the loser
    finds the winner's entry and returns it.
    """
    final = cache_dir() / kind / entry
    if (final / MANIFEST).is_file():
        return final
    with _locked(f"{kind}-{entry}"):
        if (final / MANIFEST).is_file():
            return final
        tmp_root = cache_dir() / "tmp"
        tmp_root.mkdir(exist_ok=True)
        # Holding the lock, any temp dir for this entry is a crashed builder's leftover.
        for stale in tmp_root.glob(f"{kind}-{entry}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # an entry without manifest: not ours to trust
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{kind}-{entry}.", dir=tmp_root))
        try:
            produce(tmp)
            if not (tmp / MANIFEST).is_file():
                raise ToolchainError(f"internal: cache entry {kind}/{entry} has no manifest")
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def _write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _read_manifest(entry: Path) -> dict[str, Any]:
    try:
        data = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ToolchainError(f"corrupt cache entry {entry}: delete it and rebuild") from exc
    if not isinstance(data, dict):
        raise ToolchainError(f"corrupt cache entry {entry}: delete it and rebuild")
    return data


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return cleaned or "circuit"


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


# ---------------------------------------------------------------- sources and keys


def _search_dirs(include_dirs: Sequence[Path]) -> list[Path]:
    # circomlib resolves as `include "circomlib/circuits/poseidon.circom"`.
    return [Path(d).resolve() for d in include_dirs] + [project_root() / "node_modules"]


def source_files(source: Path, *, include_dirs: Sequence[Path] = ()) -> list[Path]:
    """``source`` and every file reachable from it through ``include``, as circom resolves them.

    circom looks an include up next to the including file first, then in each
    ``-l`` directory in order; we mirror that so the cache key covers exactly
    the files the compiler reads.
    """
    search = _search_dirs(include_dirs)
    root = Path(source).resolve()
    if not root.is_file():
        raise ToolchainError(f"circuit source {source} not found")
    seen: dict[Path, None] = {root: None}
    queue = [root]
    while queue:
        current = queue.pop()
        text = current.read_text(errors="replace")
        text = _LINE_COMMENT_RE.sub("", _BLOCK_COMMENT_RE.sub(" ", text))
        for target in _INCLUDE_RE.findall(text):
            for base in (current.parent, *search):
                candidate = (base / target).resolve()
                if candidate.is_file():
                    break
            else:
                raise ToolchainError(
                    f"{current}: include {target!r} not found next to it or in "
                    + ", ".join(str(d) for d in search)
                )
            if candidate not in seen:
                seen[candidate] = None
                queue.append(candidate)
    return list(seen)


def _extra_key_bytes(extra_key: bytes | str | Mapping[str, object] | None) -> bytes:
    if extra_key is None:
        return b""
    if isinstance(extra_key, bytes):
        return extra_key
    if isinstance(extra_key, str):
        return extra_key.encode()
    return _canonical_json(dict(extra_key))


def source_key(
    source: Path,
    *,
    include_dirs: Sequence[Path] = (),
    extra_key: bytes | str | Mapping[str, object] | None = None,
) -> str:
    """Cache key of a compile: contents of all reachable sources, flags, extra key, circom version.

    Contents rather than paths: moving a checkout must not invalidate the cache,
    and editing a file that nothing includes must not either.
    """
    files = source_files(source, include_dirs=include_dirs)
    material = {
        "format": 1,
        "flags": list(COMPILE_FLAGS),
        "tools": tool_versions(),
        "stem": Path(source).stem,
        "main": file_sha256(files[0]),
        "sources": sorted(file_sha256(f) for f in files),
        "extra": _sha256_bytes(_extra_key_bytes(extra_key)),
    }
    return _sha256_bytes(_canonical_json(material))


# ---------------------------------------------------------------- compile


@dataclass(frozen=True)
class CompiledCircuit:
    r1cs: Path
    wasm: Path
    sym: Path
    witness_js: Path
    header: R1CSHeader

    @property
    def constraints(self) -> int:
        return self.header.n_constraints


def compile_circuit(
    source: Path, *, include_dirs: Sequence[Path] = (), out_dir: Path
) -> CompiledCircuit:
    """``circom2 --O2 --r1cs --wasm --sym`` into ``out_dir`` (``-l node_modules`` added)."""
    source = Path(source).resolve()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    lib_args: list[str | Path] = []
    for directory in _search_dirs(include_dirs):
        lib_args += ["-l", directory]
    # circom2 is WASI: it can only open paths below its preopened directories,
    # and it fails to resolve `..` preopens. Running from / with absolute
    # paths (which its CLI makes relative to cwd) reaches every file.
    output = _run(
        "circom2 compile",
        [
            node_executable(),
            _node_tool("circom2", "circom2"),
            source,
            *COMPILE_FLAGS,
            *lib_args,
            "-o",
            out_dir,
        ],
        cwd=Path(source.anchor),
    )
    (out_dir / "compile.log").write_text(output)
    stem = source.stem
    r1cs = out_dir / f"{stem}.r1cs"
    wasm = out_dir / f"{stem}_js" / f"{stem}.wasm"
    sym = out_dir / f"{stem}.sym"
    witness_js = out_dir / f"{stem}_js" / "generate_witness.js"
    for path in (r1cs, wasm, sym, witness_js):
        if not path.is_file():
            raise ToolchainError(f"circom2 compile reported success but wrote no {path.name}")
    return CompiledCircuit(
        r1cs=r1cs, wasm=wasm, sym=sym, witness_js=witness_js, header=read_r1cs_header(r1cs)
    )


# ---------------------------------------------------------------- powers of tau


_warned_dev_ptau: set[Path] = set()


def _check_ptau(path: Path, min_power: int, origin: str) -> None:
    try:
        header = read_ptau_header(path)
    except ArtifactFormatError as exc:
        raise ToolchainError(f"{origin}: {exc}") from exc
    if header.prime != BN254_BASE_FIELD:
        raise ToolchainError(f"{origin}: not a BN254 (bn128) powers of tau file")
    if not header.phase2_ready:
        raise ToolchainError(
            f"{origin}: not prepared for phase 2 (run `snarkjs powersoftau prepare phase2` on it)"
        )
    if header.power < min_power:
        raise ToolchainError(
            f"{origin}: powers of tau of power {header.power} (< 2^{header.power} constraints + "
            f"public signals) is too small, the circuit needs power {min_power}"
        )


def resolve_ptau(min_power: int) -> Path:
    """A phase-2-ready BN254 ptau file of power >= ``min_power``.

    ``$DARKPOOL_PTAU`` if set (checked, never replaced); otherwise an INSECURE
    development file generated once into the cache.
    """
    if not 1 <= min_power <= MAX_PTAU_POWER:
        raise ToolchainError(f"circuit needs ptau power {min_power}, beyond 2^{MAX_PTAU_POWER}")
    env = os.environ.get("DARKPOOL_PTAU")
    if env:
        path = Path(env).expanduser().resolve()
        if not path.is_file():
            raise ToolchainError(f"DARKPOOL_PTAU={env}: no such file")
        _check_ptau(path, min_power, f"DARKPOOL_PTAU={env}")
        return path
    return _dev_ptau(max(min_power, DEV_PTAU_MIN_POWER))


def _dev_ptau(power: int) -> Path:
    name = f"insecure_dev_bn128_{power}"
    generated = False

    def produce(tmp: Path) -> None:
        nonlocal generated
        generated = True
        _warn(
            f"DARKPOOL_PTAU is not set: generating INSECURE development powers of tau 2^{power} "
            "(fixed public beacon, anyone can forge proofs; set DARKPOOL_PTAU to a ceremony file "
            "for real use)"
        )
        with progress(f"generating INSECURE development powers of tau 2^{power}"):
            _snarkjs("powersoftau new", "powersoftau", "new", "bn128", str(power), tmp / "p0.ptau")
            _snarkjs(
                "powersoftau beacon",
                "powersoftau",
                "beacon",
                tmp / "p0.ptau",
                tmp / "p1.ptau",
                DEV_PTAU_BEACON,
                "10",
                f"-n={DEV_PTAU_BEACON_NAME}",
            )
            _snarkjs(
                "powersoftau prepare phase2",
                "powersoftau",
                "prepare",
                "phase2",
                tmp / "p1.ptau",
                tmp / f"{name}.ptau",
            )
        (tmp / "p0.ptau").unlink()
        (tmp / "p1.ptau").unlink()
        _write_json_atomic(
            tmp / MANIFEST,
            {
                "insecure": True,
                "power": power,
                "beacon": DEV_PTAU_BEACON,
                "snarkjs": tool_versions()["snarkjs"],
                "file": f"{name}.ptau",
            },
        )

    entry = _cache_entry("ptau", name, produce)
    path = entry / f"{name}.ptau"
    if path not in _warned_dev_ptau:
        _warned_dev_ptau.add(path)
        if not generated:  # generating already printed the warning
            _warn(f"using INSECURE development powers of tau {path} (DARKPOOL_PTAU not set)")
    return path


def ptau_digest(path: Path) -> str:
    """sha256 of a ptau file, memoised by (path, size, mtime) so 75 MB is hashed once."""
    path = Path(path).resolve()
    stat = path.stat()
    memo_key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_path = cache_dir() / "ptau-digests.json"
    memo: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(memo_path.read_text())
        if isinstance(loaded, dict):
            memo = {str(k): str(v) for k, v in loaded.items()}
    if memo_key in memo:
        return memo[memo_key]
    digest = file_sha256(path)
    memo[memo_key] = digest
    # A lost update from a concurrent writer only costs a rehash later.
    _write_json_atomic(memo_path, memo)
    return digest


# ---------------------------------------------------------------- setup


def setup(r1cs: Path, ptau: Path, out_dir: Path) -> tuple[Path, Path]:
    """``groth16 setup`` + ``zkey export verificationkey``; returns (zkey, verification_key.json).

    No phase-2 contribution is added (see the module docstring): fine for
    development and tests, forgeable in production.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    zkey = out_dir / "circuit.zkey"
    vkey = out_dir / "verification_key.json"
    _snarkjs("groth16 setup", "groth16", "setup", Path(r1cs), Path(ptau), zkey)
    _snarkjs("zkey export verificationkey", "zkey", "export", "verificationkey", zkey, vkey)
    return zkey, vkey


# ---------------------------------------------------------------- build


@dataclass(frozen=True)
class CircuitArtifacts:
    """Everything needed to prove and verify one compiled, set-up circuit."""

    name: str
    key: str
    r1cs: Path
    wasm: Path
    sym: Path
    witness_js: Path
    zkey: Path
    vkey_json: Path
    ptau: Path
    constraints: int
    n_public: int

    def verification_key(self) -> dict[str, Any]:
        data = json.loads(self.vkey_json.read_text())
        if not isinstance(data, dict):
            raise ToolchainError(f"{self.vkey_json} is not a JSON object")
        return data


def _compile_cached(
    name: str, source: Path, include_dirs: Sequence[Path], src_key: str
) -> tuple[Path, dict[str, Any]]:
    entry_name = f"{_safe_name(name)}-{src_key[:24]}"

    def produce(tmp: Path) -> None:
        with progress(f"compiling {name}"):
            compiled = compile_circuit(source, include_dirs=include_dirs, out_dir=tmp)
        header = compiled.header
        _write_json_atomic(
            tmp / MANIFEST,
            {
                "name": name,
                "source_key": src_key,
                "source": str(source),
                "sources": [str(f) for f in source_files(source, include_dirs=include_dirs)],
                "tools": tool_versions(),
                "r1cs": compiled.r1cs.relative_to(tmp).as_posix(),
                "wasm": compiled.wasm.relative_to(tmp).as_posix(),
                "sym": compiled.sym.relative_to(tmp).as_posix(),
                "witness_js": compiled.witness_js.relative_to(tmp).as_posix(),
                "constraints": header.n_constraints,
                "n_public": header.n_public,
                "required_ptau_power": header.required_ptau_power,
            },
        )

    entry = _cache_entry("compile", entry_name, produce)
    return entry, _read_manifest(entry)


def build(
    name: str,
    source_path: Path,
    *,
    include_dirs: Sequence[Path] = (),
    extra_key: bytes | str | Mapping[str, object] | None = None,
) -> CircuitArtifacts:
    """Compile and set up ``source_path`` through the cache; instant when nothing changed.

    ``include_dirs`` are extra ``-l`` directories (``node_modules`` is always
    searched). ``extra_key`` is mixed into the key (e.g. the params the main
    wrapper was generated from).
    """
    source = Path(source_path).resolve()
    src_key = source_key(source, include_dirs=include_dirs, extra_key=extra_key)
    compile_entry, compiled = _compile_cached(name, source, include_dirs, src_key)
    ptau = resolve_ptau(int(compiled["required_ptau_power"]))
    key_material = {
        "source_key": src_key,
        "ptau_sha256": ptau_digest(ptau),
        "snarkjs": tool_versions()["snarkjs"],
        "recipe": SETUP_RECIPE,
    }
    key = _sha256_bytes(_canonical_json(key_material))
    r1cs = compile_entry / str(compiled["r1cs"])
    constraints = int(compiled["constraints"])

    def produce(tmp: Path) -> None:
        with progress(f"setting up {name} (groth16 setup, {constraints} constraints)"):
            zkey, vkey = setup(r1cs, ptau, tmp)
        _write_json_atomic(
            tmp / MANIFEST,
            {
                "name": name,
                "key": key,
                "key_material": key_material,
                "ptau": str(ptau),
                "compile_entry": compile_entry.name,
                "zkey": zkey.name,
                "vkey": vkey.name,
            },
        )

    setup_entry = _cache_entry("setup", f"{_safe_name(name)}-{key[:24]}", produce)
    setup_manifest = _read_manifest(setup_entry)
    return CircuitArtifacts(
        name=name,
        key=key,
        r1cs=r1cs,
        wasm=compile_entry / str(compiled["wasm"]),
        sym=compile_entry / str(compiled["sym"]),
        witness_js=compile_entry / str(compiled["witness_js"]),
        zkey=setup_entry / str(setup_manifest["zkey"]),
        vkey_json=setup_entry / str(setup_manifest["vkey"]),
        ptau=ptau,
        constraints=constraints,
        n_public=int(compiled["n_public"]),
    )


def _generated_source(name: str, main_source: str) -> Path:
    """Store a generated main wrapper in the cache by content and return its path."""
    digest = _sha256_bytes(main_source.encode())[:24]
    directory = cache_dir() / "generated" / digest
    path = directory / f"{_safe_name(name)}.circom"
    if not path.is_file() or path.read_text() != main_source:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(main_source)
        os.replace(tmp, path)
    return path


def compile_generated(
    name: str,
    main_source: str,
    include_dirs: Sequence[Path],
    *,
    extra_key: bytes | str | Mapping[str, object] | None = None,
) -> tuple[Path, int]:
    """Compile (no setup) a generated main wrapper through the cache.

    Returns the r1cs path and the constraint count. Used to measure circuits
    too large to set up with the available powers of tau (production profile).
    """
    source = _generated_source(name, main_source).resolve()
    src_key = source_key(source, include_dirs=include_dirs, extra_key=extra_key)
    entry, manifest = _compile_cached(name, source, include_dirs, src_key)
    return entry / str(manifest["r1cs"]), int(manifest["constraints"])


def build_generated(
    name: str,
    main_source: str,
    include_dirs: Sequence[Path],
    *,
    extra_key: bytes | str | Mapping[str, object] | None = None,
) -> CircuitArtifacts:
    """``build`` a generated main wrapper (its text is stored in the cache, by content)."""
    path = _generated_source(name, main_source)
    return build(name, path, include_dirs=include_dirs, extra_key=extra_key)


# ---------------------------------------------------------------- witness and proofs


def _encode_input(value: object, where: str) -> object:
    """JSON for circom's witness calculator: integers as decimal strings, lists nested."""
    if isinstance(value, bool):
        raise WitnessError(f"input {where}: booleans are ambiguous, pass 0 or 1")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]+", value):
            raise WitnessError(f"input {where}: {value!r} is not a decimal integer")
        return value
    if isinstance(value, list | tuple):
        return [_encode_input(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise WitnessError(f"input {where}: unsupported type {type(value).__name__}")


def write_input_json(inputs: Mapping[str, object], path: Path) -> None:
    encoded = {str(k): _encode_input(v, str(k)) for k, v in inputs.items()}
    Path(path).write_text(json.dumps(encoded))


def witness(artifacts: CircuitArtifacts, inputs: Mapping[str, object], out_path: Path) -> Path:
    """Run the circuit's wasm witness generator on ``inputs``; write ``out_path`` (.wtns)."""
    out_path = Path(out_path)
    node = node_executable()
    with tempfile.TemporaryDirectory(prefix="darkpool-input-") as tmp:
        input_json = Path(tmp) / "input.json"
        write_input_json(inputs, input_json)
        try:
            with progress(f"computing witness for {artifacts.name}"):
                _run("witness", [node, artifacts.witness_js, artifacts.wasm, input_json, out_path])
        except ToolchainError as exc:
            detail = str(exc).removeprefix("witness failed: ")
            raise WitnessError(f"witness for {artifacts.name} failed: {detail}") from exc
    if not out_path.is_file():
        raise WitnessError(f"witness for {artifacts.name}: generator wrote no {out_path.name}")
    return out_path


def prove(artifacts: CircuitArtifacts, wtns: Path) -> tuple[dict[str, Any], list[str]]:
    """``snarkjs groth16 prove``: returns (proof JSON, public signals as decimal strings)."""
    with tempfile.TemporaryDirectory(prefix="darkpool-proof-") as tmp:
        proof_path = Path(tmp) / "proof.json"
        public_path = Path(tmp) / "public.json"
        with progress(f"proving {artifacts.name}"):
            _snarkjs(
                "groth16 prove", "groth16", "prove", artifacts.zkey, wtns, proof_path, public_path
            )
        try:
            proof = json.loads(proof_path.read_text())
            public = json.loads(public_path.read_text())
        except (OSError, ValueError) as exc:
            raise ToolchainError(f"snarkjs groth16 prove wrote unreadable output: {exc}") from exc
    if not isinstance(proof, dict) or not isinstance(public, list):
        raise ToolchainError("snarkjs groth16 prove wrote unexpected JSON")
    return proof, [str(x) for x in public]


def prove_inputs(
    artifacts: CircuitArtifacts, inputs: Mapping[str, object]
) -> tuple[dict[str, Any], list[str]]:
    """Witness + proof in one call (like ``snarkjs groth16 fullprove``)."""
    with tempfile.TemporaryDirectory(prefix="darkpool-wtns-") as tmp:
        wtns = witness(artifacts, inputs, Path(tmp) / "witness.wtns")
        return prove(artifacts, wtns)


def snarkjs_fullprove(
    artifacts: CircuitArtifacts, input_json: Path, out_dir: Path
) -> tuple[Path, Path]:
    """Plain ``snarkjs groth16 fullprove`` (witness + prove in one node process).

    The baseline our prover path is measured against; returns (proof, public) paths.
    """
    proof = Path(out_dir) / "fullprove_proof.json"
    public = Path(out_dir) / "fullprove_public.json"
    _snarkjs(
        "groth16 fullprove",
        "groth16",
        "fullprove",
        Path(input_json),
        artifacts.wasm,
        artifacts.zkey,
        proof,
        public,
    )
    if not proof.is_file() or not public.is_file():
        raise ToolchainError("snarkjs groth16 fullprove wrote no proof")
    return proof, public


def snarkjs_verify(vkey_path: Path, proof_path: Path, public_path: Path) -> bool:
    """``snarkjs groth16 verify`` (baseline for tests/benchmarks; the product uses verifier/)."""
    output = _snarkjs(
        "groth16 verify",
        "groth16",
        "verify",
        Path(vkey_path),
        Path(public_path),
        Path(proof_path),
        verdict=True,
    )
    # snarkjs answers "no" with one of these lines (and exit code 1).
    if any(
        verdict in output
        for verdict in (
            "Invalid proof",
            "Public inputs are not valid",
            "Proof commitments are not valid",
        )
    ):
        return False
    if "OK!" in output:
        return True
    raise ToolchainError(f"snarkjs groth16 verify failed: {_summarise(output)}")


def wtns_check(r1cs: Path, wtns: Path) -> bool:
    """``snarkjs wtns check``: does the witness satisfy every constraint of ``r1cs``?"""
    output = _snarkjs("wtns check", "wtns", "check", Path(r1cs), Path(wtns), verdict=True)
    if "WITNESS IS NOT CORRECT" in output:
        return False
    if "WITNESS IS CORRECT" in output:
        return True
    raise ToolchainError(f"snarkjs wtns check failed: {_summarise(output)}")


def r1cs_info(r1cs: Path) -> dict[str, int]:
    """``snarkjs r1cs info`` as numbers (a cross-check for prover.r1cs, not used to build)."""
    output = _snarkjs("r1cs info", "r1cs", "info", Path(r1cs))
    info: dict[str, int] = {}
    for label, value in re.findall(r"# of ([A-Za-z ]+): (\d+)", output):
        info[label.strip().lower().replace(" ", "_")] = int(value)
    if "constraints" not in info:
        raise ToolchainError(f"snarkjs r1cs info printed no constraint count: {_summarise(output)}")
    return info
