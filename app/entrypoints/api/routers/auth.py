"""Log in for a token, see who you are, log out (revoke the token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.adapters.store import db
from app.domain import clock
from app.domain.access import Principal
from app.entrypoints.api.deps import caller
from app.entrypoints.api.schemas import LoginIn, Me, TokenOut
from app.services import users as auth

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut)
def login(body: LoginIn) -> TokenOut:
    """Exchange a username and password for a new API token (shown once)."""
    with db() as session:
        user, token = auth.login(session=session, username=body.username,
                                 password=body.password, now=clock.now())
        who = auth.principal(user)
        token_id = auth.authenticate(session=session, token=token, now=clock.now())[1]
    return TokenOut(username=who.username, agency=who.agency, roles=sorted(who.roles),
                    token=token, token_id=token_id)


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
