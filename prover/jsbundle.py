"""Browser bundles built from the pinned npm packages (esbuild), cached by content.

The explorer's self-check page needs Poseidon and EdDSA-Poseidon in the
trader's browser. Rather than commit a generated multi-megabyte vendor file,
``bundle`` builds one from a small hand-written entry file and the npm
packages it imports (circomlibjs: the implementation the project's golden
vectors compare ``verifier/`` against) with esbuild, both pinned in
``package.json`` / ``package-lock.json``, into ``<cache>/static/<name>-<key>.js``.
The key hashes the entry files and the lockfile, so an upgrade rebuilds and a
second call is a file lookup.

This module runs node (esbuild's JS API) by subprocess, like the rest of
``prover``; it never reaches the network (``npm ci`` already installed
everything).
"""

import fcntl
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from prover import toolchain
from prover.errors import ToolchainError

__all__ = ["bundle"]

_ESBUILD_SCRIPT = """
const [entry, out, config] = process.argv.slice(1);
const { alias, inject } = JSON.parse(config);
require("esbuild").build({
  entryPoints: [entry], outfile: out, bundle: true, format: "iife", platform: "browser",
  target: ["es2020"], minify: true, legalComments: "none", logLevel: "error",
  alias, inject, define: { global: "globalThis" },
}).catch(() => process.exit(1));
"""


def _key(files: list[Path]) -> str:
    h = hashlib.sha256()
    lock = toolchain.project_root() / "package-lock.json"
    for path in [*files, lock]:
        try:
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError as exc:
            raise ToolchainError(f"cannot read {path}: {exc.strerror}") from None
    return h.hexdigest()[:20]


def bundle(
    name: str,
    entry: Path,
    *,
    alias: Mapping[str, Path] | None = None,
    inject: Sequence[Path] = (),
) -> Path:
    """``<cache>/static/<name>-<key>.js``: ``entry`` and its npm imports as one browser script.

    ``alias`` maps a module name (a Node built-in the browser lacks) to a
    stand-in file; ``inject`` files provide globals (``Buffer``, ``process``).
    The key hashes these files and ``package-lock.json``; a cached file is
    returned as is. Raises ToolchainError (one line) if node or esbuild is
    missing or the build fails.
    """
    alias = dict(alias or {})
    files = [entry, *alias.values(), *inject]
    static = toolchain.cache_dir() / "static"
    static.mkdir(parents=True, exist_ok=True)
    final = static / f"{name}-{_key(files)}.js"
    if final.is_file():
        return final
    fd = os.open(static / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if final.is_file():
            return final
        if not (toolchain.project_root() / "node_modules" / "esbuild").is_dir():
            raise ToolchainError(
                f"esbuild is not installed: run `npm ci` in {toolchain.project_root()}"
            )
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        config = json.dumps(
            {"alias": {k: str(v) for k, v in alias.items()}, "inject": [str(p) for p in inject]}
        )
        proc = subprocess.run(
            [toolchain.node_executable(), "-e", _ESBUILD_SCRIPT, str(entry), str(tmp), config],
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
