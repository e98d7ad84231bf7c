"""Account inclusion on the recycling-order state: quaternary path, root and key checks."""

import json
from dataclasses import replace
from typing import Any

import pytest

from prover.account_book import AccountBook, slots_opening
from prover.circuits import load_params
from verifier.eddsa import PrivateKey
from verifier.inclusion import AccountOp, InclusionInputError, LedgerHistory
from verifier.inclusion_slots import check_slots_inclusion, parse_slots_opening

PARAMS = load_params("test")
KEYS = [PrivateKey(bytes([n + 1]) * 32) for n in range(3)]


def book() -> AccountBook:
    b = AccountBook(PARAMS)
    for i, k in enumerate(KEYS):
        pub = k.public_key()
        b.open(i, pub=(pub.x, pub.y), balance=100 * i, funding=(3, -4), blinding=11 + i)
    b.put(2, replace(b.record(2), positions=(2, -1), balance=-7))
    return b


def opening_json(b: AccountBook, index: int) -> dict[str, Any]:
    """What a slots server's inclusion endpoint answers (``prover.account_book.slots_opening``)."""
    return slots_opening(b, index)


def history(b: AccountBook) -> LedgerHistory:
    h = LedgerHistory(account_depth=PARAMS.account_depth, fee_bps=(30, 5))
    h.account_roots[b.root] = 4
    h.ops = [AccountOp(1 + i, "open", i, 100 * i, k.public_key()) for i, k in enumerate(KEYS)]
    return h


def test_honest_opening_passes_every_check() -> None:
    b = book()
    result = check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), history(b))
    assert result.ok, result.to_dict()
    assert [c.name for c in result.checks] == ["path", "root", "pubkey"]
    assert result.checks[1].detail == "account root after entry 4"
    # The owner's key may also come nested, as ``pubkey: {x, y}``: the same opening.
    nested = opening_json(b, 2)
    inner = nested["opening"]
    inner["pubkey"] = {"x": inner.pop("pub_x"), "y": inner.pop("pub_y")}
    assert parse_slots_opening(nested) == parse_slots_opening(opening_json(b, 2))


@pytest.mark.parametrize(
    ("mutate", "failed"),
    [
        (lambda d: d["opening"].update(balance="-6"), "path"),
        (lambda d: d["opening"].update(checkpoints=["3", "-3"]), "path"),
        (lambda d: d["opening"].update(order_root="1"), "path"),
        (lambda d: d.update(leaf="5"), "path"),
        (lambda d: d.update(account=1), "path"),
        (lambda d: d["siblings"].pop(), "path"),
        (lambda d: d.update(root="12345"), "path"),
    ],
)
def test_a_false_opening_fails_naming_the_check(mutate: object, failed: str) -> None:
    b = book()
    d = json.loads(json.dumps(opening_json(b, 2)))
    mutate(d)  # type: ignore[operator]
    result = check_slots_inclusion(parse_slots_opening(d), history(b))
    assert not result.ok
    first = result.first_failure
    assert first is not None and first.name == failed, result.to_dict()


def test_root_must_be_verified_and_key_published() -> None:
    b = book()
    h = history(b)
    h.account_roots = {123: 1}
    result = check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), h)
    assert [c.ok for c in result.checks] == [True, False, True]
    h = history(b)
    h.ops = [AccountOp(3, "open", 2, 0, KEYS[0].public_key())]
    result = check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), h)
    assert result.first_failure is not None and result.first_failure.name == "pubkey"
    h.ops = []
    assert "never opened" in str(
        check_slots_inclusion(parse_slots_opening(opening_json(b, 2)), h).to_dict()
    )


def test_malformed_openings_are_input_errors() -> None:
    b = book()
    for mutate in (
        lambda d: d["siblings"][0].pop(),
        lambda d: d["opening"].pop("checkpoints"),
        lambda d: d["opening"].update(positions="1"),
        lambda d: d["opening"].update(balance="1.5"),
    ):
        d = json.loads(json.dumps(opening_json(b, 1)))
        mutate(d)
        with pytest.raises(InclusionInputError):
            parse_slots_opening(d)
