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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.eddsa import PrivateKey
from verifier.groth16 import vkey_hash
from verifier.ledger import (
    ENTRY_KINDS,
    LEDGER_FORMAT,
    Entry,
    EntryError,
    Genesis,
    entry_hash,
    entry_tag,
    parse_entry,
    sign_entry,
)
from verifier.ledger import Roots as Roots  # re-exported: one Roots type for operator and verifier


class LedgerError(ValueError):
    """An entry would break the chain of roots, or the export cannot be written."""


_HEADER = ("index", "kind", "prev_hash", "time", "roots_before", "roots_after", "signature")


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry.

    ``body`` holds the kind-specific fields; for an appended entry ``raw`` is
    its signed JSON exactly as exported and hashed and ``typed`` the
    ``verifier.ledger`` model it parsed into (so nothing the verifier would
    refuse to parse is ever appended).
    """

    index: int
    kind: str
    roots_before: Roots
    roots_after: Roots
    body: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] | None = None
    typed: Genesis | Entry | None = None

    @property
    def time(self) -> int:
        return int(self.raw.get("time", 0)) if self.raw is not None else 0

    def to_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return json.loads(json.dumps(self.raw))  # type: ignore[no-any-return]
        out: dict[str, Any] = {"index": self.index, "kind": self.kind}
        out.update(self.body)
        out["roots_before"] = self.roots_before.to_dict()
        out["roots_after"] = self.roots_after.to_dict()
        return out


class Ledger:
    """Append-only, hash-chained list of entries signed by the operator, genesis first.

    ``key`` is the operator's EdDSA-Poseidon signing key (its public key goes
    in genesis as ``operator_pubkey``); ``exchange_id`` fixes the signature's
    domain tag (``verifier.ledger.entry_tag``).
    """

    def __init__(self, key: PrivateKey, exchange_id: str) -> None:
        self._entries: list[LedgerEntry] = []
        self._key = key
        self._tag = entry_tag(exchange_id)
        self._last_hash = ""

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

    @property
    def last_time(self) -> int:
        return self._entries[-1].time if self._entries else 0

    @property
    def genesis(self) -> Genesis:
        typed = self._entries[0].typed if self._entries else None
        if not isinstance(typed, Genesis):
            raise LedgerError("the ledger has no genesis entry yet")
        return typed

    def append(
        self,
        kind: str,
        roots_before: Roots,
        roots_after: Roots,
        body: Mapping[str, Any],
        *,
        time: int = 0,
    ) -> LedgerEntry:
        """Build, sign and append an entry; ``time`` is the operator's clock (unix s).

        The entry time is ``max(time, previous entry's time)`` so times never
        decrease. Raises LedgerError if the entry would not parse as its kind.
        """
        if kind not in ENTRY_KINDS:
            raise LedgerError(f"unknown entry kind {kind!r}")
        if (kind == "genesis") != (not self._entries):
            raise LedgerError("genesis must be the first entry and only the first")
        if self._entries and roots_before != self.roots:
            raise LedgerError(f"{kind} entry does not start from the latest roots")
        index = len(self._entries)
        raw: dict[str, Any] = {"index": index, "kind": kind}
        if kind != "genesis":
            raw["prev_hash"] = self._last_hash
            raw["time"] = max(time, self.last_time)
        # Round-trip through JSON now so an unserialisable body fails at append, not at export.
        raw.update(json.loads(json.dumps(dict(body))))
        raw["roots_before"] = roots_before.to_dict()
        raw["roots_after"] = roots_after.to_dict()
        return self._add(sign_entry(self._key, self._tag, raw))

    def restore(self, raw: Mapping[str, Any]) -> LedgerEntry:
        """Append an entry read back from storage, checking its chain link and signature."""
        index = len(self._entries)
        if raw.get("index") != index:
            raise LedgerError(f"stored entry {index} has index {raw.get('index')!r}")
        if index > 0 and raw.get("prev_hash") != self._last_hash:
            raise LedgerError(f"stored entry {index} does not chain to entry {index - 1}")
        check = dict(raw)
        if sign_entry(self._key, self._tag, check) != check:
            raise LedgerError(f"stored entry {index} is not signed by this operator's key")
        return self._add(check)

    def _add(self, raw: dict[str, Any]) -> LedgerEntry:
        index = len(self._entries)
        try:
            if index == 0:
                typed: Genesis | Entry = Genesis.from_json(raw)
            else:
                typed = parse_entry(raw, index, self.genesis)
        except EntryError as exc:
            raise LedgerError(f"entry {index} would not verify: {exc}") from None
        if isinstance(typed, Genesis):
            before = after = typed.roots
        else:
            before, after = typed.roots_before, typed.roots_after
            if before != self.roots:
                raise LedgerError(f"entry {index} does not start from the latest roots")
        body = {k: v for k, v in raw.items() if k not in _HEADER}
        entry = LedgerEntry(index, str(raw["kind"]), before, after, body, raw, typed)
        self._entries.append(entry)
        self._last_hash = entry_hash(raw)
        return entry

    def export(self, directory: Path | str, vkeys: Mapping[str, Mapping[str, Any]]) -> Path:
        """Write the export of docs/ledger.md into ``directory`` (replacing a previous export)."""
        if not self._entries:
            raise LedgerError("nothing to export: no genesis entry")
        return write_export([e.to_dict() for e in self._entries], vkeys, directory)


def write_export(
    entries: Sequence[Mapping[str, Any]],
    vkeys: Mapping[str, Mapping[str, Any]],
    directory: Path | str,
) -> Path:
    """Write signed entries (genesis first) as an export directory, exactly as given.

    Refuses a gap in the indices or a broken ``prev_hash`` link (LedgerError);
    signatures are left to the verifier. Written to a sibling temporary
    directory first and moved into place, so a reader never sees half an export.
    """
    if not entries:
        raise LedgerError("nothing to export: no genesis entry")
    last = ""
    for i, e in enumerate(entries):
        if e.get("index") != i:
            raise LedgerError(f"entry {i} is missing from the ledger")
        if i > 0 and e.get("prev_hash") != last:
            raise LedgerError(f"entry {i} does not chain to entry {i - 1}")
        last = entry_hash(e)
    target = Path(directory).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (tmp / "entries").mkdir()
        (tmp / "vkeys").mkdir()
        _write_json(tmp / "ledger.json", {"format": LEDGER_FORMAT, "entries": len(entries)})
        _write_json(tmp / "genesis.json", entries[0])
        for e in entries[1:]:
            _write_json(tmp / "entries" / f"{int(e['index']):06d}.json", e)
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
