"""Operator-only routes (bearer operator token): run a batch now."""

from fastapi import APIRouter, Depends

from exchange.api.deps import ServiceDep, require_operator
from exchange.api.errors import responses
from exchange.errors import Conflict, Forbidden, Internal, Unauthenticated
from exchange.models import BatchResult

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_operator)])


@router.post(
    "/batch",
    response_model=BatchResult,
    responses=responses(Unauthenticated, Forbidden, Conflict, Internal),
)
def batch(service: ServiceDep) -> BatchResult:
    done = service.run_batch()
    body = done.entry.body
    return BatchResult(
        batch_id=body["batch_id"],
        entry_index=done.entry.index,
        fills=done.fills,
        proofs=done.proofs,
        prices=list(body["oracle"]["marks"]),
        volume=list(body["volume"]),
        pending_listed=done.pending_listed,
    )
