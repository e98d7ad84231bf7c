"""Pure helpers of the ledger's integrity rules (no proofs): unknown fields, resumed history.

The cheating-ledger tests with real proofs are in tests/verifier/test_ledger.py
(test_unknown_fields_are_refused, test_incremental_names_the_rewritten_past_entry);
these pin the helpers' edge cases cheaply.
"""

from collections.abc import Callable

import pytest

from verifier.ledger.parse import EntryError, canonical_json_hash
from verifier.ledger.resume import rewritten_entry
from verifier.ledger.strict import refuse_unknown_fields, unknown_fields

CANONICAL = {"a": "1", "b": {"c": "2", "d": [{"e": "3"}, {"e": "4"}]}, "f": None}


def test_unknown_fields_lists_every_extra_key_with_its_path() -> None:
    raw = {
        "a": "1",
        "x": 0,
        "b": {"c": "2", "y": "", "d": [{"e": "3"}, {"e": "4", "z": []}]},
        "f": None,
    }
    assert unknown_fields(raw, CANONICAL) == ["x", "b.y", "b.d[1].z"]
    assert unknown_fields(CANONICAL, CANONICAL) == []
    # An optional field left null where the canonical form omits it is not unknown.
    assert unknown_fields({"a": "1", "g": None}, {"a": "1"}) == []
    # Only keys are compared: a value's type or a list's length is the parsers' job.
    assert unknown_fields({"a": 1, "b": [1, 2, 3]}, {"a": "1", "b": [1]}) == []


def test_refuse_unknown_fields_names_the_first_and_counts_the_rest() -> None:
    refuse_unknown_fields(CANONICAL, CANONICAL)
    with pytest.raises(EntryError) as err:
        refuse_unknown_fields({**CANONICAL, "x": 1, "y": 2}, CANONICAL, "genesis")
    assert str(err.value) == "genesis has a field the format does not define: 'x' (and 1 more)"


def _ledger(n: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = [{"index": 0}]
    for i in range(1, n):
        out.append({"index": i, "prev_hash": canonical_json_hash(out[-1])})
    return out


def test_rewritten_entry_finds_the_first_changed_entry() -> None:
    entries = _ledger(6)
    hashes = [canonical_json_hash(e) for e in entries]

    def lookup(ledger: list[dict[str, object]]) -> Callable[[int], object | None]:
        return lambda i: ledger[i] if 0 <= i < len(ledger) else None

    assert rewritten_entry(lookup(entries), 5, hashes[5], hashes) is None
    assert rewritten_entry(lookup(entries), 3, hashes[3], hashes[:4]) is None
    # Entry 2 rewritten and everything after re-chained: named at 2.
    rechained = [dict(e) for e in entries]
    rechained[2]["note"] = "rewritten"
    for i in range(3, 6):
        rechained[i]["prev_hash"] = canonical_json_hash(rechained[i - 1])
    assert rewritten_entry(lookup(rechained), 5, hashes[5], hashes) == 2
    # Entry 2 replaced alone (the chain after it untouched): still named at 2.
    replaced = [dict(e) for e in entries]
    replaced[2]["note"] = "rewritten"
    assert rewritten_entry(lookup(replaced), 5, hashes[5], hashes) == 2
    # A missing entry counts as changed.
    assert rewritten_entry(lookup(entries[:4]), 5, hashes[5], hashes) == 4
    # Without per-entry hashes (an older state) only the last entry can be named.
    assert rewritten_entry(lookup(rechained), 5, hashes[5], []) == 5
    assert rewritten_entry(lookup(replaced), 5, hashes[5], []) is None
