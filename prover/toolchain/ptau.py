"""Powers of tau: the phase-2-prepared BN254 file every Groth16 setup starts from.

``DARKPOOL_PTAU`` names a prepared file (checked, never replaced); without it,
an INSECURE development file is generated once into the cache: ``powersoftau
new`` + ``powersoftau beacon`` with a fixed, published beacon + ``prepare
phase2``. A beacon rather than ``contribute -e=...``: snarkjs mixes OS
randomness into ``contribute`` even with fixed entropy, so only the beacon
gives a byte-identical file (and thus a stable cache key) on every machine.
Anyone can recompute its toxic waste.
"""

import contextlib
import json
import os
from pathlib import Path

from prover.errors import ArtifactFormatError, ToolchainError
from prover.r1cs import read_ptau_header
from prover.toolchain import tools
from prover.toolchain.cache import (
    MANIFEST,
    _cache_entry,
    _write_json_atomic,
    cache_dir,
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
            tools._snarkjs(
                "powersoftau new", "powersoftau", "new", "bn128", str(power), tmp / "p0.ptau"
            )
            tools._snarkjs(
                "powersoftau beacon",
                "powersoftau",
                "beacon",
                tmp / "p0.ptau",
                tmp / "p1.ptau",
                DEV_PTAU_BEACON,
                "10",
                f"-n={DEV_PTAU_BEACON_NAME}",
            )
            tools._snarkjs(
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
