"""A whole ledger replay gives the same report under the python and native backends.

The session's honest slots export (``slots_ledger``,
tests/exchange/slots_ledger.py: real proofs) is replayed with ``darkpool-verify --backend python|native --json``
in fresh interpreters: both must accept it. Then a cheating copy, in which
alice's and bob's account openings carry each other's proofs and the first proof of
every other proven entry has pi_a and pi_c swapped, must fail under both
with the same failures (entry and reason) in the same order.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.slots_ledger import SlotsLedger
from tests.verifier.ledger_files import copy_export, entry_path, read, run_cli, write

pytest.importorskip(
    "mclbn256", reason="native backend extra not installed (uv sync --extra native)"
)
pytestmark = pytest.mark.slow

Json = Any
OPEN_ALICE, OPEN_BOB = 2, 3  # entry 1 opens the insurance fund (account 0)


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


def test_native_and_python_replays_agree(slots_ledger: SlotsLedger, tmp_path: Path) -> None:
    for backend in ("python", "native"):
        rc, obj = report(slots_ledger.export, backend)
        assert rc == 0, obj
    assert report(slots_ledger.export, "python") == report(slots_ledger.export, "native")
    alice, bob = (read(entry_path(slots_ledger.export, i)) for i in (OPEN_ALICE, OPEN_BOB))
    assert (alice["op"], alice["account"], bob["op"], bob["account"]) == ("open", 1, "open", 2)

    export = copy_export(slots_ledger, tmp_path)
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
    assert len(tampered) >= 6  # 4 opens, the deposit, the batch, the withdrawal, solvency

    rc_py, python = report(export, "python")
    rc_nat, native = report(export, "native")
    assert rc_py == rc_nat == 1
    assert native == python
    failed = {f["entry"] for f in python["failures"]}
    assert set(tampered) <= failed
