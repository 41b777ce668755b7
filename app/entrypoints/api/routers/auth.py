"""Log in for a token, see who you are, log out (revoke the token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.adapters.store import db
from app.domain import clock
from app.domain.access import Principal
from app.entrypoints.api.deps import caller
from app.entrypoints.api.errors import ErrorBody
from app.entrypoints.api.schemas import LoginIn, Me, TokenOut
from app.services import users as auth

router = APIRouter(prefix="/auth", tags=["auth"])

THROTTLED: dict[int | str, dict[str, Any]] = {429: {
    "model": ErrorBody, "description": "too many wrong passwords lately for this username or "
    "from this address (`too_many_attempts`); `Retry-After` says how many seconds to wait",
    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}}}


def client_address(request: Request) -> str:
    """The address logins are counted by: the connection's peer. Behind a reverse proxy that
    is the proxy's, unless uvicorn is told to trust its X-Forwarded-For (it trusts
    127.0.0.1's by default; FORWARDED_ALLOW_IPS for another proxy: docs/api.md)."""
    return request.client.host if request.client else "unknown"


@router.post("/login", response_model=TokenOut, responses=THROTTLED)
def login(request: Request, body: LoginIn) -> TokenOut:
    """Exchange a username and password for a new API token (shown once), which ends after
    PROTECT_API_TOKEN_DAYS days (`expires_at`). Too many wrong passwords for a username or
    from an address answer 429 for a while."""
    with db() as session:
        user, row, token = auth.login(session=session, username=body.username,
                                      password=body.password, now=clock.now(),
                                      address=client_address(request), kind="api")
        who = auth.principal(user)
    return TokenOut(username=who.username, agency=who.agency, roles=sorted(who.roles),
                    token=token, token_id=int(row.id or 0), expires_at=row.expires_at)


@router.get("/me", response_model=Me)
def me(who: Annotated[Principal, Depends(caller)]) -> Me:
    """The caller's username, agency and roles."""
    return Me(username=who.username, agency=who.agency, roles=sorted(who.roles))


@router.post("/logout", status_code=204)
def logout(request: Request, who: Annotated[Principal, Depends(caller)]) -> None:
    """Revoke the token this request was made with."""
    with db() as session:
        auth.revoke_token(session=session, token_id=request.state.token_id, actor=who.actor,
                          now=clock.now())
