"""Public ledger routes: entries, one entry, verification keys, latest roots."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from exchange.api.deps import ServiceDep
from exchange.api.errors import responses
from exchange.errors import NotFound
from exchange.models import LedgerPage, RootsModel, RootsView

router = APIRouter(tags=["ledger"])


@router.get("/ledger", response_model=LedgerPage, responses=responses())
def ledger(
    service: ServiceDep,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LedgerPage:
    page = service.ledger_page(start, limit)
    return LedgerPage(
        start=page.start, total=page.total, entries=[e.to_dict() for e in page.entries]
    )


@router.get("/ledger/{index}", response_model=dict[str, Any], responses=responses(NotFound))
def ledger_entry(index: int, service: ServiceDep) -> dict[str, Any]:
    return service.ledger_entry(index).to_dict()


@router.get("/vkeys/{statement}", response_model=dict[str, Any], responses=responses(NotFound))
def vkey(statement: str, service: ServiceDep) -> dict[str, Any]:
    return service.vkey(statement)


@router.get("/roots", response_model=RootsView, responses=responses())
def roots(service: ServiceDep) -> RootsView:
    r = service.roots()
    return RootsView(
        ledger_index=r.ledger_index,
        roots=RootsModel(**r.roots.to_dict()),
        total_collateral=str(r.total_collateral),
    )
