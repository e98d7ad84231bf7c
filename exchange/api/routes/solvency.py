"""Solvency routes: start an on-demand solvency proof (operator) and poll the job (public)."""

from fastapi import APIRouter, Depends

from exchange.api.deps import ServiceDep, require_operator
from exchange.models import SolvencyJobView, SolvencyRequest

router = APIRouter(prefix="/solvency", tags=["solvency"])


@router.post(
    "",
    response_model=SolvencyJobView,
    status_code=202,
    dependencies=[Depends(require_operator)],
)
def start(body: SolvencyRequest, service: ServiceDep) -> SolvencyJobView:
    job_id = service.start_solvency(body.shock_bps)
    return SolvencyJobView(**service.job_view(job_id))


@router.get("/{job_id}", response_model=SolvencyJobView)
def job(job_id: str, service: ServiceDep) -> SolvencyJobView:
    return SolvencyJobView(**service.job_view(job_id))
