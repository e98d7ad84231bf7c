"""Test-only: ONE honest recycling-order ("slots") ledger with real proofs, for every test that needs one.

Built by ``exchange.operator.slots.SlotsOperator`` at the test profile
(2 markets, 4 order slots per account, 2 ops per ORDER OPS proof, 2 fills per
SETTLE FILLS group) and exported:

    0 genesis ("state": "slots")
    1-4 open (insurance fund 0, alice 1, bob 2, carol 3) | 5 deposit (carol)
    6 order alice buy 5 (id 1) | 7 order bob sell 3 (id 1) | 8 order carol sell 2 (id 2)
    9 order carol buy 1 (id 3, market 1) | 10 cancel of carol's id 3 (before it is placed)
    11 batch: order_ops (2 places) | order_ops (1 place) | order_ops (1 cancel: carol's
              id 3 is never placed, its cancel op writes it as finished)
              | settle_fills (alice 3 from bob, alice 2 from carol)
    12 funding (index 8% under the mark: longs pay about 8 per lot of market 0)
    13 withdraw (alice, who settles her funding) | 14 solvency (every account settled)

``slots_ledger`` is a session-scoped fixture (registered in tests/conftest.py),
built once for every module that uses it (tests/exchange, the cheating-ledger
tests of tests/verifier/test_slots_ledger.py): never change it in place, copy
the export (``tests.verifier.ledger_files.copy_export``) and deep-copy the
operator. Leaf blindings come from a seeded generator kept in the operator, so
a deep copy of ``at_batch`` rebuilds the batch's witnesses exactly.
"""

import copy
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.verifier.ledger_files import OPERATOR_KEY, ORACLE_KEY
from verifier.eddsa import PrivateKey

__all__ = [
    "BATCH",
    "CANCEL",
    "ENTRY_KINDS",
    "FUNDING",
    "SOLVENCY",
    "WITHDRAW",
    "SeededBlinding",
    "SlotsLedger",
    "build_slots_ledger",
    "slots_ledger",
    "slots_operator",
    "stand_in_prover",
]

ENTRY_KINDS = [
    "genesis",
    *["account_op"] * 5,
    *["order"] * 4,
    "cancel",
    "batch",
    "funding",
    "account_op",
    "solvency",
]
ORDERS = (6, 7, 8, 9)
CANCEL, BATCH, FUNDING, WITHDRAW, SOLVENCY = 10, 11, 12, 13, 14
#: The batch's proofs, in chain order.
BATCH_STATEMENTS = ["order_ops", "order_ops", "order_ops", "settle_fills"]
NOW = 1000
PREMIUM_BPS = 800  # the honest ledger's index price sits 8% under the mark


@dataclass(frozen=True)
class SlotsLedger:
    """The export and what built it (tests continue a deep copy of ``operator``)."""

    export: Path
    operator: Any  # exchange.operator.slots.SlotsOperator after the export
    tags: Any
    keys: dict[str, PrivateKey]
    orders: dict[str, Any]  # name -> SlottedOrder
    at_batch: Any  # a deep copy of the operator right before its batch (report: latest_report)

    def entry(self, index: int) -> Any:
        path = (
            self.export / "genesis.json"
            if index == 0
            else self.export / "entries" / f"{index:06d}.json"
        )
        return json.loads(path.read_text())


class SeededBlinding:
    """Leaf blindings from a seeded generator; a deep copy continues the same sequence."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def __call__(self) -> int:
        return self.rng.randrange(1, 1 << 250)


def slots_operator(
    *, insurance_fund: int = 1000, premium_bps: int = 0, **options: Any
) -> tuple[Any, Any, dict[str, PrivateKey]]:
    """(operator, tags, keys): two markets, fixed keys and clock, genesis and account 0 written.

    The oracle's index price sits ``premium_bps`` under its marks (funding);
    ``options`` go to ``SlotsOperator`` (e.g. genesis ``risk`` / ``funding`` rules)."""
    from exchange.operator import MarketSpec
    from exchange.operator.slots import SlotsOperator
    from oracle.feed import SimulatedFeed
    from oracle.signer import OracleSigner
    from verifier.protocol import Tags

    tags = Tags.for_exchange("darkpool-dev")
    feed = SimulatedFeed([100, 50], seed=1, premium_bps=premium_bps)
    oracle = OracleSigner(feed, tags.oracle, key=ORACLE_KEY)
    markets = [
        MarketSpec(0, "BTC-PERP", 1, 1, imf_bps=500, mmf_bps=300, fee_bps=5),
        MarketSpec(1, "ETH-PERP", 1, 1, imf_bps=1000, mmf_bps=500, fee_bps=5),
    ]
    keys = {
        name: PrivateKey(bytes([i]) * 32)
        for i, name in ((2, "insurance"), (3, "alice"), (4, "bob"), (6, "carol"))
    }
    op = SlotsOperator(
        markets=markets,
        oracle=oracle,
        insurance_pubkey=keys["insurance"].public_key(),
        insurance_fund=insurance_fund,
        clock=lambda: NOW,
        operator_key=OPERATOR_KEY,
        **options,
    )
    return op, tags, keys


def stand_in_prover(artifacts: Any, inputs: Any) -> tuple[dict[str, Any], list[str]]:
    """A stand-in prover: no proof, the public signals read back from the input JSON.

    The operator's own check (public signals = the statement's) still runs;
    only the Groth16 proof is missing, so the entries would not verify. For
    tests of operator logic on a deep copy of the honest ledger's operator.
    """
    from prover.circuits import statement_module

    statement = artifacts.name.rsplit("_", 1)[0]
    public: list[str] = []
    for name in statement_module(statement).PUBLIC:
        value = inputs[name]
        public.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return {"stand_in": True}, public


def build_slots_ledger(directory: Path, prove: Any = None) -> SlotsLedger:
    """Run the scenario of the module docstring with real proofs and export it to ``directory``.

    ``prove``: the operator's ProveFn (default ``prover.backends.prove_inputs``);
    every other input is fixed, so two builds differ only in their proof points.
    """
    from verifier.account_state import SlottedOrder, cancel_order_message, order_hash
    from verifier.encoding import BUY, SELL, withdraw_message
    from verifier.ledger.rules import FundingRules

    funding = FundingRules(interval_s=3600, premium_divisor=1, clamp_bps=1000)
    wiring: dict[str, Any] = {} if prove is None else {"prove": prove}
    op, tags, keys = slots_operator(
        premium_bps=PREMIUM_BPS, funding=funding, new_blinding=SeededBlinding(7), **wiring
    )
    alice = op.open_account(keys["alice"].public_key(), 100_000)
    bob = op.open_account(keys["bob"].public_key(), 100_000)
    carol = op.open_account(keys["carol"].public_key(), 50_000)
    op.deposit(carol, 5_000)
    report = op.oracle.report(1, NOW)
    op.observe(report)
    orders = {
        "alice_buy": SlottedOrder(alice, 1, 0, BUY, 5, 110, 10**6, salt=11),
        "bob_sell": SlottedOrder(bob, 1, 0, SELL, 3, 90, 10**6, salt=22),
        "carol_sell": SlottedOrder(carol, 2, 0, SELL, 2, 95, 10**6, salt=33),
        "carol_cancelled": SlottedOrder(carol, 3, 1, BUY, 1, 60, 10**6, salt=44),
    }
    owner = {
        "alice_buy": "alice",
        "bob_sell": "bob",
        "carol_sell": "carol",
        "carol_cancelled": "carol",
    }
    hashes = {}
    for name, order in orders.items():
        hashes[name] = order_hash(tags.order, order)
        op.submit_order(order, keys[owner[name]].sign(hashes[name]))
    h = hashes["carol_cancelled"]
    op.cancel(h, keys["carol"].sign(cancel_order_message(tags.cancel, h)))
    # The prover is shared, not copied (a proof pool holds a live Dask client).
    at_batch = copy.deepcopy(op, {id(op._prove_fn): op._prove_fn})
    summary = op.run_batch(report)
    assert [(f.quantity, f.market) for f in summary.fills] == [(3, 0), (2, 0)]
    op.update_funding(report)
    nonce = op.account_state(alice).nonce
    op.withdraw(
        alice, 1000, keys["alice"].sign(withdraw_message(tags.withdraw, alice, 1000, nonce))
    )
    op.prove_solvency(report)
    export = op.export(directory)
    built = SlotsLedger(
        export=export, operator=op, tags=tags, keys=keys, orders=orders, at_batch=at_batch
    )
    assert [built.entry(i)["kind"] for i in range(len(ENTRY_KINDS))] == ENTRY_KINDS
    return built


@pytest.fixture(scope="session")
def slots_ledger(tmp_path_factory: pytest.TempPathFactory) -> SlotsLedger:
    """The honest slots ledger, built once per session (never change it: deep-copy)."""
    return build_slots_ledger(tmp_path_factory.mktemp("slots") / "export")
