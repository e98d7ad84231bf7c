"""Account routes: open, deposit, withdraw (proven account ops) and the owner's views."""

from typing import Annotated

from fastapi import APIRouter, Query

from exchange.api.deps import AuthAccount, ServiceDep
from exchange.api.routes import _parse
from exchange.models import (
    AccountOpened,
    AccountOpResult,
    AccountView,
    DepositRequest,
    InclusionView,
    OpenAccountRequest,
    WithdrawRequest,
)
from exchange.service import ServiceError

router = APIRouter(prefix="/accounts", tags=["accounts"])


def _own(account: int, caller: int) -> None:
    if account != caller:
        raise ServiceError(403, "requests for an account must be signed by its key")


@router.post("", response_model=AccountOpened, status_code=201)
def open_account(body: OpenAccountRequest, service: ServiceDep) -> AccountOpened:
    pubkey = _parse.public_key(body.pubkey.model_dump())
    sig = _parse.signature(body.signature)
    index, entry = service.open_account(pubkey, int(body.amount), body.timestamp, sig)
    return AccountOpened(account=index, entry_index=entry)


@router.post("/{account}/deposit", response_model=AccountOpResult)
def deposit(
    account: int, body: DepositRequest, caller: AuthAccount, service: ServiceDep
) -> AccountOpResult:
    _own(account, caller)
    state, entry = service.deposit(account, int(body.amount))
    return AccountOpResult(
        account=account, entry_index=entry, balance=str(state.balance), nonce=state.nonce
    )


@router.post("/{account}/withdraw", response_model=AccountOpResult)
def withdraw(
    account: int, body: WithdrawRequest, caller: AuthAccount, service: ServiceDep
) -> AccountOpResult:
    _own(account, caller)
    sig = _parse.signature(body.signature)
    state, entry = service.withdraw(account, int(body.amount), sig)
    return AccountOpResult(
        account=account, entry_index=entry, balance=str(state.balance), nonce=state.nonce
    )


@router.get("/{account}", response_model=AccountView)
def account_view(account: int, caller: AuthAccount, service: ServiceDep) -> AccountView:
    _own(account, caller)
    return AccountView(**service.account_view(account))


@router.get("/{account}/inclusion", response_model=InclusionView)
def inclusion(
    account: int,
    caller: AuthAccount,
    service: ServiceDep,
    root: Annotated[str | None, Query(pattern=r"^(0|[1-9][0-9]{0,77})$")] = None,
) -> InclusionView:
    _own(account, caller)
    return InclusionView(**service.inclusion(account, int(root) if root is not None else None))
