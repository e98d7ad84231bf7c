"""Public ledger routes: entries, one entry, verification keys, latest roots."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from exchange.api.deps import ServiceDep
from exchange.models import LedgerPage, RootsView

router = APIRouter(tags=["ledger"])


@router.get("/ledger", response_model=LedgerPage)
def ledger(
    service: ServiceDep,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LedgerPage:
    return LedgerPage(**service.ledger_page(start, limit))


@router.get("/ledger/{index}", response_model=dict[str, Any])
def ledger_entry(index: int, service: ServiceDep) -> dict[str, Any]:
    return service.ledger_entry(index)


@router.get("/vkeys/{statement}", response_model=dict[str, Any])
def vkey(statement: str, service: ServiceDep) -> dict[str, Any]:
    return service.vkey(statement)


@router.get("/roots", response_model=RootsView)
def roots(service: ServiceDep) -> RootsView:
    return RootsView(**service.roots())
