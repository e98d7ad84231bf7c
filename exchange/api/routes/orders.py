"""Order routes: submit a sealed order, cancel it, read its status (owner only)."""

from fastapi import APIRouter

from exchange.api.deps import AuthAccount, RateLimitedClient, ServiceDep
from exchange.api.errors import responses
from exchange.api.routes import _parse
from exchange.errors import (
    Conflict,
    Forbidden,
    Malformed,
    NotFound,
    Rejected,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)
from exchange.models import (
    CancelRequest,
    CancelResult,
    OrderAccepted,
    OrderView,
    SubmitOrderRequest,
)
from exchange.service.results import OrderStatus

router = APIRouter(prefix="/orders", tags=["orders"])


def order_view_model(s: OrderStatus) -> OrderView:
    o = s.order
    return OrderView(
        commitment=str(s.commitment),
        status=s.status,
        order_index=s.order_index,
        account=o.account,
        market=o.market,
        side=o.side,
        size=str(o.size),
        limit_price=str(o.limit_price),
        expiry=o.expiry,
        filled=str(s.filled),
        reason=s.reason,
    )


@router.post(
    "",
    response_model=OrderAccepted,
    status_code=202,
    responses=responses(
        Malformed, NotFound, Conflict, Rejected, Unavailable, TooManyRequests, body=True
    ),
    dependencies=[RateLimitedClient],
)
def submit_order(body: SubmitOrderRequest, service: ServiceDep) -> OrderAccepted:
    commitment = _parse.field_int(body.commitment, "commitment")
    accepted = service.submit_order(commitment, body.ciphertext)
    return OrderAccepted(
        commitment=str(commitment), status=accepted.status, order_index=accepted.order_index
    )


@router.post(
    "/{commitment}/cancel",
    response_model=CancelResult,
    responses=responses(
        Malformed, Unauthenticated, NotFound, Conflict, Rejected, TooManyRequests, body=True
    ),
    dependencies=[RateLimitedClient],
)
def cancel(commitment: str, body: CancelRequest, service: ServiceDep) -> CancelResult:
    h = _commitment(commitment)
    index = service.cancel(h, _parse.signature(body.signature))
    return CancelResult(commitment=str(h), order_index=index, status="cancelled")


@router.get(
    "/{commitment}",
    response_model=OrderView,
    responses=responses(Malformed, Unauthenticated, Forbidden, NotFound, Rejected),
)
def order_status(commitment: str, caller: AuthAccount, service: ServiceDep) -> OrderView:
    h = _commitment(commitment)
    if service.order_owner(h) != caller:
        raise Forbidden("only the order's owner may read it")
    return order_view_model(service.order_view(h))


def _commitment(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 78:
        raise Malformed("commitment must be a decimal integer")
    return _parse.field_int(value, "commitment")
