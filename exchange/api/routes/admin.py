"""Operator-only routes (bearer operator token): run a batch now."""

from fastapi import APIRouter, Depends

from exchange.api.deps import ServiceDep, require_operator
from exchange.models import BatchResult

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_operator)])


@router.post("/batch", response_model=BatchResult)
def batch(service: ServiceDep) -> BatchResult:
    summary, pending = service.run_batch()
    body = summary.entry.body
    return BatchResult(
        batch_id=body["batch_id"],
        entry_index=summary.entry.index,
        fills=len(summary.fills),
        proofs=summary.proofs,
        prices=list(body["oracle"]["prices"]),
        volume=list(body["volume"]),
        pending_listed=pending,
    )
