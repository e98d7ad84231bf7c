"""Order routes: submit a sealed order, cancel it, read its status (owner only)."""

from fastapi import APIRouter

from exchange.api.deps import AuthAccount, RateLimitedClient, ServiceDep
from exchange.api.errors import http_error, responses
from exchange.api.routes import _parse
from exchange.errors import (
    Conflict,
    DomainError,
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
    OrderBatchItem,
    OrdersBatchResult,
    OrderView,
    SubmitOrderRequest,
    SubmitOrdersRequest,
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
        order_id=o.order_id,
        reduce_only=o.reduce_only,
        holds_slot=s.holds_slot,
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
    "/batch",
    response_model=OrdersBatchResult,
    responses=responses(Unavailable, TooManyRequests, body=True),
    dependencies=[RateLimitedClient],
)
def submit_orders(body: SubmitOrdersRequest, service: ServiceDep) -> OrdersBatchResult:
    """Up to MAX_ORDERS_PER_REQUEST sealed orders in one request, each judged on its own.

    200 with one result per order, in order: accepted ones as POST /v1/orders
    answers them (code 202), refused ones with the status and reason POST
    /v1/orders would give (nothing changed for them). A request the schema
    refuses (more orders than the limit, a malformed field) is 422 as a whole.
    """
    parsed: list[int | DomainError] = []
    for item in body.orders:
        try:
            parsed.append(_parse.field_int(item.commitment, "commitment"))
        except DomainError as exc:
            parsed.append(exc)
    todo = [
        (h, item.ciphertext)
        for h, item in zip(parsed, body.orders, strict=True)
        if isinstance(h, int)
    ]
    outcomes = iter(service.submit_orders(todo))
    results: list[OrderBatchItem] = []
    for h, item in zip(parsed, body.orders, strict=True):
        outcome = next(outcomes) if isinstance(h, int) else h
        if isinstance(outcome, DomainError):
            results.append(
                OrderBatchItem(
                    commitment=item.commitment,
                    status="refused",
                    order_index=None,
                    code=http_error(outcome).status,
                    detail=outcome.reason,
                )
            )
        else:
            results.append(
                OrderBatchItem(
                    commitment=item.commitment,
                    status=outcome.status,
                    order_index=outcome.order_index,
                    code=202,
                    detail=None,
                )
            )
    accepted = sum(r.code == 202 for r in results)
    return OrdersBatchResult(accepted=accepted, refused=len(results) - accepted, results=results)


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
