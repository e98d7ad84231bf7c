"""Fixtures shared by the exchange tests: the one honest slots ledger (built once per session)."""

from tests.exchange.slots_ledger import slots_ledger

__all__ = ["slots_ledger"]
