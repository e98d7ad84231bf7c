"""Refuse ledger entries that carry fields the format does not define.

An entry is parsed into its typed model (``verifier.ledger.entries``) and
written back with ``to_json``: that canonical form holds every field the
format defines for the entry's kind. ``unknown_fields(raw, canonical)`` walks
both JSON trees together and lists every object key present in what the
operator published but absent from the canonical form (``"result.note"``,
``"proofs[0].extra"``), so an entry cannot smuggle data the verifier never
looked at (and that a reader might take for verified). Only object keys are
compared; values were checked by the parsers, and a list's items are matched
by position.

``noncanonical_values(raw, canonical)`` lists the fields whose published value
is not written the way ``to_json`` writes it (a JSON number where the format
has a decimal string, an extra key set to ``null``): the parsers accept some
such spellings, but then one entry could be published under two hashes, so the
replay refuses them too (``verifier.ledger.replay`` requires the canonical form
for every entry and genesis).

``refuse_unknown_fields`` raises ``EntryError`` with a one-line reason naming
the first such field. Pure: no I/O.
"""

from collections.abc import Mapping
from typing import Any

from verifier.ledger.parse import EntryError

__all__ = ["noncanonical_values", "refuse_unknown_fields", "unknown_fields"]


def unknown_fields(raw: object, canonical: object, path: str = "") -> list[str]:
    """Dotted paths of keys in ``raw`` that ``canonical`` (same shape) does not have, in order.

    A key whose raw value is JSON ``null`` where the canonical form omits it
    is an optional field left empty, not an unknown one.
    """
    out: list[str] = []
    if isinstance(raw, Mapping) and isinstance(canonical, Mapping):
        for key, value in raw.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in canonical:
                if value is not None:
                    out.append(where)
                continue
            out.extend(unknown_fields(value, canonical[key], where))
    elif isinstance(raw, list) and isinstance(canonical, list):
        for i, (item, ref) in enumerate(zip(raw, canonical, strict=False)):
            out.extend(unknown_fields(item, ref, f"{path}[{i}]"))
    return out


def noncanonical_values(raw: object, canonical: object, path: str = "") -> list[str]:
    """Dotted paths where ``raw`` is not spelled as ``canonical`` (same value, other JSON form).

    Covers an extra key whose value is ``null`` and a value of another JSON
    type or spelling (``100000`` for ``"100000"``). Keys missing from ``raw``
    are the parsers' business (they name a missing required field).
    """
    out: list[str] = []
    if isinstance(raw, Mapping) and isinstance(canonical, Mapping):
        for key, value in raw.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in canonical:
                out.append(where)
            else:
                out.extend(noncanonical_values(value, canonical[key], where))
    elif isinstance(raw, list) and isinstance(canonical, list):
        if len(raw) != len(canonical):
            out.append(path)
        for i, (item, ref) in enumerate(zip(raw, canonical, strict=False)):
            out.extend(noncanonical_values(item, ref, f"{path}[{i}]"))
    elif type(raw) is not type(canonical) or raw != canonical:
        out.append(path)
    return out


def refuse_unknown_fields(raw: object, canonical: Mapping[str, Any], what: str = "entry") -> None:
    """Raise EntryError naming the first field of ``raw`` the format does not define,
    or else the first one not written in the canonical form (``noncanonical_values``)."""
    extra = unknown_fields(raw, canonical)
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise EntryError(f"{what} has a field the format does not define: {extra[0]!r:.80}{more}")
    odd = noncanonical_values(raw, canonical)
    if odd:
        more = f" (and {len(odd) - 1} more)" if len(odd) > 1 else ""
        raise EntryError(
            f"{what} field {odd[0]!r:.80} is not written in the format's canonical form "
            f"(docs/ledger.md){more}"
        )
