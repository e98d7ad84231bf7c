"""The running exchange: the in-memory operator + the database + the batcher + solvency jobs.

The operator is ``exchange.operator.slots.SlotsOperator`` (recycling order
slots; the list state is retired, a list-state database is refused at
start); ``exchange.service.engine.Engine`` supplies the statements, the order
plaintext, what a change stores, restore and inclusion openings.

``Service`` is two halves over one core (``exchange.service.core``):
``intake`` (request auth, account ops, orders, cancels, views) and ``jobs``
(batches and solvency proofs). Methods return typed results
(``exchange.service.results``) or raise typed ``exchange.errors`` that the
API alone maps to HTTP (``exchange.api.errors``).

Concurrency (one process; API handlers run in worker threads):

* ``_lock`` is the ONE lock for state mutation. Whoever changes operator
  state holds it for the whole change, including its proof: account ops,
  cancels, batches, solvency jobs, and listing an order. A change is made in
  memory, then written by one ``Store.write`` transaction (ledger entries +
  the private state they lead to + order rows; under slots the private state
  is the rows of the accounts the change touched plus the small rest). If
  that write fails, the in-memory state is thrown away and reloaded from the
  database, so memory never runs ahead of what is durable for longer than
  one change.
* ``_intake`` is a short lock around order intake and the queue of pending
  orders. An order that arrives while ``_lock`` is free is validated and
  listed at once (its ``order`` ledger entry is committed with its row). An
  order that arrives while ``_lock`` is held — typically a batch that is
  proving, which takes seconds — is NOT blocked for the proof: it is fully
  validated against the current state plus the pending queue (signature,
  commitment, ranges, expiry, duplicates, pre-trade margin), stored as a
  ``pending`` row (ciphertext only) and answered 202 ``pending``. Whoever
  releases ``_lock`` first lists every pending order, in acceptance order,
  with their ledger entries; so time priority is acceptance order. Listing
  re-checks only uniqueness and capacity (counted at acceptance): a batch that
  moved the marks in between cannot un-accept an order; settlement re-checks
  margin fill by fill in the circuit.
* The batcher thread runs a batch every ``batch_interval_s`` when there is at
  least one live order (an empty market produces no empty proofs);
  ``POST /v1/admin/batch`` runs one now (``Conflict`` while one is running).

Start-up: ``open`` (keys, database) is quick; ``setup`` builds the circuits
and loads the state; until it is done ``health`` says ``setting_up`` with
progress and every other call raises ``Unavailable``. ``stop`` may come at
any moment, also during setup or a proof: node children are killed and
nothing half done is committed.

Recovery: on start the service loads the latest snapshot (slots: the
latest row of every account + the private state) and every ledger entry,
decrypts the stored ciphertexts in memory and rebuilds the operator
(``restore`` checks the rebuilt roots equal the ledger's). A batch
that was proving when the process died was never committed, so it simply runs
again; pending orders are listed; unfinished solvency jobs run again.

This package never stores or logs an order plaintext or a key, and never lets a
request change state unless every check passed.
"""

from exchange.operator import wall_clock
from exchange.service.intake import Intake
from exchange.service.jobs import Jobs
from verifier.protocol import FEE_ACCOUNT


class Service(Intake, Jobs):
    """One exchange instance; ``start()`` opens, sets up and loads it, ``stop()`` ends it."""


__all__ = ["FEE_ACCOUNT", "Service", "wall_clock"]
