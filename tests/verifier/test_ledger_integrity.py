"""Pure helpers of the ledger's integrity rules (no proofs): unknown fields, resumed history.

The cheating-ledger tests with real proofs are in tests/verifier/test_ledger.py
(test_unknown_fields_are_refused, test_incremental_names_the_rewritten_past_entry);
these pin the helpers' edge cases cheaply.
"""

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from verifier.ledger.parse import EntryError, canonical_json_hash
from verifier.ledger.resume import rewritten_entry
from verifier.ledger.strict import noncanonical_values, refuse_unknown_fields, unknown_fields
from verifier.source import JSON_MAX_DEPTH, InputError, load_json_file, parse_json
from verifier.state import load_state

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


def test_hostile_json_is_a_one_line_error_not_a_crash(tmp_path: Path) -> None:
    """An export file the operator controls must not crash darkpool-verify.

    py_ecc (imported by every verifier run) raises the recursion limit to
    100,000, at which ~70,000 nested brackets overflow the C JSON parser's
    stack (a segfault); a bare number over 4,300 digits raises from int().
    Both must be the loader's one-line error instead.
    """
    import verifier.groth16  # noqa: F401  (imports py_ecc, as darkpool-verify does)

    deep = "[" * 100_000
    huge = "1" * 5_000
    with pytest.raises(ValueError, match=f"nested deeper than {JSON_MAX_DEPTH} levels"):
        parse_json(deep)
    with pytest.raises(ValueError, match="digits"):
        parse_json(huge)
    assert parse_json('{"a": [[1]]}') == {"a": [[1]]}
    limit = sys.getrecursionlimit()
    for body in (deep, huge, '{"a": '):
        path = tmp_path / "000001.json"
        path.write_text(body)
        with pytest.raises(InputError, match="is not valid JSON") as exc:
            load_json_file(path, "entry 1")
        assert "\n" not in str(exc.value)
    assert sys.getrecursionlimit() == limit  # restored after each parse


@pytest.mark.parametrize("body", ["{not json", '{"format": "other"}', "[" * 100_000])
def test_unusable_state_file_is_refused_not_silently_replaced(tmp_path: Path, body: str) -> None:
    """A --state file that exists but cannot be used stops the run (exit 2 in the CLI).

    Starting over silently would drop the append-only check the file exists
    for: a rewritten, re-signed history replays VALID from scratch.
    """
    path = tmp_path / "state.json"
    path.write_text(body)
    with pytest.raises(InputError, match="move it away to verify from the start"):
        load_state(path)
    assert path.read_text() == body
    assert load_state(tmp_path / "absent.json") == (None, None)


def test_noncanonical_values_lists_other_spellings_of_the_same_value() -> None:
    canonical = {"amount": "100", "stress": None, "marks": ["1", "2"], "ok": True}
    assert noncanonical_values(canonical, canonical) == []
    raw = {"amount": 100, "stress": None, "marks": ["1", "2", "3"], "ok": 1, "note": None}
    assert noncanonical_values(raw, canonical) == ["amount", "marks", "ok", "note"]
    # A missing key is the parsers' business (they name a missing required field).
    assert noncanonical_values({"amount": "100"}, canonical) == []
