"""Intake: request authentication, account operations, sealed orders, cancels and the views.

Every method either returns a typed result (``exchange.service.results``) or
raises a ``exchange.errors.DomainError`` and changes nothing. Orders that
arrive while a batch holds the state lock are validated in full and queued
(``pending``); see ``exchange.service`` for the locking rules.
"""

import base64
import binascii
import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from nacl.exceptions import CryptoError

from exchange.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Malformed,
    NotFound,
    Rejected,
    Unauthenticated,
    Unavailable,
)
from exchange.operator import (
    INSURANCE_WITHDRAWAL_REFUSED,
    DuplicateOrder,
    OperatorError,
    RejectedOrder,
    SignatureRejected,
    UnknownAccount,
)
from exchange.service.core import Pending, ServiceCore
from exchange.service.results import (
    AccountOpDone,
    AccountReport,
    ExchangeInfo,
    Inclusion,
    LedgerSlice,
    OrderAccepted,
    OrderStatus,
    RootsReport,
)
from exchange.store import Change, NewOrder, StoreError
from exchange.store_writer import Ticket
from verifier import auth
from verifier.account_state import AccountRecord, SlottedOrder
from verifier.babyjub import Point
from verifier.eddsa import Signature, SignatureError, check_signature
from verifier.export import LedgerEntry
from verifier.field import FieldError
from verifier.protocol import FEE_ACCOUNT, is_expired

_T = TypeVar("_T")

log = logging.getLogger("darkpool.service")


class Intake(ServiceCore):
    """The request-facing half of the service."""

    # ------------------------------------------------------------ public views

    def info(self) -> ExchangeInfo:
        op = self.op
        genesis = dict(op.ledger.entries[0].body)
        return ExchangeInfo(
            exchange_id=op.exchange_id,
            profile=op.profile,
            state=str(genesis["state"]),
            genesis=genesis,
            operator_box_public_key=bytes(self.keys.box.public_key),
            roots=self._durable_ledger()[-1].roots_after,
            total_collateral=op.total_collateral,
            ledger_entries=len(self._durable_ledger()),
            next_batch_id=op.next_batch_id,
            latest_oracle=op.latest_report,
            batch_interval_s=self.settings.batch_interval_s,
        )

    def _durable_ledger(self) -> tuple[LedgerEntry, ...]:
        """The ledger entries already in the database.

        Entries are applied in memory before their group commits; a view
        never shows one that a crash could still take back (a restarted
        operator would sign a different entry at that index).
        """
        entries = self.op.ledger.entries
        return entries[: min(len(entries), self.durable_entries)]

    def roots(self) -> RootsReport:
        op = self.op
        last = self._durable_ledger()[-1]
        collateral = op.total_collateral  # orders (the only unanswered changes) keep it
        return RootsReport(last.index, last.roots_after, collateral)

    def ledger_page(self, start: int, limit: int) -> LedgerSlice:
        entries = self._durable_ledger()
        return LedgerSlice(start, len(entries), entries[start : start + limit])

    def ledger_entry(self, index: int) -> LedgerEntry:
        entries = self._durable_ledger()
        if not 0 <= index < len(entries):
            raise NotFound(f"ledger entry {index} does not exist")
        return entries[index]

    def vkey(self, statement: str) -> dict[str, object]:
        if statement not in self.engine.statements:
            raise NotFound(f"unknown statement {statement!r}")
        return self.op.artifacts(statement).verification_key()

    def _account(self, index: int) -> AccountRecord:
        state = self.op.accounts.get(index)
        if state is None:
            raise NotFound(f"account {index} does not exist")
        return state

    # ------------------------------------------------------------ request auth

    def authenticate(
        self,
        *,
        account: str | None,
        timestamp: str | None,
        signature: str | None,
        method: str,
        target: str,
        body: bytes,
    ) -> int:
        """Verify the auth headers of a request and burn its signature; returns the account."""
        try:
            index, ts_ms, sig = auth.parse_headers(account, timestamp, signature)
        except auth.AuthError as exc:
            raise Unauthenticated(str(exc)) from None
        state = self.op.accounts.get(index)
        if state is None:
            raise Unauthenticated(f"account {index} does not exist")
        window = self.settings.auth_window_s
        now = self._clock()
        try:
            claim = auth.verify_request(
                auth_tag=self.tags.auth,
                account=index,
                timestamp_ms=ts_ms,
                signature=sig,
                pubkey=Point(state.pub_x, state.pub_y),
                method=method,
                target=target,
                body=body,
                now_ms=self._clock_ms(),
                window=window,
            )
        except (auth.AuthError, FieldError) as exc:
            raise Unauthenticated(str(exc)) from None
        # Each signed message is remembered (in seconds) until it can no longer be fresh.
        if not self.store.use_nonce(
            account=index, message=claim.message, expires_at=ts_ms // 1000 + window + 2, now=now
        ):
            raise Unauthenticated("replayed request: this signature was already used")
        return index

    # ------------------------------------------------------------ account ops

    def open_account(
        self, pubkey: Point, amount: int, timestamp: int, signature: Signature
    ) -> tuple[int, int]:
        """Open an account for ``pubkey`` after checking the possession signature.

        Returns (account index, ledger entry index).
        """
        now = self._clock()
        if abs(now - timestamp) > self.settings.auth_window_s:
            raise Unauthenticated(f"timestamp {timestamp} is too far from now ({now})")
        try:
            msg = auth.open_account_message(self.tags.auth, pubkey, amount, timestamp)
            check_signature(msg, signature, pubkey)
        except FieldError as exc:
            raise Rejected(str(exc)) from None
        except SignatureError as exc:
            raise Unauthenticated(f"possession signature rejected: {exc}") from None
        # Replay guard keyed by a pseudo account -1: opens have no index yet.
        if not self.store.use_nonce(
            account=-1, message=msg, expires_at=timestamp + self.settings.auth_window_s + 1, now=now
        ):
            raise Conflict("replayed open request")
        return self._account_op(None, lambda: self.op.open_account(pubkey, amount))

    def deposit(self, index: int, amount: int) -> AccountOpDone:
        return AccountOpDone(*self._account_op(index, lambda: self.op.deposit(index, amount)))

    def withdraw(self, index: int, amount: int, signature: Signature) -> AccountOpDone:
        """Withdraw at the latest signed marks, after the funding they are due.

        First the checks that need no marks (``SlotsOperator.check_withdrawal``:
        signature at the current nonce, amount range; Unauthenticated or
        Rejected), so a refused request runs nothing and changes nothing.
        Then, if a funding interval has ended (or the marks are missing or too
        old for an entry now), the batch the batcher would run next runs first,
        so the funding update is published before the withdrawal and the
        account settles at the new indices (``Jobs._fresh_marks_for_withdrawal``;
        at most one batch per request; Unavailable while other batches keep
        it busy); the margin check at the marks is ``op.withdraw``'s.
        Forbidden for account 0 (the insurance fund; its key is the operator's):
        refused before anything runs, darkpool-verify would fail the entry.
        """
        if index == FEE_ACCOUNT:
            raise Forbidden(INSURANCE_WITHDRAWAL_REFUSED)
        self._account(index)  # NotFound before anything runs
        with self._lock:  # the nonce it reads is current
            try:
                self.op.check_withdrawal(index, amount, signature)
            except SignatureRejected as exc:
                raise Unauthenticated(str(exc)) from None
            except OperatorError as exc:
                raise Rejected(str(exc)) from None
        self._fresh_marks_for_withdrawal()
        return AccountOpDone(
            *self._account_op(index, lambda: self.op.withdraw(index, amount, signature))
        )

    def _account_op(self, account: int | None, apply: Callable[[], _T]) -> tuple[_T, int]:
        """Run one proven account op under the mutation lock and store its ledger entry.

        ``account`` (when given) must exist (NotFound). The operator's refusal
        becomes Rejected (a bad withdrawal signature: Unauthenticated). Returns
        (``apply``'s result, the entry's ledger index).
        """
        with self._mutating():
            if account is not None:
                self._account(account)
            try:
                result = apply()
            except SignatureRejected as exc:
                raise Unauthenticated(str(exc)) from None
            except OperatorError as exc:
                raise Rejected(str(exc)) from None
            entry = self.op.ledger.entries[-1]
            self._persist(entries=[entry.to_dict()], **self._stored_state())
        return result, entry.index

    # ------------------------------------------------------------ orders

    def _open(self, ciphertext: bytes) -> tuple[SlottedOrder, Signature]:
        try:
            plaintext = self._box.decrypt(ciphertext)
        except CryptoError:
            raise Malformed("ciphertext does not open with the operator key") from None
        try:
            return self.engine.parse_order(plaintext)
        except auth.OrderFormatError as exc:
            raise Malformed(str(exc)) from None

    def check_client_rate(self, ip: str) -> None:
        """Count a mutating request from ``ip``; TooManyRequests over the per-IP limit."""
        self.limits.hit_ip(ip)

    def submit_order(self, commitment: int, ciphertext_b64: str) -> OrderAccepted:
        """Decrypt, check and accept an order: ("listed", index) or ("pending", None)."""
        accepted, ticket = self._accept_order(commitment, ciphertext_b64)
        # Answer only once the order is durable (group commit: one fsync for
        # every order that queued meanwhile, exchange.store_writer).
        self._await(ticket)
        return accepted

    def submit_orders(self, orders: Sequence[tuple[int, str]]) -> list[OrderAccepted | DomainError]:
        """Each (commitment, ciphertext) taken exactly as ``submit_order`` takes it, in order.

        Returns, per order, its acceptance or the DomainError ``submit_order``
        would have raised (a refused order changes nothing; a later order of
        the same request may still be accepted, and a repeated commitment is
        a Conflict). Accepted orders are queued for the group commit one after
        another and answered once all of them are durable (one wait, so a
        request of N orders costs about one commit); one that could not be
        stored becomes Unavailable.
        """
        results: list[OrderAccepted | DomainError] = []
        tickets: list[tuple[int, Ticket]] = []
        for commitment, ciphertext_b64 in orders:
            try:
                accepted, ticket = self._accept_order(commitment, ciphertext_b64)
            except DomainError as exc:
                results.append(exc)
                continue
            tickets.append((len(results), ticket))
            results.append(accepted)
        for at, ticket in tickets:
            try:
                self._await(ticket)
            except Unavailable as exc:
                results[at] = exc
        return results

    def _accept_order(self, commitment: int, ciphertext_b64: str) -> tuple[OrderAccepted, Ticket]:
        """Check and accept one order in memory; the ticket is its queued database change."""
        try:
            ciphertext = base64.b64decode(ciphertext_b64, validate=True)
        except (binascii.Error, ValueError):
            raise Malformed("ciphertext is not valid base64") from None
        order, signature = self._open(ciphertext)
        with self._intake:
            if commitment in self._listed or any(p.commitment == commitment for p in self._pending):
                raise Conflict("duplicate order: this commitment was already accepted")
            pending = [(p.order, p.commitment) for p in self._pending]
            try:
                h = self.op.validate_order(order, signature, pending=pending)
            except UnknownAccount as exc:
                raise NotFound(exc.reason) from None
            except DuplicateOrder as exc:
                raise Conflict(exc.reason) from None
            except RejectedOrder as exc:
                raise Rejected(exc.reason) from None
            if h != commitment:
                raise Rejected("commitment does not match the decrypted order")
            # Only now, with the owner's signature checked: anyone can name any
            # account, so a refused order must not spend the owner's budget.
            self.limits.hit_account(order.account)
            received = time.time_ns() // 1_000_000
            if self._lock.acquire(blocking=False):
                try:
                    if self.writer.broken:  # memory is ahead of the database: reload it
                        self._recover()
                        raise Unavailable("the database recovered from a failed write; retry")
                    # Nothing may be queued while _lock is free; keep order anyway.
                    self._list_pending()
                    index = self.op.append_order(order, signature, h)
                    entry = self.op.ledger.entries[-1]
                    ticket = self._submit(
                        Change(
                            entries=[entry.to_dict()],
                            new_orders=[NewOrder(h, ciphertext, received, "listed", index)],
                        )
                    )
                    self._listed[h] = index
                finally:
                    self._lock.release()
                accepted = OrderAccepted("listed", index)
            else:
                try:
                    ticket = self.writer.submit(
                        Change(new_orders=[NewOrder(h, ciphertext, received, "pending")])
                    )
                except StoreError:
                    raise Unavailable("the database is recovering; retry") from None
                self._pending.append(Pending(order, signature, h))
                accepted = OrderAccepted("pending", None)
        return accepted, ticket

    def _order_lookup(self, commitment: int) -> tuple[SlottedOrder, int | None]:
        index = self._listed.get(commitment)
        if index is not None:
            return self.op.order_terms(index), index
        for p in self._pending:
            if p.commitment == commitment:
                return p.order, None
        raise NotFound("no such order")

    def order_owner(self, commitment: int) -> int:
        return self._order_lookup(commitment)[0].account

    def order_view(self, commitment: int) -> OrderStatus:
        order, index = self._order_lookup(commitment)
        filled, cancelled = self.op.order_status(index) if index is not None else (0, False)
        if index is None:
            status = "pending"
        elif cancelled:
            status = "cancelled"
        elif filled >= order.size:
            status = "filled"
        elif is_expired(order.expiry, self._clock()):
            status = "expired"
        else:
            status = "open"
        reason = (
            self.op.order_reasons.get(index) if status == "open" and index is not None else None
        )
        holds = self.engine.holds_slot(self.op, index)
        return OrderStatus(commitment, status, index, order, filled, reason, holds)

    def cancel(self, commitment: int, signature: Signature) -> int:
        """Cancel a listed order (signed by its owner); returns its order index.

        The signature is over Poseidon(CANCEL_TAG, h)
        (``verifier.account_state.cancel_order_message``); the cancel is
        appended as a ``cancel`` ledger entry that the next batch executes.
        """
        _, index = self._order_lookup(commitment)
        if index is None:
            raise Conflict("order is pending (a batch is running); cancel it after")
        with self._mutating():
            start = len(self.op.ledger)
            try:
                # The signature first: commitments are public, so anyone can send
                # cancels naming an order; only its owner's count against the limit.
                self.op.check_cancel_signature(index, signature)
                self.limits.hit_account(self.op.order_terms(index).account)
                self.op.cancel_index(index, signature, checked=True)
            except SignatureRejected as exc:
                raise Unauthenticated(str(exc)) from None
            except OperatorError as exc:
                raise Conflict(str(exc)) from None
            entries = [e.to_dict() for e in self.op.ledger.entries[start:]]
            self._persist(entries=entries, cancelled=[commitment], **self._stored_state())
        return index

    # ------------------------------------------------------------ account views

    def account_view(self, index: int) -> AccountReport:
        state = self._account(index)
        orders = [
            self.order_view(h)
            for h, i in sorted(self._listed.items(), key=lambda kv: kv[1])
            if self.op.order_terms(i).account == index
        ]
        orders += [self.order_view(p.commitment) for p in self._pending if p.order.account == index]
        liquidations = tuple(
            e.index
            for e in self._durable_ledger()
            if e.kind == "liquidation" and e.body.get("account") == index
        )
        return AccountReport(
            index, state, self.op.account_root, tuple(orders), liquidations=liquidations
        )

    def inclusion(self, index: int, root: int | None) -> Inclusion:
        """Opening + path of ``index`` under ``root`` (current, or an older stored one)."""
        self._account(index)
        return self.engine.inclusion(self.op, self.store, index, root)
