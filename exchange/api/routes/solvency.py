"""Solvency routes: start an on-demand solvency proof (operator) and poll the job (public)."""

from fastapi import APIRouter, Depends

from exchange.api.deps import ServiceDep, require_operator
from exchange.api.errors import responses
from exchange.errors import Conflict, Forbidden, NotFound, Rejected, Unauthenticated
from exchange.models import SolvencyJobView, SolvencyRequest
from exchange.service.results import JobReport

router = APIRouter(prefix="/solvency", tags=["solvency"])


def _job_model(r: JobReport) -> SolvencyJobView:
    j = r.job
    return SolvencyJobView(
        id=j.id,
        status=j.status,
        shock_bps=j.shock_bps,
        done=j.done,
        total=j.total,
        error=j.error,
        entry=r.entry.to_dict() if r.entry is not None else None,
    )


@router.post(
    "",
    response_model=SolvencyJobView,
    status_code=202,
    dependencies=[Depends(require_operator)],
    responses=responses(Unauthenticated, Forbidden, Conflict, Rejected, body=True),
)
def start(body: SolvencyRequest, service: ServiceDep) -> SolvencyJobView:
    job_id = service.start_solvency(body.shock_bps)
    return _job_model(service.job_view(job_id))


@router.get("/{job_id}", response_model=SolvencyJobView, responses=responses(NotFound))
def job(job_id: str, service: ServiceDep) -> SolvencyJobView:
    return _job_model(service.job_view(job_id))
