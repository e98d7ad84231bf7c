"""A whole ledger replay gives the same report under the python and native backends.

The honest export of tests/verifier/test_ledger.py (same builder, real
proofs) is replayed with ``darkpool-verify --backend python|native --json``
in fresh interpreters: both must accept it. Then a cheating copy, in which
the two account openings carry each other's proofs and the first proof of
every other proven entry has pi_a and pi_c swapped, must fail under both
with the same failures (entry and reason) in the same order.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.verifier.ledger_files import copy_export, entry_path, read, run_cli, write
from tests.verifier.test_ledger import OPEN_ALICE, OPEN_BOB, HonestLedger, honest

pytest.importorskip(
    "mclbn256", reason="native backend extra not installed (uv sync --extra native)"
)
pytestmark = pytest.mark.slow

__all__ = ["honest"]  # the module-scoped honest-ledger fixture, reused

Json = Any


def report(export: Path, backend: str) -> tuple[int, Json]:
    rc, out, err = run_cli(str(export), "--json", "--quiet", "--backend", backend)
    assert rc in (0, 1), err
    obj = json.loads(out)
    obj.pop("seconds", None)
    return rc, obj


def _first_proof(obj: Json) -> Json:
    """The first snarkjs proof object inside an entry, depth first, or None."""
    if isinstance(obj, dict):
        if "pi_a" in obj and "pi_c" in obj:
            return obj
        children = list(obj.values())
    elif isinstance(obj, list):
        children = obj
    else:
        return None
    for child in children:
        found = _first_proof(child)
        if found is not None:
            return found
    return None


def _swap_a_and_c(proof: Json) -> None:
    proof["pi_a"], proof["pi_c"] = proof["pi_c"], proof["pi_a"]


def test_native_and_python_replays_agree(honest: HonestLedger, tmp_path: Path) -> None:
    for backend in ("python", "native"):
        rc, obj = report(honest.export, backend)
        assert rc == 0, obj
    assert report(honest.export, "python") == report(honest.export, "native")

    export = copy_export(honest, tmp_path)
    alice, bob = read(entry_path(export, OPEN_ALICE)), read(entry_path(export, OPEN_BOB))
    alice["proof"], bob["proof"] = bob["proof"], alice["proof"]
    write(entry_path(export, OPEN_ALICE), alice)
    write(entry_path(export, OPEN_BOB), bob)
    tampered = [OPEN_ALICE, OPEN_BOB]
    for path in sorted((export / "entries").glob("*.json")):
        entry = read(path)
        index = int(path.stem)
        if index in (OPEN_ALICE, OPEN_BOB):
            continue
        proven = _first_proof(entry)
        if proven is not None:
            _swap_a_and_c(proven)
            write(path, entry)
            tampered.append(index)
    assert len(tampered) >= 4  # opens, the batch, the withdrawal, the solvency report

    rc_py, python = report(export, "python")
    rc_nat, native = report(export, "native")
    assert rc_py == rc_nat == 1
    assert native == python
    failed = {f["entry"] for f in python["failures"]}
    assert set(tampered) <= failed
