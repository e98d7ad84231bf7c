"""Batch routes: a batch's status, ``proving`` from the moment its oracle report is fixed."""

import json

from fastapi import APIRouter, Path

from exchange.api.deps import ServiceDep
from exchange.api.errors import responses
from exchange.errors import NotFound
from exchange.models import BatchView

router = APIRouter(prefix="/batches", tags=["ledger"])


@router.get("/{batch_id}", response_model=BatchView, responses=responses(NotFound))
def batch(
    service: ServiceDep, batch_id: int = Path(ge=0, le=2**63 - 1, description="batch id")
) -> BatchView:
    """``proving`` while the batch's proofs are pending (also across an operator restart),
    ``published`` with its ledger entry index, or ``failed`` (nothing changed)."""
    job = service.batch_view(batch_id)
    return BatchView(
        batch_id=job.batch_id,
        status=job.status,
        oracle_seq=int(json.loads(job.report)["seq"]),
        proofs_done=job.proofs_done,
        starts=job.starts,
        ledger_index=job.ledger_index if job.status == "published" else None,
        error=job.error,
    )
