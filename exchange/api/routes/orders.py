"""Order routes: submit a sealed order, cancel it, read its status (owner only)."""

from fastapi import APIRouter

from exchange.api.deps import AuthAccount, ServiceDep
from exchange.api.routes import _parse
from exchange.models import (
    CancelRequest,
    CancelResult,
    OrderAccepted,
    OrderView,
    SubmitOrderRequest,
)
from exchange.service import ServiceError

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", response_model=OrderAccepted, status_code=202)
def submit_order(body: SubmitOrderRequest, service: ServiceDep) -> OrderAccepted:
    commitment = _parse.field_int(body.commitment, "commitment")
    status, index = service.submit_order(commitment, body.ciphertext)
    return OrderAccepted(commitment=str(commitment), status=status, order_index=index)


@router.post("/{commitment}/cancel", response_model=CancelResult)
def cancel(commitment: str, body: CancelRequest, service: ServiceDep) -> CancelResult:
    h = _commitment(commitment)
    index = service.cancel(h, _parse.signature(body.signature))
    return CancelResult(commitment=str(h), order_index=index, status="cancelled")


@router.get("/{commitment}", response_model=OrderView)
def order_status(commitment: str, caller: AuthAccount, service: ServiceDep) -> OrderView:
    h = _commitment(commitment)
    if service.order_owner(h) != caller:
        raise ServiceError(403, "only the order's owner may read it")
    return OrderView(**service.order_view(h))


def _commitment(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 78:
        raise ServiceError(400, "commitment must be a decimal integer")
    return _parse.field_int(value, "commitment")
