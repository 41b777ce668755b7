"""What every route needs: the caller (from the bearer token) and a permission check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.adapters.store import db
from app.domain import access, clock
from app.domain.access import Principal
from app.domain.errors import Forbidden, ValidationFailed
from app.services.users import Unauthorized, authenticate

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`: "
                    "`protect user token NAME` or POST /api/v1/auth/login.")

CaseRef = Annotated[str, Path(description="Case number (C2026-000001) or id.",
                              pattern=r"^(C\d{4}-\d{6,12}|\d{1,12})$")]
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def caller(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None,
                                               Security(bearer)]) -> Principal:
    """The user behind the request's bearer token; 401 without a valid one (unknown,
    revoked, expired, a web session's, or its user inactive)."""
    if creds is None:
        raise Unauthorized("send `Authorization: Bearer <token>`")
    with db() as session:
        # A web page session's token (kind "web") is refused here, as an API token is by
        # the pages: the session cookie carries no bearer token of the API.
        who, token_id = authenticate(session=session, token=creds.credentials, now=clock.now(),
                                     kind="api")
    request.state.token_id = token_id
    return who


def require(action: str) -> Callable[..., Principal]:
    """A dependency: the caller, if their roles allow `action` (app/domain/access.py), else 403."""

    def check(who: Annotated[Principal, Depends(caller)]) -> Principal:
        if not access.allowed(who, action):
            raise Forbidden(f"{action} is not open to the roles {', '.join(sorted(who.roles))}")
        return who

    return check


def no_nul(value: Any, path: str = "body") -> None:
    """Refuse NUL characters anywhere in a JSON body: no database stores them as text."""
    from expectations.runner import FieldError

    if isinstance(value, str) and "\x00" in value:
        raise ValidationFailed([FieldError(field=path, code=f"{path}.nul_character",
                                           message="text may not contain NUL characters",
                                           message_zh="文本不能包含 NUL 字符")])
    if isinstance(value, dict):
        for k, v in value.items():
            no_nul(k, path)
            no_nul(v, f"{path}.{k}" if path != "body" else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            no_nul(v, f"{path}.{i}")


def display_lang(request: Request, lang: Annotated[str | None, Query(
        pattern="^(zh|en)$", description="The language of the display fields (`step_name`, "
                                         "`owner_name`, …): zh (default) or en; without it, "
                                         "the first language of `Accept-Language`.")] = None
                 ) -> str:
    """The language of the answer's display fields: `?lang=`, else Accept-Language, else zh.
    Codes are the same in every language."""
    if lang:
        return lang
    first = request.headers.get("accept-language", "").split(",", 1)[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


DisplayLang = Annotated[str, Depends(display_lang)]


def allow(action: str) -> Any:
    """`who: Annotated[Principal, allow("case.read")]`: the caller, if allowed to."""
    return Depends(require(action))
