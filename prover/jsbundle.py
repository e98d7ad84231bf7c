"""Browser bundles built from the pinned npm packages (esbuild), cached by content.

The explorer's self-check page needs Poseidon and EdDSA-Poseidon in the
trader's browser. Rather than commit a generated multi-megabyte vendor file,
``crypto_bundle`` builds it once from circomlibjs (the implementation the
project's golden vectors compare ``verifier/`` against) with esbuild, both
pinned in ``package.json`` / ``package-lock.json``, into
``<cache>/static/<name>-<key>.js``. The key hashes the entry sources and the
lockfile, so an upgrade rebuilds and a second call is a file lookup.

This module runs node (esbuild's JS API) by subprocess, like the rest of
``prover``; it never reaches the network (``npm ci`` already installed
everything).
"""

import fcntl
import hashlib
import os
import subprocess
from pathlib import Path

from prover import toolchain
from prover.errors import ToolchainError

__all__ = ["crypto_bundle", "crypto_bundle_sources"]

_ESBUILD_SCRIPT = """
const [entry, out, alias, inject] = process.argv.slice(1);
require("esbuild").build({
  entryPoints: [entry], outfile: out, bundle: true, format: "iife", platform: "browser",
  target: ["es2020"], minify: true, legalComments: "none", logLevel: "error",
  alias: { assert: alias }, inject: [inject], define: { global: "globalThis" },
}).catch(() => process.exit(1));
"""


def crypto_bundle_sources() -> list[Path]:
    """The hand-written entry files of the bundle (in ``exchange/api/explorer/bundle``)."""
    root = toolchain.project_root() / "exchange" / "api" / "explorer" / "bundle"
    return [root / "crypto_entry.mjs", root / "assert_shim.js", root / "node_globals.js"]


def _key(sources: list[Path]) -> str:
    h = hashlib.sha256()
    lock = toolchain.project_root() / "package-lock.json"
    for path in [*sources, lock]:
        try:
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError as exc:
            raise ToolchainError(f"cannot read {path}: {exc.strerror}") from None
    return h.hexdigest()[:20]


def crypto_bundle() -> Path:
    """``window.darkpoolCrypto`` (Poseidon, EdDSA-Poseidon) as one browser script; built if missing.

    Raises ToolchainError (one line) if node or the npm packages are missing or
    esbuild fails.
    """
    sources = crypto_bundle_sources()
    entry, shim, inject = sources
    static = toolchain.cache_dir() / "static"
    static.mkdir(parents=True, exist_ok=True)
    final = static / f"darkpool-crypto-{_key(sources)}.js"
    if final.is_file():
        return final
    fd = os.open(static / ".bundle.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if final.is_file():
            return final
        if not (toolchain.project_root() / "node_modules" / "esbuild").is_dir():
            raise ToolchainError(
                f"esbuild is not installed: run `npm ci` in {toolchain.project_root()}"
            )
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        proc = subprocess.run(
            [
                toolchain.node_executable(),
                "-e",
                _ESBUILD_SCRIPT,
                str(entry),
                str(tmp),
                str(shim),
                str(inject),
            ],
            cwd=toolchain.project_root(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
        )
        if proc.returncode != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
            raise ToolchainError(f"esbuild failed: {lines[0][:300] if lines else 'no output'}")
        os.replace(tmp, final)
        return final
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
