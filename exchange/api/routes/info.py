"""GET /v1/health and /v1/info: liveness/readiness and the exchange's public parameters."""

from fastapi import APIRouter, Response

from exchange.api.deps import AnyServiceDep, ServiceDep
from exchange.api.errors import responses
from exchange.models import Health, Info, PublicKeyModel, RootsModel, SetupModel

router = APIRouter(tags=["info"])


@router.get(
    "/health",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "not ready: status setting_up (with setup progress), failed or stopping",
        }
    },
)
def health(service: AnyServiceDep, response: Response) -> Health:
    """200 with status ``ok`` only when the exchange is ready to serve; 503 before and after."""
    h = service.health()
    p = h.setup
    if h.state != "ready":
        response.status_code = 503
    return Health(
        status="ok" if h.state == "ready" else h.state,
        batch_in_progress=h.batch_in_progress,
        ledger_entries=h.ledger_entries,
        pending_orders=h.pending_orders,
        setup=SetupModel(
            done=p.done, total=p.total, current=p.current, elapsed_s=p.elapsed_s, error=p.error
        ),
    )


@router.get("/info", response_model=Info, responses=responses())
def info(service: ServiceDep) -> Info:
    r = service.info()
    g = r.genesis
    return Info(
        exchange_id=r.exchange_id,
        profile=r.profile,
        state=r.state,
        params=g["params"],
        markets=g["markets"],
        operator_box_public_key=r.operator_box_public_key.hex(),
        oracle_pubkey=PublicKeyModel(**g["oracle_pubkey"]),
        vkey_hashes=g["vkey_hashes"],
        roots=RootsModel(**r.roots.to_dict()),
        total_collateral=str(r.total_collateral),
        ledger_entries=r.ledger_entries,
        next_batch_id=r.next_batch_id,
        latest_oracle=r.latest_oracle.to_json() if r.latest_oracle is not None else None,
        batch_interval_s=r.batch_interval_s,
    )
