"""Bit widths and profiles: circom and Python must name the same numbers."""

import re
from pathlib import Path

import pytest

from prover import circuits
from verifier.params import WIDTHS, CircuitParams, ParamsError

WIDTHS_CIRCOM = Path(__file__).resolve().parents[2] / "circuits" / "lib" / "widths.circom"


def test_circom_widths_match_python() -> None:
    text = WIDTHS_CIRCOM.read_text()
    found = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"function\s+(\w+)\(\)\s*\{\s*return\s+(\d+);\s*\}", text)
    }
    assert found == WIDTHS


def test_profiles_load_and_meet_the_production_floor() -> None:
    test = circuits.load_params("test")
    prod = circuits.load_params("production")
    assert test.fill_slots >= 2 and test.markets >= 2
    assert prod.account_depth >= 20
    assert prod.order_depth >= 24
    assert prod.markets >= 4
    assert prod.fill_slots >= 8


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ParamsError, match="unknown circuit profile 'nope'"):
        circuits.load_params("nope")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"account_depth": 4}, "lacks"),
        (
            {
                "account_depth": 0,
                "order_depth": 4,
                "markets": 2,
                "fill_slots": 1,
                "chunk_height": 1,
            },
            "positive integer",
        ),
        (
            {
                "account_depth": 4,
                "order_depth": 4,
                "markets": 2,
                "fill_slots": 1,
                "chunk_height": 5,
            },
            "chunk_height exceeds",
        ),
        (
            {
                "account_depth": 4,
                "order_depth": 4,
                "markets": 14,
                "fill_slots": 1,
                "chunk_height": 1,
            },
            "at most 13 markets",
        ),
    ],
)
def test_bad_profiles_are_rejected(obj: dict[str, int], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        CircuitParams.from_dict("bad", obj)
