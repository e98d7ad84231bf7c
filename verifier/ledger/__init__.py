"""Ledger replay: check a darkpool public ledger entry by entry, without trusting the operator.

Input is parsed JSON (docs/ledger.md): the ``ledger.json`` manifest, the
genesis entry, a lookup ``entry(index) -> object | None`` and the verification
keys shipped with the export (optionally checked against keys the user pinned).
``replay`` walks the entries, keeping only public state (the three roots, the
order-commitment list, total collateral, the last batch id, the number of
accounts), and produces a ``ReplayReport`` with every failure as a
``LedgerFailure(entry_index, reason)``.

What is checked (each failure names its entry):

* format: manifest ``format`` is ``darkpool-ledger/v2``; ``entries`` counts
  every entry including genesis, so the entries are 0..N-1 and no file N exists;
* genesis: ``"state": "slots"`` (a list-state genesis, ``"state": "list"`` or
  none, is refused: "list-state ledgers are no longer supported"), params,
  markets, oracle key, empty roots, and the verification keys:
  each shipped key hashes (``groth16.vkey_hash``) to genesis ``vkey_hashes``
  and, if the user pinned keys, to the pinned key's hash too;
* every entry: ``index`` is its position, ``roots_before`` equals the previous
  entry's ``roots_after``, and only the roots its kind may change change;
  no field the format does not define, at any depth (``strict``: what does
  not survive parse + ``to_json`` is refused), genesis included;
* order: ``order_index`` is the next sequence number, the commitment is a new
  non-zero field element;
* account_op: opens use the next free index and (except the insurance
  account 0) deposit at least genesis ``min_deposit``, deposits/withdrawals name an
  opened account, withdrawals carry an oracle-signed mark report no older than
  the last batch and not past the funding deadline ("funding overdue"),
  total collateral never goes negative, and the public inputs are recomputed
  (roots, op, index, amount, pubkey, marks, margin bps, funding indices);
* batch: oracle signature, batch id strictly increasing, proofs chained root
  to root from ``roots_before`` to ``roots_after``, volumes summed, public
  inputs recomputed from the signed prices and the genesis market parameters;
* solvency: claimed at the current account root and total collateral, oracle
  signature (a non-stress report no older than the last batch), chunk public
  inputs recomputed, and ``check_solvency_walk`` (root rebuilt from subroots, sum of
  balances = total collateral, open interest nets to zero, deficit <= fund);
  the published ``result`` must equal what the last chunk opened, and its
  ``solvent`` and ``reasons`` what the replay concludes. A stress
  report (shocked marks) whose deficit exceeds the fund is reported as
  insolvent-under-stress but does not invalidate the ledger: it is a result,
  not a broken promise;
* the recycling order slots (issue 12; ``verifier.ledger.slots_replay``):
  order and fill roots stay 0, ``cancel``
  entries must be executed by the next batch's ``order_ops`` proofs before
  its ``settle_fills`` groups, and every proof takes the replay's funding
  indices as public inputs (``account_update``, ``order_ops``,
  ``settle_fills``, ``solvency_walk``).

Operator-supplied ``public_signals`` are never used for verification; the
verifier recomputes them and reports any difference. Groth16 proofs are
checked after all cheap checks, one ``batch_verify`` per statement (optionally
split over processes), falling back to ``find_invalid`` to name the entry.
Replay stops at the first structural failure (later roots mean nothing once
the chain breaks) but still verifies the proofs of the entries before it, so
``first_failure`` is truly the first.

Modules: ``genesis`` (entry 0 and the records entries share),
``entries`` (the entry kinds after genesis), ``risk`` (sweep, liquidation,
funding) and ``slots`` (the recycling-order ledger's cancel and batch proofs)
are the only definition of the format; ``parse`` (strict JSON parsers), ``chain`` (entry hashes and operator
signatures), ``keys`` (verification keys against genesis and pins),
``replay`` (the checks), ``strict`` (unknown fields), ``proofs`` (Groth16
batches, optionally over processes), ``state`` and ``resume`` (what a resumed
run needs, and when it may resume: every verified entry unchanged, else the
first rewritten one is named), ``report`` (failures and counters).

Pure: no file or network I/O (``verifier.source`` reads exports,
``verifier.state`` stores incremental state). Never imports prover or
exchange and never runs node.
"""

from verifier.ledger.adl import DeleverageEntry
from verifier.ledger.chain import entry_hash, entry_tag, sign_entry
from verifier.ledger.entries import (
    ACCOUNT_OPS,
    BATCH_PROOF_PARSERS,
    DEFAULT_LIMITS_JSON,
    ENTRY_TYPES,
    AccountOpEntry,
    BatchEntry,
    BatchProof,
    Entry,
    Genesis,
    Limits,
    Market,
    OracleReport,
    OrderEntry,
    ProofData,
    Roots,
    SolvencyEntry,
    SolvencyResult,
    genesis_hash,
    parse_entry,
    register,
)
from verifier.ledger.genesis import LEDGER_STATES, LIST_STATE_REFUSED, SLOTS_STATE, empty_roots
from verifier.ledger.parse import EntryError, canonical_json_hash
from verifier.ledger.proofs import SERIAL_BATCH, Progress, ProofChecker, ProofItem, check_proofs
from verifier.ledger.replay import LEDGER_FORMAT, parse_genesis, replay
from verifier.ledger.report import LedgerFailure, ReplayReport
from verifier.ledger.risk import FundingEntry, LiquidationEntry, SweepEntry
from verifier.ledger.rules import FundingRules, RiskProgress, RiskRules
from verifier.ledger.slots import CancelEntry, SlotsBatchProof
from verifier.ledger.state import ReplayState, SolvencySummary

#: Every entry kind, genesis first (the registry once every kind module is imported).
ENTRY_KINDS: tuple[str, ...] = ("genesis", *ENTRY_TYPES)

__all__ = [
    "ACCOUNT_OPS",
    "BATCH_PROOF_PARSERS",
    "DEFAULT_LIMITS_JSON",
    "ENTRY_KINDS",
    "ENTRY_TYPES",
    "LEDGER_FORMAT",
    "LEDGER_STATES",
    "LIST_STATE_REFUSED",
    "SERIAL_BATCH",
    "SLOTS_STATE",
    "AccountOpEntry",
    "BatchEntry",
    "BatchProof",
    "CancelEntry",
    "DeleverageEntry",
    "Entry",
    "EntryError",
    "FundingEntry",
    "FundingRules",
    "Genesis",
    "LedgerFailure",
    "Limits",
    "LiquidationEntry",
    "Market",
    "OracleReport",
    "OrderEntry",
    "Progress",
    "ProofChecker",
    "ProofData",
    "ProofItem",
    "ReplayReport",
    "ReplayState",
    "RiskProgress",
    "RiskRules",
    "Roots",
    "SlotsBatchProof",
    "SolvencyEntry",
    "SolvencyResult",
    "SolvencySummary",
    "SweepEntry",
    "canonical_json_hash",
    "check_proofs",
    "empty_roots",
    "entry_hash",
    "entry_tag",
    "genesis_hash",
    "parse_entry",
    "parse_genesis",
    "register",
    "replay",
    "sign_entry",
]
