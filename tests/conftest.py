"""Session-wide test setup.

Points ``DARKPOOL_PTAU`` at the shared, already prepared development powers of
tau (``<project root>/../shared/ptau/dev_bn128_16.ptau``) when the caller has
not set it and the file exists, so circuit tests skip the slow ptau
preparation. Without that folder the toolchain generates its own (insecure,
clearly labelled) file, and the tests still run. Tests never fetch a ceremony
ptau from the network (``DARKPOOL_PTAU_FETCH=0``); the fetch is tested against
a local HTTP server.

The session proves with ``groth16py`` (``DARKPOOL_PROVER``, inherited by the
servers the tests start) when its optional extra is installed and the caller
chose no prover: about 4x less CPU per proof than snarkjs, same zkeys, and
every proof still checked by the verifier. snarkjs, the default and the
reference, keeps its own tests: every prove + verify in ``tests/circuits``
(the toolchain directly), ``tests/prover/test_backends.py`` (both under one
key), and the tests that need a proof to last (``REFERENCE_PROVER``: the
kill-while-proving crash test, Ctrl-C during a proof, the demo as users run it).
"""

import importlib.util
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# The one honest real-proof slots ledger (tests/exchange/slots_ledger.py), a session
# fixture here so every folder's modules share one build.
from tests.exchange.slots_ledger import slots_ledger  # noqa: F401

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DEV_PTAU = PROJECT_ROOT.parent / "shared" / "ptau" / "dev_bn128_16.ptau"
PROVER_ENV = "DARKPOOL_PROVER"  # prover.backends.PROVER_ENV
#: The product's default prover, for the tests that must run it (see the docstring).
REFERENCE_PROVER = {PROVER_ENV: "snarkjs"}


@pytest.fixture(scope="session", autouse=True)
def shared_dev_ptau() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DARKPOOL_PTAU_FETCH", "0")
        if not os.environ.get("DARKPOOL_PTAU") and SHARED_DEV_PTAU.is_file():
            patch.setenv("DARKPOOL_PTAU", str(SHARED_DEV_PTAU))
        if not os.environ.get(PROVER_ENV) and importlib.util.find_spec("groth16py"):
            patch.setenv(PROVER_ENV, "groth16py")
        yield


# ---------------------------------------------------------------- databases
#
# The store, API, bad-input, crash and demo tests run on SQLite and on
# PostgreSQL. PostgreSQL is found through DARKPOOL_TEST_POSTGRES_URL (a
# SQLAlchemy URL whose role may CREATE DATABASE; CI sets it with
# scripts/ci-postgres.sh); every test gets a fresh database, dropped after.
# Without the variable the PostgreSQL cases are skipped, saying so; in CI
# (CI=true) a missing PostgreSQL is a failure, not a skip.

POSTGRES_ENV = "DARKPOOL_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def fresh_database(backend: str, data_dir: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database on ``backend`` (dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{(data_dir / 'darkpool.sqlite3').resolve()}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        reason = f"PostgreSQL case skipped: {POSTGRES_ENV} is not set (scripts/ci-postgres.sh)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI needs PostgreSQL: {POSTGRES_ENV} is not set")
        pytest.skip(reason)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"darkpool_t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise
        admin.dispose()
        pytest.skip(f"PostgreSQL case skipped: {POSTGRES_ENV} unreachable ({type(exc).__name__})")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database per test, once on SQLite and once on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url
