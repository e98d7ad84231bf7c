"""Fixtures for prover tests: a private cache and the built test circuit.

Prover tests use their own cache directory (never the project's
``.cache/darkpool``) so cache-hit and rebuild assertions see only what these
tests did, and other test areas keep their warm cache.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from prover import toolchain

CIRCUIT_DIR = Path(__file__).resolve().parent / "circuits"
MULTIPLIER = CIRCUIT_DIR / "multiplier.circom"
JS_DIR = Path(__file__).resolve().parent / "js"


@pytest.fixture(scope="session")
def prover_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("darkpool-cache")


@pytest.fixture(autouse=True)
def _use_prover_cache(prover_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARKPOOL_CACHE", str(prover_cache))


@pytest.fixture(scope="session")
def multiplier(prover_cache: Path) -> Iterator[toolchain.CircuitArtifacts]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DARKPOOL_CACHE", str(prover_cache))
        artifacts = toolchain.build("multiplier (test)", MULTIPLIER)
    yield artifacts
