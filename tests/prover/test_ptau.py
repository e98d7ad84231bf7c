"""Finding the powers of tau without ``DARKPOOL_PTAU``: shared folder, cache, fetch, generation.

The ceremony fetch is tested against a local HTTP server serving a small
prepared ptau whose blake2b-512 is pinned for the test: the tests never
download real files.
"""

import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from prover import toolchain
from prover.errors import ToolchainError
from prover.r1cs import read_ptau_header

POWER = 4


@pytest.fixture(scope="session")
def small_ptau(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared BN254 ptau of power 4 (a few seconds with snarkjs)."""
    d = tmp_path_factory.mktemp("small-ptau")
    run = toolchain.tools._snarkjs
    run("powersoftau new", "powersoftau", "new", "bn128", str(POWER), d / "p0.ptau")
    run(
        "powersoftau beacon", "powersoftau", "beacon", d / "p0.ptau", d / "p1.ptau", "0a" * 32, "10"
    )
    run("prepare phase2", "powersoftau", "prepare", "phase2", d / "p1.ptau", d / "final.ptau")
    return d / "final.ptau"


class Server:
    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def do_GET(self) -> None:
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def mirror(small_ptau: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A local mirror of the "ceremony" file, no DARKPOOL_PTAU, no shared folder, empty cache."""
    root = tmp_path / "mirror"
    root.mkdir()
    shutil.copy(small_ptau, root / f"powersOfTau28_hez_final_{POWER:02d}.ptau")
    server = Server(root)
    monkeypatch.setenv("DARKPOOL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DARKPOOL_PTAU", raising=False)
    monkeypatch.setenv("DARKPOOL_PTAU_FETCH", "1")
    monkeypatch.setenv(
        "DARKPOOL_PTAU_URL", server.url + "/powersOfTau28_hez_final_{power:02d}.ptau"
    )
    monkeypatch.setattr(toolchain.ptau, "shared_ptau_dirs", lambda: [])
    published = hashlib.blake2b(small_ptau.read_bytes(), digest_size=64).hexdigest()
    monkeypatch.setattr(toolchain.ptau, "HERMEZ_PTAU_BLAKE2B", {POWER: published})
    yield server
    server.httpd.shutdown()


def refuse_generation(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    generated: list[int] = []

    def fake(power: int) -> Path:
        generated.append(power)
        raise ToolchainError(f"test: would generate a development ptau of power {power}")

    monkeypatch.setattr(toolchain.ptau, "_dev_ptau", fake)
    return generated


def test_fetch_checks_the_published_hash_then_caches(
    mirror: Server, small_ptau: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = refuse_generation(monkeypatch)
    path = toolchain.resolve_ptau(3)
    assert path.read_bytes() == small_ptau.read_bytes()
    assert read_ptau_header(path).power == POWER
    assert mirror.requests == [f"/powersOfTau28_hez_final_{POWER:02d}.ptau"]
    # Cached: found again without a request, and preferred over any dev file.
    assert toolchain.resolve_ptau(POWER) == path
    assert len(mirror.requests) == 1 and generated == []
    # Too small for a larger circuit: not used for it.
    with pytest.raises(ToolchainError, match="would generate"):
        toolchain.resolve_ptau(POWER + 1)


def test_fetched_file_with_another_hash_is_refused(
    mirror: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(toolchain.ptau, "HERMEZ_PTAU_BLAKE2B", {POWER: "ab" * 64})
    with pytest.raises(ToolchainError, match=r"does not match the published hash") as err:
        toolchain.fetch_ceremony_ptau(POWER)
    assert "\n" not in str(err.value)
    assert not list((toolchain.cache_dir() / "ptau").glob("*/*.ptau"))  # nothing kept
    # resolve_ptau says so and falls back to the (offline) development file.
    generated = refuse_generation(monkeypatch)
    with pytest.raises(ToolchainError, match="would generate"):
        toolchain.resolve_ptau(3)
    assert generated == [toolchain.DEV_PTAU_MIN_POWER]
    assert "does not match the published hash" in capsys.readouterr().err


def test_offline_and_unreachable_fall_back_to_generation(
    mirror: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    generated = refuse_generation(monkeypatch)
    monkeypatch.setenv("DARKPOOL_PTAU_FETCH", "0")
    with pytest.raises(ToolchainError, match="would generate"):
        toolchain.resolve_ptau(3)
    assert mirror.requests == []  # offline: not even tried
    monkeypatch.setenv("DARKPOOL_PTAU_FETCH", "1")
    monkeypatch.setenv("DARKPOOL_PTAU_URL", mirror.url + "/missing_{power}.ptau")
    with pytest.raises(ToolchainError, match="would generate"):
        toolchain.resolve_ptau(3)
    assert "cannot fetch" in capsys.readouterr().err
    assert generated == [toolchain.DEV_PTAU_MIN_POWER] * 2


def test_shared_folder_is_found_like_the_makefile_does(
    small_ptau: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DARKPOOL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DARKPOOL_PTAU", raising=False)
    shared = tmp_path / "shared" / "ptau"
    shared.mkdir(parents=True)
    shutil.copy(small_ptau, shared / f"dev_bn128_{POWER}.ptau")
    shutil.copy(small_ptau, shared / f"dev_bn128_{POWER - 1}.ptau")  # fits too, but smaller
    (shared / "README.md").write_text("not a ptau")
    monkeypatch.setattr(toolchain.ptau, "shared_ptau_dirs", lambda: [shared])
    generated = refuse_generation(monkeypatch)
    assert toolchain.resolve_ptau(POWER) == (shared / f"dev_bn128_{POWER}.ptau").resolve()
    monkeypatch.setenv("DARKPOOL_PTAU_FETCH", "0")
    with pytest.raises(ToolchainError, match="would generate"):
        toolchain.resolve_ptau(POWER + 1)  # too small: not used
    assert generated == [toolchain.DEV_PTAU_MIN_POWER]


def test_default_shared_dir_is_next_to_the_project_root() -> None:
    root = toolchain.project_root()
    assert toolchain.ptau.shared_ptau_dirs() == [root.parent / "shared" / "ptau"]
    makefile = (root / "Makefile").read_text()
    assert "../shared/ptau/dev_bn128_16.ptau" in makefile


@pytest.mark.slow
def test_known_tau_dev_ptau_equals_snarkjs_prepare_phase2(tmp_path: Path) -> None:
    """dev_ptau.cjs writes the prepared sections directly; snarkjs' `prepare phase2` run on
    its tau powers must reproduce the file byte for byte (same tau, same Lagrange points)."""
    ours = tmp_path / "ours.ptau"
    tools = toolchain.tools
    tools._run(
        "dev ptau",
        [tools.node_executable(), toolchain.ptau.DEV_PTAU_SCRIPT, str(POWER), "0b" * 32, ours],
    )
    theirs = tmp_path / "theirs.ptau"
    tools._snarkjs("prepare phase2", "powersoftau", "prepare", "phase2", ours, theirs)
    assert ours.read_bytes() == theirs.read_bytes()
    header = read_ptau_header(ours)
    assert (header.power, header.phase2_ready) == (POWER, True)
    # Deterministic in the seed, different for another seed.
    again, other = tmp_path / "again.ptau", tmp_path / "other.ptau"
    for seed, out in (("0b" * 32, again), ("0c" * 32, other)):
        tools._run(
            "dev ptau", [tools.node_executable(), toolchain.ptau.DEV_PTAU_SCRIPT, "4", seed, out]
        )
    assert again.read_bytes() == ours.read_bytes() != other.read_bytes()
