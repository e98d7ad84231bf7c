"""Test-only: read, edit, re-sign and replay an exported ledger, as the cheating-ledger tests do.

Every cheating-ledger module builds ONE honest export (real proofs) and
derives each cheat from a copy of it (``copy_export``) the way a dishonest
operator holding its signing key would publish it: an entry edited
(``edit``), inserted (``insert_entry``) or dropped (``remove_entry``), the
chain re-linked and re-signed (``resign``). ``replay`` runs
``verifier.ledger.replay`` in this process; ``first`` is the failure it must
report; ``run_cli`` runs ``darkpool-verify`` in a fresh interpreter.
"""

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from py_ecc.optimized_bn128 import is_inf

from verifier import groth16, ledger
from verifier.eddsa import PrivateKey
from verifier.ledger import ReplayReport, entry_hash, entry_tag, sign_entry
from verifier.ledger.proofs import ProofItem
from verifier.source import DirectorySource
from verifier.verify_backend import current_backend

__all__ = [
    "OPERATOR_KEY",
    "ORACLE_KEY",
    "TAG",
    "copy_export",
    "edit",
    "entry_path",
    "first",
    "insert_entry",
    "no_proof_checks",
    "read",
    "remembered_g2_checks",
    "remembering_checker",
    "remove_entry",
    "replay",
    "resign",
    "run_cli",
    "structural_failure",
    "write",
]

#: The test operator's ledger-signing key (fixed, so tests can play a dishonest
#: operator that re-signs a rewritten ledger) and the test oracle's key.
OPERATOR_KEY = PrivateKey(b"\x05" * 32)
ORACLE_KEY = PrivateKey(b"\x01" * 32)
TAG = entry_tag("darkpool-dev")
Json = Any


class Exported(Protocol):
    """An honest ledger fixture: anything with the export's folder."""

    @property
    def export(self) -> Path: ...


def read(path: Path) -> Json:
    return json.loads(path.read_text())


def entry_path(export: Path, index: int) -> Path:
    return export / "entries" / f"{index:06d}.json"


def write(path: Path, obj: Json, *, sign: bool = True) -> None:
    """Write an export file; entries are re-chained and re-signed like a dishonest operator would."""
    path.write_text(json.dumps(obj))
    if sign and (path.name == "genesis.json" or path.parent.name == "entries"):
        export = path.parent if path.name == "genesis.json" else path.parent.parent
        resign(export)


def resign(export: Path) -> None:
    """Re-link prev_hash and re-sign every entry with the operator's key (which it holds).

    The cheating-ledger tests play an operator that rewrites its ledger and
    signs the result, so the verifier must find the lie in the content, not
    in a broken signature. Unreadable or missing entry files are skipped.
    """
    genesis = sign_entry(OPERATOR_KEY, TAG, read(export / "genesis.json"))
    (export / "genesis.json").write_text(json.dumps(genesis))
    last = entry_hash(genesis)
    for path in sorted((export / "entries").glob("*.json")):
        try:
            obj = read(path)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(obj, dict):
            continue
        obj = sign_entry(OPERATOR_KEY, TAG, {**obj, "prev_hash": last})
        path.write_text(json.dumps(obj))
        last = entry_hash(obj)


def copy_export(honest: Exported, tmp_path: Path) -> Path:
    """A copy of the honest export under ``tmp_path``, to tamper with."""
    target = tmp_path / "export"
    shutil.copytree(honest.export, target)
    return target


def edit(export: Path, index: int, change: Callable[[Json], None]) -> None:
    """Apply ``change`` to entry ``index`` (0 = genesis), then re-link and re-sign."""
    path = export / "genesis.json" if index == 0 else entry_path(export, index)
    obj = read(path)
    change(obj)
    write(path, obj)


def insert_entry(export: Path, at: int, obj: Json) -> None:
    """Insert ``obj`` as entry ``at``, renumber the later ones and re-link + re-sign the chain."""
    manifest = read(export / "ledger.json")
    n = manifest["entries"]
    for i in range(n - 1, at - 1, -1):
        moved = read(entry_path(export, i))
        moved["index"] = i + 1
        entry_path(export, i + 1).write_text(json.dumps(moved))
    entry_path(export, at).write_text(json.dumps({**obj, "index": at}))
    manifest["entries"] = n + 1
    (export / "ledger.json").write_text(json.dumps(manifest))
    resign(export)


def remove_entry(export: Path, removed: int) -> None:
    """Drop one entry, renumber the later ones and re-link + re-sign the chain."""
    manifest = read(export / "ledger.json")
    n = manifest["entries"]
    entry_path(export, removed).unlink()
    for i in range(removed + 1, n):
        obj = read(entry_path(export, i))
        obj["index"] = i - 1
        entry_path(export, i).unlink()
        entry_path(export, i - 1).write_text(json.dumps(obj))
    manifest["entries"] = n - 1
    (export / "ledger.json").write_text(json.dumps(manifest))
    resign(export)


# Proofs this process already checked VALID, by (backend, key hash, proof, public inputs).
# Every tamper test replays the honest proofs again and their answer cannot
# change; a changed proof, key or public input is a new item, checked for real.
_VERIFIED: set[tuple[str, str, str, tuple[int, ...]]] = set()


def remembering_checker(
    vk: Any, vk_json: object, items: Sequence[ProofItem], progress: Callable[[int], None]
) -> list[int]:
    """``ledger.check_proofs(1)`` on the items not already verified in this process."""
    key = (current_backend(), groth16.vkey_hash(vk_json))
    ids = [(*key, repr(proof), tuple(inputs)) for proof, inputs in items]
    todo = [i for i, item_id in enumerate(ids) if item_id not in _VERIFIED]
    checked = ledger.check_proofs(1)(vk, vk_json, [items[i] for i in todo], lambda _: None)
    bad = [todo[j] for j in checked]
    _VERIFIED.update(ids[i] for i in todo if i not in bad)
    progress(len(items))
    return bad


def no_proof_checks(vk: Any, vk_json: Any, items: Any, progress: Any) -> list[int]:
    """A ProofChecker that accepts every proof: for cheats caught before any proof matters.

    Every proof of an honest export is a real one, verified by that module's
    honest-ledger test; re-verifying them per structural cheat would only cost CI time.
    """
    return []


# G2 points (key and proof B points) this process already found on the twist and in
# the prime-order subgroup. The py_ecc check ([r]P == O) costs about half a second a
# point, and a replay checks 3 per key and one per proof: every tamper test would
# pay it again for the same honest points. The check is a pure function of the
# point, so a point seen valid stays valid; a new or changed point is checked for real.
_IN_G2: set[tuple[tuple[int, int], tuple[int, int]]] = set()


@contextmanager
def remembered_g2_checks() -> Iterator[None]:
    """Within the block, ``groth16._check_g2`` skips the points it already accepted here."""
    check = groth16._check_g2

    def remembered(point: Any, what: str) -> None:
        if is_inf(point):
            check(point, what)  # raises
            return
        key = groth16._g2_ints(point)
        if key not in _IN_G2:
            check(point, what)
            _IN_G2.add(key)

    groth16._check_g2 = remembered  # type: ignore[assignment]
    try:
        yield
    finally:
        groth16._check_g2 = check  # type: ignore[assignment]


def replay(export: Path, **kwargs: Any) -> ReplayReport:
    """Replay an export in this process (``remembering_checker`` unless a checker is given).

    Curve-point checks of keys and proofs skip the points already accepted in
    this process (``remembered_g2_checks``); everything else runs as in
    ``darkpool-verify``.
    """
    kwargs.setdefault("checker", remembering_checker)
    src = DirectorySource(export)
    with remembered_g2_checks():
        return ledger.replay(
            manifest=src.manifest(),
            genesis=src.genesis(),
            entries=src.entry,
            vkeys=src.vkeys(),
            **kwargs,
        )


def first(report: ReplayReport) -> ledger.LedgerFailure:
    """The first failure of a replay that must fail."""
    assert not report.ok, "the tampered ledger was accepted"
    failure = report.first_failure
    assert failure is not None
    return failure


def structural_failure(export: Path) -> ledger.LedgerFailure:
    """The first failure of a replay that checks no proof (``no_proof_checks``)."""
    return first(replay(export, checker=no_proof_checks))


def run_cli(*args: str) -> tuple[int, str, str]:
    """darkpool-verify in a fresh interpreter (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "verifier.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr
