"""GET /v1/health and /v1/info: liveness and the exchange's public parameters."""

from fastapi import APIRouter

from exchange.api.deps import ServiceDep
from exchange.models import Health, Info

router = APIRouter(tags=["info"])


@router.get("/health", response_model=Health)
def health(service: ServiceDep) -> Health:
    return Health(**service.health())


@router.get("/info", response_model=Info)
def info(service: ServiceDep) -> Info:
    return Info(**service.info())
