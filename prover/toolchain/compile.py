"""circom compile through the cache; the cache key of a source tree (contents, not paths)."""

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.errors import ToolchainError
from prover.r1cs import R1CSHeader, read_r1cs_header
from prover.toolchain import tools
from prover.toolchain.cache import (
    _canonical_json,
    _safe_name,
    _sha256_bytes,
    cache_dir,
    cached_build,
    file_sha256,
    keyed_name,
)
from prover.toolchain.tools import (
    _node_tool,
    node_executable,
    progress,
    project_root,
    tool_versions,
)

COMPILE_FLAGS = ("--O2", "--r1cs", "--wasm", "--sym")

_INCLUDE_RE = re.compile(r'\binclude\s+"([^"]+)"\s*;')
_BLOCK_COMMENT_RE = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT_RE = re.compile(r"//[^\n]*")


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
    output = tools._run(
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


def _compile_cached(
    name: str, source: Path, include_dirs: Sequence[Path], src_key: str
) -> tuple[Path, dict[str, Any]]:
    def build(tmp: Path) -> dict[str, object]:
        with progress(f"compiling {name}"):
            compiled = compile_circuit(source, include_dirs=include_dirs, out_dir=tmp)
        header = compiled.header
        return {
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
        }

    return cached_build("compile", keyed_name(name, src_key), build)


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
