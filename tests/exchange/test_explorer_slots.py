"""The explorer on a recycling-order ("slots") ledger, and its self-check against the Python verifier.

* Golden vectors (fast, no proofs): the self-check's hashing
  (``exchange/api/explorer/static/inclusion.js``, run here in node with
  circomlibjs, the library the page bundles) parses slots openings built by the
  Python verifier (``verifier.account_state`` records in a
  ``verifier.quadtree.QuadTree``) and must reach the same 8-input leaf and the
  same quaternary root as ``verifier.account_state.account_state_leaf`` /
  ``verifier.quadtree.quad_root``, which ``verifier.inclusion_slots`` checks;
  a changed field must give the verifier's (different) root; malformed paths are
  refused with a one-line reason (a binary path is refused naming the quaternary tree).
* Pages: the explorer router over the honest slots ledger of
  ``tests/exchange/slots_ledger.py`` (real proofs, test profile; the session's
  ``slots_ledger`` fixture from tests/conftest.py; the service
  around it is a stub exposing what the explorer reads): cancel, funding and
  slots batch entries (order_ops / settle_fills proofs, cancels) render, the
  order and fill roots (always 0) are explained instead of shown, no blinding
  appears, and every account's opening hashes in node to the published root.
"""

import copy
import json
import random
import re
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exchange.api.explorer import router
from prover.account_book import slots_opening
from tests.exchange.slots_ledger import BATCH, CANCEL, FUNDING, SOLVENCY, SlotsLedger
from tests.subprocesses import PROJECT_ROOT, run_json
from verifier.account_state import AccountRecord, account_state_leaf
from verifier.inclusion_slots import parse_slots_opening
from verifier.params import BALANCE_BITS, FUNDING_BITS, NONCE_BITS, POSITION_BITS
from verifier.quadtree import QuadTree, quad_root

INCLUSION_JS = PROJECT_ROOT / "exchange" / "api" / "explorer" / "static" / "inclusion.js"
# Reads {"cfg", "cases"} on stdin; prints {"results": [{"leaf", "root"} | {"error"}]}.
NODE_RUNNER = """
const inc = require(process.argv[1]);
const { buildPoseidon } = require("circomlibjs");
let text = "";
process.stdin.on("data", (d) => (text += d));
process.stdin.on("end", async () => {
  const { cfg, cases } = JSON.parse(text);
  const c = { ...cfg, balanceBits: BigInt(cfg.balanceBits), positionBits: BigInt(cfg.positionBits),
              nonceBits: BigInt(cfg.nonceBits), fundingBits: BigInt(cfg.fundingBits) };
  const p = await buildPoseidon();
  const poseidon = (xs) => p.F.toObject(p(xs));
  const results = cases.map((obj) => {
    try {
      const { leaf, root } = inc.hashOpening(poseidon, inc.parseOpening(obj, c));
      return { leaf: leaf.toString(), root: root.toString() };
    } catch (e) {
      return { error: e.message, input_error: e instanceof inc.InputError };
    }
  });
  console.log(JSON.stringify({ results }));
  process.exit(0);
});
"""


def run_inclusion_js(state: str, depth: int, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """inclusion.js's parse + hash of each opening, in node (as the page runs it)."""
    cfg = {
        "state": state,
        "depth": depth,
        "balanceBits": BALANCE_BITS,
        "positionBits": POSITION_BITS,
        "nonceBits": NONCE_BITS,
        "fundingBits": FUNDING_BITS,
    }
    out = run_json(
        ["node", "-e", NODE_RUNNER, str(INCLUSION_JS)],
        input=json.dumps({"cfg": cfg, "cases": cases}),
        timeout=120,
    )
    results: list[dict[str, Any]] = out["results"]
    return results


def opening_json(
    records: Mapping[int, AccountRecord], tree: QuadTree, account: int
) -> dict[str, Any]:
    """``prover.account_book.slots_opening`` (what the service answers) of ``account`` in a book
    holding ``records`` in ``tree``; with an empty slot tree, which the leaf only sees as its
    order root."""
    book = SimpleNamespace(
        root=tree.root, tree=tree, record=records.__getitem__, slots={account: {}}
    )
    return slots_opening(cast(Any, book), account)


def _random_record(rng: random.Random, markets: int) -> AccountRecord:
    half_b, half_p, half_f = (1 << (b - 1) for b in (BALANCE_BITS, POSITION_BITS, FUNDING_BITS))
    return AccountRecord(
        pub_x=rng.randrange(1 << 253),
        pub_y=rng.randrange(1 << 253),
        balance=rng.choice([-half_b, half_b - 1, rng.randrange(-half_b, half_b)]),
        positions=tuple(rng.randrange(-half_p, half_p) for _ in range(markets)),
        checkpoints=tuple(
            rng.choice([-half_f, rng.randrange(-half_f, half_f)]) for _ in range(markets)
        ),
        order_root=rng.randrange(1 << 253),
        nonce=rng.randrange(1 << NONCE_BITS),
        blinding=rng.randrange(1 << 253),
    )


# ---------------------------------------------------------------- golden vectors (no proofs)


def test_inclusion_js_matches_the_python_verifier_on_slots_openings() -> None:
    rng = random.Random(12)
    levels, markets = 3, 4
    tree = QuadTree(levels)
    records: dict[int, AccountRecord] = {}
    # every digit 0..3 at every level, and the last leaf
    for account in (0, 1, 2, 3, 4 * 1 + 2, 16 * 3 + 4 * 2 + 1, 16 * 2 + 3, 63):
        records[account] = _random_record(rng, markets)
        tree.update(account, account_state_leaf(records[account]))
    cases = [opening_json(records, tree, i) for i in records]
    key = cases[0]["opening"]  # the other accepted key form: pubkey {x, y}
    key["pubkey"] = {"x": key.pop("pub_x"), "y": key.pop("pub_y")}
    expected = [(account_state_leaf(r), tree.root) for r in records.values()]
    for case in cases:  # the Python verifier accepts them as they are
        opening = parse_slots_opening(case)
        assert (
            quad_root(account_state_leaf(opening.record), opening.account, opening.siblings)
            == tree.root
        )

    # One changed field at a time: the verifier's root for the changed record, never the tree's.
    changed = []
    for field, value in (
        ("balance", str(records[63].balance ^ 1)),
        (
            "checkpoints",
            [str(records[63].checkpoints[0] ^ 1), *map(str, records[63].checkpoints[1:])],
        ),
        ("order_root", str(records[63].order_root + 1)),
        ("nonce", records[63].nonce ^ 1),
    ):
        case = copy.deepcopy(cases[-1])
        case["opening"][field] = value
        changed.append(case)
        record = parse_slots_opening(case).record
        expected.append(
            (
                account_state_leaf(record),
                quad_root(account_state_leaf(record), 63, tree.path(63).siblings),
            )
        )
    moved = copy.deepcopy(cases[-1])
    moved["account"] = 62  # the same leaf and path at a neighbouring index
    changed.append(moved)
    expected.append(
        (
            expected[len(records) - 1][0],
            quad_root(expected[len(records) - 1][0], 62, tree.path(63).siblings),
        )
    )

    results = run_inclusion_js("slots", levels, cases + changed)
    got = [(int(r["leaf"]), int(r["root"])) for r in results]
    assert got == expected
    assert all(root != tree.root for _, root in got[len(cases) :])


def test_inclusion_js_refuses_malformed_slots_openings_with_a_reason() -> None:
    rng = random.Random(3)
    tree = QuadTree(2)
    record = _random_record(rng, 2)
    tree.update(5, account_state_leaf(record))
    good = opening_json({5: record}, tree, 5)

    def variant(**changes: Any) -> dict[str, Any]:
        case: dict[str, Any] = copy.deepcopy(good)
        opening = case["opening"]
        for key, value in changes.items():
            (opening if key in opening or key == "checkpoints" else case)[key] = value
        return case

    cases = [
        variant(siblings=[s[0] for s in good["siblings"]]),  # a binary path
        variant(siblings=good["siblings"][:1]),  # one level short
        variant(siblings=[good["siblings"][0][:2], good["siblings"][1]]),  # two siblings
        variant(account=16),  # outside 4^2 leaves
        variant(checkpoints=[str(1 << 63), "0"]),  # outside the signed 64-bit funding range
        variant(checkpoints=["0"]),  # one market short
        variant(order_root="x"),
    ]
    results = run_inclusion_js("slots", 2, cases)
    assert all(r.get("input_error") for r in results), results
    reasons = [r["error"] for r in results]
    assert "quaternary" in reasons[0] and "binary path" in reasons[0]
    assert "has 2" in reasons[1]
    assert "three other children" in reasons[2]
    assert "outside" in reasons[3]
    assert "signed 64-bit" in reasons[4]
    assert "one funding checkpoint per market" in reasons[5]
    assert "order_root must be an integer" in reasons[6]


# ---------------------------------------------------------------- pages on the real slots ledger


@pytest.fixture(scope="module")
def http(slots_ledger: SlotsLedger) -> Iterator[TestClient]:
    service = SimpleNamespace(
        op=slots_ledger.operator,
        store=SimpleNamespace(unfinished_jobs=lambda: []),
        require_ready=lambda: None,
    )
    app = FastAPI()
    app.include_router(router)
    app.state.service = service
    with TestClient(app) as client:
        yield client


@pytest.mark.slow
def test_slots_ledger_pages_render(slots_ledger: SlotsLedger, http: TestClient) -> None:
    op = slots_ledger.operator
    latest = op.ledger.entries[-1].roots_after
    overview = http.get("/explorer").text
    assert "slots (recycling order slots" in overview
    assert 'id="slots-roots"' in overview and "<th>fill root</th>" not in overview
    assert str(latest.account) in overview
    assert "cancel</a>: 1" in overview and "funding</a>: 1" in overview
    assert "new kind" not in http.get("/explorer/ledger?limit=200").text

    ledger = http.get("/explorer/ledger?limit=200").text
    assert len(re.findall(r'<tr class="entry kind-', ledger)) == len(op.ledger.entries)
    assert "f 0" not in ledger and "o 0" not in ledger  # the always-0 roots are not listed
    batch = http.get(f"/explorer/ledger/{BATCH}").text
    # order_ops: alice's and bob's places | carol's sell | the cancel of carol's never-placed buy
    assert "batch 1: 3 placed, 1 cancelled, 1 fill group" in batch
    assert "<code>order_ops</code> ×3, <code>settle_fills</code>" in batch
    parts = re.findall(r'<tr class="part statement-(\w+)">(.*?)</tr>', batch, re.S)
    assert [s for s, _ in parts] == ["order_ops", "order_ops", "order_ops", "settle_fills"]
    contents = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for _, row in parts]
    assert "2 placed, 0 cancelled" in contents[0] and "1 placed, 0 cancelled" in contents[1]
    assert "0 placed, 1 cancelled" in contents[2]
    assert "BTC-PERP: 5" in contents[3]  # the fill group's volume: 3 + 2 lots
    assert 'id="slots-roots"' in batch

    cancel = http.get(f"/explorer/ledger/{CANCEL}").text
    assert re.search(rf'id="cancelled-order"><a href="/explorer/ledger/{CANCEL - 1}"', cancel)
    funding = http.get(f"/explorer/ledger/{FUNDING}").text
    indices = slots_ledger.entry(FUNDING)["indices"]
    assert "funding index update" in funding and f"[{', '.join(indices)}]" in funding
    opened = http.get("/explorer/ledger/2").text
    assert "<code>account_update</code>" in opened
    solvency = http.get(f"/explorer/ledger/{SOLVENCY}").text
    assert "<code>solvency_walk</code>" in solvency and "solvent" in solvency
    assert 'class="solvency-row"' in http.get("/explorer/solvency").text
    assert http.get("/explorer/charts").text.count("<svg") == 4
    risk = http.get("/explorer/risk").text
    assert f'data-index="{FUNDING}"' in risk

    # Nothing private: no account's blinding or leaf on any page.
    secrets_ = set()
    for i in range(4):
        record = op.book.record(i)
        secrets_ |= {str(record.blinding), str(account_state_leaf(record))}
    for i in range(len(op.ledger.entries)):
        text = http.get(f"/explorer/ledger/{i}").text
        assert not any(s in text for s in secrets_), i


@pytest.mark.slow
def test_every_slots_account_opening_hashes_to_the_published_root_in_js(
    slots_ledger: SlotsLedger, http: TestClient
) -> None:
    op = slots_ledger.operator
    page = http.get("/explorer/self-check").text
    levels = op.params.account_levels
    assert 'data-state="slots"' in page and f'data-depth="{levels}"' in page
    assert "quaternary" in page and "/explorer/static/inclusion.js" in page
    assert "darkpoolInclusion" in http.get("/explorer/static/inclusion.js").text

    # What GET /v1/accounts/{i}/inclusion answers on a slots service (prover.account_book.slots_opening).
    cases = [op.inclusion_opening(i) for i in range(4)]
    published = op.ledger.entries[-1].roots_after.account
    leaves = [account_state_leaf(op.book.record(i)) for i in range(4)]
    for case, leaf in zip(cases, leaves, strict=True):
        opening = parse_slots_opening(case)  # the Python verifier's reading of the same JSON
        assert quad_root(leaf, opening.account, opening.siblings) == published
    results = run_inclusion_js("slots", levels, cases)
    assert [int(r["root"]) for r in results] == [published] * 4
    assert [int(r["leaf"]) for r in results] == leaves
    answer = http.get(f"/explorer/api/account-root?account=1&root={published}").json()
    assert (answer["root_published"], answer["is_latest"]) == (True, True)
    key = op.book.record(1)
    assert answer["pubkey"] == {"x": str(key.pub_x), "y": str(key.pub_y)}
