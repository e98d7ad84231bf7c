"""Session-wide test setup.

Points ``DARKPOOL_PTAU`` at the shared, already prepared development powers of
tau (``<project root>/../shared/ptau/dev_bn128_16.ptau``) when the caller has
not set it and the file exists, so circuit tests skip the slow ptau
preparation. Without that folder the toolchain generates its own (insecure,
clearly labelled) file, and the tests still run.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DEV_PTAU = PROJECT_ROOT.parent / "shared" / "ptau" / "dev_bn128_16.ptau"


@pytest.fixture(scope="session", autouse=True)
def shared_dev_ptau() -> Iterator[None]:
    if os.environ.get("DARKPOOL_PTAU") or not SHARED_DEV_PTAU.is_file():
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DARKPOOL_PTAU", str(SHARED_DEV_PTAU))
        yield
