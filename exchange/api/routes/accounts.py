"""Account routes: open, deposit, withdraw (proven account ops) and the owner's views."""

from typing import Annotated

from fastapi import APIRouter, Query

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
)
from exchange.models import (
    AccountOpened,
    AccountOpResult,
    AccountView,
    DepositRequest,
    InclusionView,
    OpenAccountRequest,
    PublicKeyModel,
    WithdrawRequest,
)
from exchange.service.results import AccountOpDone

router = APIRouter(prefix="/accounts", tags=["accounts"])
_SIGNED = (Unauthenticated, Forbidden, NotFound)


def _own(account: int, caller: int) -> None:
    if account != caller:
        raise Forbidden("requests for an account must be signed by its key")


def _op_result(account: int, done: AccountOpDone) -> AccountOpResult:
    return AccountOpResult(
        account=account,
        entry_index=done.entry_index,
        balance=str(done.state.balance),
        nonce=done.state.nonce,
    )


@router.post(
    "",
    response_model=AccountOpened,
    status_code=201,
    responses=responses(Malformed, Unauthenticated, Conflict, Rejected, TooManyRequests, body=True),
    dependencies=[RateLimitedClient],
)
def open_account(body: OpenAccountRequest, service: ServiceDep) -> AccountOpened:
    pubkey = _parse.public_key(body.pubkey.model_dump())
    sig = _parse.signature(body.signature)
    index, entry = service.open_account(pubkey, int(body.amount), body.timestamp, sig)
    return AccountOpened(account=index, entry_index=entry)


@router.post(
    "/{account}/deposit",
    response_model=AccountOpResult,
    responses=responses(*_SIGNED, Rejected, TooManyRequests, body=True),
    dependencies=[RateLimitedClient],
)
def deposit(
    account: int, body: DepositRequest, caller: AuthAccount, service: ServiceDep
) -> AccountOpResult:
    _own(account, caller)
    return _op_result(account, service.deposit(account, int(body.amount)))


@router.post(
    "/{account}/withdraw",
    response_model=AccountOpResult,
    responses=responses(*_SIGNED, Malformed, Rejected, TooManyRequests, body=True),
    dependencies=[RateLimitedClient],
)
def withdraw(
    account: int, body: WithdrawRequest, caller: AuthAccount, service: ServiceDep
) -> AccountOpResult:
    _own(account, caller)
    sig = _parse.signature(body.signature)
    return _op_result(account, service.withdraw(account, int(body.amount), sig))


@router.get("/{account}", response_model=AccountView, responses=responses(*_SIGNED))
def account_view(account: int, caller: AuthAccount, service: ServiceDep) -> AccountView:
    from exchange.api.routes.orders import order_view_model

    _own(account, caller)
    r = service.account_view(account)
    s = r.state
    return AccountView(
        account=r.index,
        pubkey=PublicKeyModel(x=str(s.pub_x), y=str(s.pub_y)),
        balance=str(s.balance),
        positions=[str(x) for x in s.positions],
        nonce=s.nonce,
        blinding=str(s.blinding),
        leaf=str(s.leaf()),
        account_root=str(r.account_root),
        checkpoints=[str(c) for c in s.checkpoints],
        order_root=str(s.order_root),
        orders=[order_view_model(o) for o in r.orders],
        liquidations=list(r.liquidations),
    )


@router.get("/{account}/inclusion", response_model=InclusionView, responses=responses(*_SIGNED))
def inclusion(
    account: int,
    caller: AuthAccount,
    service: ServiceDep,
    root: Annotated[str | None, Query(pattern=r"^(0|[1-9][0-9]{0,77})$")] = None,
) -> InclusionView:
    _own(account, caller)
    r = service.inclusion(account, int(root) if root is not None else None)
    return InclusionView(
        account=r.index,
        root=str(r.root),
        leaf=str(r.leaf),
        siblings=[[str(y) for y in x] for x in r.siblings],
        opening=dict(r.opening),
    )
