"""What every request meets before a route reads its body: the size limit and the token.

An ASGI middleware in front of the app (docs/api.md, "Limits"):

- **Size.** A body larger than its limit is refused with 413 as soon as that is known:
  at once when `Content-Length` says so, else when the bytes counted as they arrive pass the
  limit (chunked bodies included). The rest is never read, so a large body costs neither
  time nor memory. The limit is `max_body_bytes` (PROTECT_MAX_BODY_BYTES, 1 MiB), or the
  path's own (`limits`: the screening imports take 50 MB).
- **Token.** On the API's operations that need a token (those its OpenAPI document secures
  with the bearer scheme, i.e. every route that depends on `deps.caller`: all but login and
  health; the document and its page are not operations), a request without
  `Authorization: Bearer …` is refused with the API's usual 401 before its body is read;
  one that carries a body has its token checked here too (`users.authenticate`, in a
  thread), so that a wrong token never gets its body read either. A request without a body
  has nothing to read: its route checks the token as before, once.

Refusals are the API's JSON errors under /api/, a short page elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.requests import cookie_parser
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from app.entrypoints.api.errors import error
from app.services.users import TooManyAttempts, Unauthorized, authenticate

API = "/api/"
NO_TOKEN = "send `Authorization: Bearer <token>`"  # the route's own words (deps.caller)
# The 413 page for the web pages (Chinese by default, English with ?lang=en or its cookie).
TOO_LARGE_PAGE = {
    "zh": ("请求过大", "提交的内容超过 {size} 的上限，未被接收。", "返回首页"),
    "en": ("Request too large", "What was sent is larger than the {size} limit; it was not "
           "taken.", "Back to the start page"),
}


class BodyTooLarge(Exception):
    """Raised into the app by `receive` once the bytes of a body pass its limit."""


def size_words(n: int) -> str:
    """1048576 → "1 MB", 52428800 → "50 MB", 5000 → "5000 bytes"."""
    return f"{n // 2**20} MB" if n % 2**20 == 0 else f"{n} bytes"


def too_large(scope: Scope, limit: int) -> Response:
    path = scope.get("path", "")
    message = f"the request body is larger than the limit of {size_words(limit)}"
    if path.startswith(API):
        return error(413, "payload_too_large", message)
    asked = QueryParams(scope.get("query_string", b"")).get("lang")
    kept = cookie_parser(Headers(scope=scope).get("cookie", "")).get("protect_lang")
    lang = "en" if (asked or kept) == "en" else "zh"
    title, text, back = TOO_LARGE_PAGE[lang]
    return HTMLResponse(
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        f'initial-scale=1"><title>{title}</title><link rel="stylesheet" '
        f'href="/static/style.css"></head><body><main><h1>{title}</h1>'
        f'<p class="problem" id="error-message">{escape(text.format(size=size_words(limit)))}'
        f'</p><p><a href="/">{back}</a></p></main></body></html>', status_code=413)


def unauthorized(message: str) -> Response:
    return error(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def token_operations(api: FastAPI) -> list[tuple[re.Pattern[str], str, bool]]:
    """Every operation of the API as (path pattern, method, needs a token), from its OpenAPI
    document: an operation needs the token when it names the bearer scheme (every route that
    depends on `deps.caller`), so the guard and the document cannot disagree."""
    out = []
    for path, operations in api.openapi().get("paths", {}).items():
        pattern = re.compile("^" + "[^/]+".join(re.escape(literal) for literal in re.split(
            r"\{[^{}/]+\}", path)) + "$")
        for method, operation in operations.items():
            out.append((pattern, method.upper(), bool(operation.get("security"))))
    return out


def closing(response: Response) -> Response:
    """The answer, and the connection closed after it: the rest of the body is not read
    (uvicorn would read it in to throw it away, to keep the connection alive)."""
    response.headers["Connection"] = "close"
    return response


def has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


def check_token(token: str) -> str | None:
    """None if the token authenticates as deps.caller takes it (an API token), else why not
    (the service's words)."""
    try:
        with db() as session:
            authenticate(session=session, token=token, now=clock.now(), kind="api")
    except Unauthorized as exc:
        return str(exc)
    except TooManyAttempts:
        return None  # every hashing slot busy: the route checks the token again, and says 429
    return None


class Guard:
    """The middleware (install it with `install`)."""

    def __init__(self, app: ASGIApp, *, api: FastAPI, limits: Mapping[str, int]) -> None:
        self.app, self.api, self.limits = app, api, dict(limits)
        self._operations: list[tuple[re.Pattern[str], str, bool]] | None = None

    async def token_needed(self, scope: Scope) -> bool:
        """Whether the operation asked for needs a token. An unknown path or method needs
        none here (the app answers 404 or 405 without reading the body)."""
        if self._operations is None:  # every route is there by the first request
            self._operations = await run_in_threadpool(token_operations, self.api)
        needed = [secured for pattern, method, secured in self._operations
                  if method == scope["method"] and pattern.match(scope["path"])]
        return bool(needed) and all(needed)

    def limit(self, scope: Scope) -> int:
        return self.limits.get(scope["path"], get_settings().max_body_bytes)

    async def refusal(self, scope: Scope, headers: Headers, limit: int) -> Response | None:
        """413 or 401 from the headers alone, else None."""
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return too_large(scope, limit)
        if not scope["path"].startswith(API) or not await self.token_needed(scope):
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return unauthorized(NO_TOKEN)
        if has_body(headers):
            why = await run_in_threadpool(check_token, token)
            if why is not None:
                return unauthorized(why)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, headers = self.limit(scope), Headers(scope=scope)
        refused = await self.refusal(scope, headers, limit)
        if refused is not None:
            await (closing(refused) if has_body(headers) else refused)(scope, receive, send)
            return

        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            # Once the body is over its limit, whatever the app answers (FastAPI calls a body
            # it could not read a 400) becomes the 413.
            nonlocal started
            if over:
                if not started and message["type"] == "http.response.start":
                    started = True
                    await closing(too_large(scope, limit))(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except BodyTooLarge:
            if not started:
                started = True
                await closing(too_large(scope, limit))(scope, receive, send)


def install(app: FastAPI, limits: Mapping[str, int] | None = None) -> None:
    """Put the guard in front of the app's routes; `limits`: a path's own body limit."""
    app.add_middleware(Guard, api=app, limits=limits or {})
