"""The web pages: server-rendered HTML in the API's FastAPI app, over the service layer.

Sessions are signed cookies (Starlette's SessionMiddleware, HttpOnly, SameSite=Lax, Secure in
production) holding the user's web token; every form carries the session's CSRF token; every
answer carries the security headers (headers.py: CSP, no framing). Chinese by default,
English with `?lang=en` (kept in a cookie). Design and decisions: docs/web.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from app.config.settings import get_settings
from app.domain.errors import ProtectError

STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "protect_session"


def _by_path(json_handler: Callable[..., Any]) -> Callable[..., Any]:
    """The API's JSON answer under /api/, an HTML page everywhere else."""
    from app.entrypoints.web.pages import error_page

    def handle(request: Request, exc: Exception) -> Any:
        if request.url.path.startswith("/api/"):
            return json_handler(request, exc)
        return error_page(request, exc)

    return handle


def install(app: FastAPI) -> None:
    """Mount the pages at `/`, their static files at `/static`, sessions, HTML errors and
    the security headers (outermost: the guard's 401 and 413 carry them too)."""
    from app.entrypoints.web.headers import SecurityHeaders, secured
    from app.entrypoints.web.pages import router

    s = get_settings()
    app.add_middleware(SessionMiddleware, secret_key=s.session_key,
                       session_cookie=SESSION_COOKIE, max_age=s.session_max_age_s,
                       same_site="lax", https_only=s.env == "production")
    app.add_middleware(SecurityHeaders, docs=(app.docs_url, app.swagger_ui_oauth2_redirect_url))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    for exc_class in (ProtectError, HTTPException, RequestValidationError, Exception):
        handler = app.exception_handlers.get(exc_class)
        if handler is not None:
            by_path = _by_path(handler)
            app.add_exception_handler(exc_class, secured(by_path) if exc_class is Exception
                                      else by_path)
