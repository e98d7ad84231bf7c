"""Powers of tau: the phase-2-prepared BN254 file every Groth16 setup starts from.

``resolve_ptau(power)`` looks, in order, for:

1. ``DARKPOOL_PTAU``: a prepared file given by path (checked, never replaced);
2. the shared development files the Makefile uses,
   ``<project root>/../shared/ptau/dev_bn128_K.ptau`` (the largest K, i.e.
   the Makefile's ``dev_bn128_16.ptau``, so both share cached keys),
   so plain ``darkpool`` commands find what ``make`` finds;
3. a file already in the cache (``<cache>/ptau/``) of a sufficient power: a
   fetched ceremony file first, else a generated development one;
4. the public Hermez/Polygon ceremony file ``powersOfTau28_hez_final_NN.ptau``
   fetched over HTTPS (``DARKPOOL_PTAU_URL`` overrides the address, a template
   with ``{power}``) and checked against its blake2b-512 published in the
   snarkjs README before use; ``DARKPOOL_PTAU_FETCH=0`` skips this (offline);
5. offline, an INSECURE development file generated once into the cache by
   ``js/dev_ptau.cjs`` from a tau derived from the published
   ``DEV_PTAU_BEACON``: with tau known, the Lagrange-basis sections are
   computed as scalars and multiplied once each, instead of snarkjs'
   ``prepare phase2`` point FFT (the output is byte-identical to running
   ``prepare phase2`` on the same tau powers; a test checks it). Deterministic,
   so the cache key is stable on every machine; anyone can recompute its toxic
   waste.

Builds (``prover.toolchain.artifacts``) use only steps 1-3 (``local_ptau``):
with no local file they make ptau-free development keys (``keys.dev_setup``,
as insecure as a generated ptau, minutes faster). Steps 4-5 serve ``darkpool
ceremony``, which needs a real ptau.
"""

import contextlib
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from prover.errors import ArtifactFormatError, ToolchainError
from prover.r1cs import read_ptau_header
from prover.toolchain import tools
from prover.toolchain.cache import (
    MANIFEST,
    _write_json_atomic,
    cache_dir,
    cached_build,
    file_sha256,
)
from prover.toolchain.tools import _warn, progress, tool_versions
from verifier.field import Q as BN254_BASE_FIELD

# Smallest generated dev ptau: power 10 takes ~12 s to prepare and covers any
# test circuit up to 1023 constraints + public signals.
DEV_PTAU_MIN_POWER = 10
# snarkjs cannot prepare beyond 2^28 on BN254 (the scalar field's 2-adicity).
MAX_PTAU_POWER = 28
DEV_PTAU_BEACON = "5c7e1b0d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
DEV_PTAU_BEACON_NAME = "darkpool INSECURE development beacon"

# blake2b-512 of powersOfTau28_hez_final_NN.ptau, as published in the snarkjs
# README ("Phase 1" table, https://github.com/iden3/snarkjs#7-prepare-phase-2).
HERMEZ_PTAU_URL = (
    "https://storage.googleapis.com/zkevm/ptau/powersOfTau28_hez_final_{power:02d}.ptau"
)
HERMEZ_PTAU_BLAKE2B = {
    8: "d6a8fb3a04feb600096c3b791f936a578c4e664d262e4aa24beed1b7a9a96aa5"
    "eb72864d628db247e9293384b74b36ffb52ca8d148d6e1b8b51e279fdf57b583",
    9: "94f108a80e81b5d932d8e8c9e8fd7f46cf32457e31462deeeef37af1b71c2c1b"
    "3c71fb0d9b59c654ec266b042735f50311f9fd1d4cadce47ab234ad163157cb5",
    10: "6cfeb8cda92453099d20120bdd0e8a5c4e7706c2da9a8f09ccc157ed2464d921"
    "fd0437fb70db42104769efd7d6f3c1f964bcf448c455eab6f6c7d863e88a5849",
    11: "47c282116b892e5ac92ca238578006e31a47e7c7e70f0baa8b687f0a5203e28e"
    "a07bbbec765a98dcd654bad618475d4661bfaec3bd9ad2ed12e7abc251d94d33",
    12: "ded2694169b7b08e898f736d5de95af87c3f1a64594013351b1a796dbee393bd"
    "825f88f9468c84505ddd11eb0b1465ac9b43b9064aa8ec97f2b73e04758b8a4a",
    13: "58efc8bf2834d04768a3d7ffcd8e1e23d461561729beaac4e3e7a47829a1c906"
    "6d5320241e124a1a8e8aa6c75be0ba66f65bc8239a0542ed38e11276f6fdb4d9",
    14: "eeefbcf7c3803b523c94112023c7ff89558f9b8e0cf5d6cdcba3ade60f168af4"
    "a181c9c21774b94fbae6c90411995f7d854d02ebd93fb66043dbb06f17a831c1",
    15: "982372c867d229c236091f767e703253249a9b432c1710b4f326306bfa2428a1"
    "7b06240359606cfe4d580b10a5a1f63fbed499527069c18ae17060472969ae6e",
    16: "6a6277a2f74e1073601b4f9fed6e1e55226917efb0f0db8a07d98ab01df1ccf4"
    "3eb0e8c3159432acd4960e2f29fe84a4198501fa54c8dad9e43297453efec125",
    17: "6247a3433948b35fbfae414fa5a9355bfb45f56efa7ab4929e669264a0258976"
    "741dfbe3288bfb49828e5df02c2e633df38d2245e30162ae7e3bcca5b8b49345",
    18: "7e6a9c2e5f05179ddfc923f38f917c9e6831d16922a902b0b4758b8e79c2ab8a"
    "81bb5f29952e16ee6c5067ed044d7857b5de120a90704c1d3b637fd94b95b13e",
    19: "bca9d8b04242f175189872c42ceaa21e2951e0f0f272a0cc54fc37193ff66486"
    "00eaf1c555c70cdedfaf9fb74927de7aa1d33dc1e2a7f1a50619484989da0887",
    20: "89a66eb5590a1c94e3f1ee0e72acf49b1669e050bb5f93c73b066b564dca4e0c"
    "7556a52b323178269d64af325d8fdddb33da3a27c34409b821de82aa2bf1a27b",
}
FETCH_TIMEOUT_S = 20.0
# Seconds per 2^power of dev_ptau.cjs on 2 idle cores, for the printed
# estimate (CPU measured: 10.4 s at 2^10, 37.5 s at 2^12, one core; the
# Lagrange sections run in one helper process per core). snarkjs' new + beacon + `prepare phase2` needs about
# 3x that at 2^10 and more above (the point FFT has a log factor): ~25 min for
# 2^16 on 2 idle cores.
DEV_PTAU_SECONDS_PER_POINT = 5.0e-3
DEV_PTAU_SCRIPT = Path(__file__).resolve().parent / "js" / "dev_ptau.cjs"
_SHARED_DEV_RE = re.compile(r"dev_bn128_(\d+)\.ptau")

_announced: set[Path] = set()


def check_ptau(path: Path, min_power: int, origin: str) -> None:
    """Refuse (one-line ``ToolchainError`` starting with ``origin``) anything but a
    phase-2-prepared BN254 ptau of power >= ``min_power``."""
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
    """A phase-2-ready BN254 ptau file of power >= ``min_power`` (see the module docstring).

    Raises ``ToolchainError`` (one line) for a bad ``DARKPOOL_PTAU`` or if
    nothing can be found, fetched or generated.
    """
    found = local_ptau(min_power)
    if found is not None:
        return found
    if os.environ.get("DARKPOOL_PTAU_FETCH", "1") != "0":
        power = min((p for p in HERMEZ_PTAU_BLAKE2B if p >= min_power), default=None)
        if power is not None:
            try:
                return fetch_ceremony_ptau(power)
            except ToolchainError as exc:
                _warn(f"{exc}; falling back to a generated development file")
    return _dev_ptau(max(min_power, DEV_PTAU_MIN_POWER))


def local_ptau(min_power: int) -> Path | None:
    """Steps 1-3 only (``DARKPOOL_PTAU``, the shared files, the cache): no network, no generation.

    ``prover.toolchain.artifacts`` builds with this; without any local file it
    makes development keys that need no ptau (``keys.dev_setup``). Raises
    ``ToolchainError`` for a bad ``DARKPOOL_PTAU``.
    """
    if not 1 <= min_power <= MAX_PTAU_POWER:
        raise ToolchainError(f"circuit needs ptau power {min_power}, beyond 2^{MAX_PTAU_POWER}")
    env = os.environ.get("DARKPOOL_PTAU")
    if env:
        path = Path(env).expanduser().resolve()
        if not path.is_file():
            raise ToolchainError(f"DARKPOOL_PTAU={env}: no such file")
        check_ptau(path, min_power, f"DARKPOOL_PTAU={env}")
        return path
    return _shared_ptau(min_power) or _cached_ptau(min_power)


def shared_ptau_dirs() -> list[Path]:
    """Where the Makefile's shared development files live: ``<project root>/../shared/ptau``."""
    return [tools.project_root().parent / "shared" / "ptau"]


def _shared_ptau(min_power: int) -> Path | None:
    candidates: list[tuple[int, Path]] = []
    for directory in shared_ptau_dirs():
        with contextlib.suppress(OSError):
            for path in directory.iterdir():
                match = _SHARED_DEV_RE.fullmatch(path.name)
                if match and int(match.group(1)) >= min_power and path.is_file():
                    candidates.append((int(match.group(1)), path.resolve()))
    if not candidates:
        return None
    path = max(candidates)[1]  # the largest, as the Makefile (dev_bn128_16.ptau)
    check_ptau(path, min_power, str(path))
    _announce(path, f"using shared INSECURE development powers of tau {path}")
    return path


def _cached_ptau(min_power: int) -> Path | None:
    """The best cached file of power >= ``min_power``: a ceremony file, else the smallest dev one."""
    candidates: list[tuple[bool, int, Path]] = []
    with contextlib.suppress(OSError):
        for manifest_path in (cache_dir() / "ptau").glob(f"*/{MANIFEST}"):
            try:
                manifest = json.loads(manifest_path.read_text())
                power = int(manifest["power"])
                path = manifest_path.parent / str(manifest["file"])
                insecure = bool(manifest.get("insecure", True))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if power >= min_power and path.is_file():
                candidates.append((insecure, power, path))
    if not candidates:
        return None
    insecure, _, path = min(candidates)
    if insecure:
        _announce(path, f"using INSECURE development powers of tau {path} (DARKPOOL_PTAU not set)")
    return path


def _announce(path: Path, message: str) -> None:
    if path not in _announced:
        _announced.add(path)
        _warn(message)


def fetch_ceremony_ptau(power: int) -> Path:
    """Download ``powersOfTau28_hez_final_{power}.ptau`` into the cache, checked by blake2b-512.

    The address is ``DARKPOOL_PTAU_URL`` (a template with ``{power}``) or
    ``HERMEZ_PTAU_URL``; the hash is always the pinned ``HERMEZ_PTAU_BLAKE2B``,
    so the mirror need not be trusted. Nothing is kept unless the hash matches
    and the file is a prepared BN254 ptau of that power. Raises ``ToolchainError``.
    """
    expected = HERMEZ_PTAU_BLAKE2B.get(power)
    if expected is None:
        raise ToolchainError(f"no published hash for a ceremony ptau of power {power}")
    url = os.environ.get("DARKPOOL_PTAU_URL") or HERMEZ_PTAU_URL
    url = url.format(power=power)
    name = f"powersOfTau28_hez_final_{power:02d}.ptau"

    def build(tmp: Path) -> dict[str, object]:
        target = tmp / name
        digest = _download(url, target)
        if digest != expected:
            raise ToolchainError(
                f"{url}: blake2b-512 {digest[:16]}… does not match the published hash "
                f"{expected[:16]}… of {name}"
            )
        check_ptau(target, power, url)
        return {
            "insecure": False,
            "power": power,
            "file": name,
            "url": url,
            "blake2b_512": digest,
            "ceremony": "Hermez/Polygon perpetual powers of tau (snarkjs README)",
        }

    entry, _ = cached_build("ptau", f"hermez_bn128_{power}", build)
    return entry / name


def _download(url: str, target: Path) -> str:
    """Stream ``url`` to ``target`` with progress; returns the blake2b-512 hex of the bytes."""
    digest = hashlib.blake2b(digest_size=64)
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0)
            size_text = f"{total / 1e6:.1f} MB" if total else "size unknown"
            with progress(f"fetching {url} ({size_text})"), target.open("wb") as out:
                done = 0
                started = last = time.monotonic()
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    now = time.monotonic()
                    if total and now - last >= 5:
                        last = now
                        rate = done / max(now - started, 1e-6)
                        tools.report(f"{100 * done // total}%, ~{(total - done) / rate:.0f}s left")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ToolchainError(f"cannot fetch {url}: {reason}") from exc
    return digest.hexdigest()


def _dev_ptau(power: int) -> Path:
    name = f"insecure_knowntau_bn128_{power}"
    generated = False

    def build(tmp: Path) -> dict[str, object]:
        nonlocal generated
        generated = True
        _warn(
            f"no powers of tau found: generating INSECURE development powers of tau 2^{power} "
            "from a public tau (anyone can forge proofs; set DARKPOOL_PTAU to a ceremony file "
            "for real use)"
        )
        estimate = DEV_PTAU_SECONDS_PER_POINT * 2**power
        with progress(
            f"generating INSECURE development powers of tau 2^{power}", estimate_s=estimate
        ):
            tools._run(
                "generate development ptau",
                [
                    tools.node_executable(),
                    DEV_PTAU_SCRIPT,
                    str(power),
                    DEV_PTAU_BEACON,
                    tmp / f"{name}.ptau",
                ],
                cwd=tools.project_root(),
            )
        check_ptau(tmp / f"{name}.ptau", power, "generated development ptau")
        return {
            "insecure": True,
            "power": power,
            "seed": DEV_PTAU_BEACON,
            "generator": "prover/toolchain/js/dev_ptau.cjs (known tau, prepared directly)",
            "snarkjs": tool_versions()["snarkjs"],
            "file": f"{name}.ptau",
        }

    entry, _ = cached_build("ptau", name, build)
    path = entry / f"{name}.ptau"
    if generated:  # generating already printed the warning
        _announced.add(path)
    _announce(path, f"using INSECURE development powers of tau {path} (DARKPOOL_PTAU not set)")
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
