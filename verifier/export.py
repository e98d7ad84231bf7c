"""The operator's public ledger: entry types and the export directory of docs/ledger.md.

Entries are immutable once appended; each names the roots before and after it
so the chain of roots is continuous (``Ledger.append`` refuses a break). The
export is what ``darkpool-verify DIR`` replays offline. This module holds only
public data: never an order's plaintext, a blinding, a balance of a hidden
account or a private key. File I/O happens only in ``export``.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.groth16 import vkey_hash
from verifier.ledger import ENTRY_KINDS, LEDGER_FORMAT
from verifier.ledger import Roots as Roots  # re-exported: one Roots type for operator and verifier


class LedgerError(ValueError):
    """An entry would break the chain of roots, or the export cannot be written."""


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry; ``body`` holds the kind-specific JSON fields (already serialisable)."""

    index: int
    kind: str
    roots_before: Roots
    roots_after: Roots
    body: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "kind": self.kind}
        out.update(self.body)
        out["roots_before"] = self.roots_before.to_dict()
        out["roots_after"] = self.roots_after.to_dict()
        return out


class Ledger:
    """Append-only list of entries, genesis first."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def roots(self) -> Roots:
        if not self._entries:
            raise LedgerError("the ledger has no genesis entry yet")
        return self._entries[-1].roots_after

    def append(
        self, kind: str, roots_before: Roots, roots_after: Roots, body: Mapping[str, Any]
    ) -> LedgerEntry:
        if kind not in ENTRY_KINDS:
            raise LedgerError(f"unknown entry kind {kind!r}")
        if (kind == "genesis") != (not self._entries):
            raise LedgerError("genesis must be the first entry and only the first")
        if self._entries and roots_before != self.roots:
            raise LedgerError(f"{kind} entry does not start from the latest roots")
        # Round-trip through JSON now so an unserialisable body fails at append, not at export.
        frozen = json.loads(json.dumps(dict(body)))
        entry = LedgerEntry(len(self._entries), kind, roots_before, roots_after, frozen)
        self._entries.append(entry)
        return entry

    def export(self, directory: Path | str, vkeys: Mapping[str, Mapping[str, Any]]) -> Path:
        """Write the export of docs/ledger.md into ``directory`` (replacing a previous export).

        Written to a sibling temporary directory first and moved into place,
        so a reader never sees half an export.
        """
        if not self._entries:
            raise LedgerError("nothing to export: no genesis entry")
        target = Path(directory).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            (tmp / "entries").mkdir()
            (tmp / "vkeys").mkdir()
            _write_json(tmp / "ledger.json", {"format": LEDGER_FORMAT, "entries": len(self)})
            _write_json(tmp / "genesis.json", self._entries[0].to_dict())
            for entry in self._entries[1:]:
                _write_json(tmp / "entries" / f"{entry.index:06d}.json", entry.to_dict())
            for statement, vkey in vkeys.items():
                _write_json(tmp / "vkeys" / f"{statement}.json", dict(vkey))
            if target.exists():
                if not (target / "ledger.json").is_file() and any(target.iterdir()):
                    raise LedgerError(f"{target} exists and is not a ledger export")
                shutil.rmtree(target)
            os.replace(tmp, target)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise LedgerError(f"cannot write export to {target}: {exc.strerror}") from None
        except LedgerError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def vkey_hashes(vkeys: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Genesis pins each statement's verification key by ``verifier.groth16.vkey_hash``."""
    return {name: vkey_hash(dict(vk)) for name, vk in sorted(vkeys.items())}


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
