"""Security headers on every answer: the pages and their static files, the API, its docs page.

- The pages: a Content-Security-Policy that takes scripts and styles from this site only
  (`static/`), no inline script, style attribute or `javascript:` URL, forms posting here
  only, and no framing; the charts are inline SVG, drawn with presentation attributes.
- The API's answers are data: `default-src 'none'`, no framing.
- The Swagger UI page (`docs_url`, FastAPI's) is the exception: it loads its script and style
  sheet from jsDelivr and starts with one inline script. Its policy names that CDN and takes
  the inline script by its hash (computed from the page as sent, so it follows FastAPI's
  version), never 'unsafe-inline'; its icons are data: images. It shows no personal data;
  the CDN's script runs at this origin all the same (docs/web.md, "Security headers").

Everywhere: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (for browsers that
ignore frame-ancestors), `Referrer-Policy: no-referrer` (no case number leaves in a
Referer, to the Prefect UI or elsewhere). Design: docs/web.md, "Security headers".
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
CDN = "https://cdn.jsdelivr.net"  # where FastAPI's Swagger UI page loads its files from
DOCS_CSP = (f"default-src 'none'; script-src {CDN} {{hashes}}; style-src {CDN}; "
            "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
          "Referrer-Policy": "no-referrer"}
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
DOCS_MAX = 256 * 1024  # the docs page is a few hundred bytes; never hold more than this


def script_hashes(html: bytes) -> str:
    """The CSP hash source of every inline script of the page ('sha256-…')."""
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
                    for body in INLINE_SCRIPT.findall(html)) or "'none'"


def policy_for(path: str) -> str:
    return API_CSP if path.startswith("/api/") else PAGE_CSP


def set_defaults(headers: MutableHeaders, policy: str) -> None:
    """The policy and the common headers, each where the answer has none of its own."""
    headers.setdefault("Content-Security-Policy", policy)
    for name, value in COMMON.items():
        headers.setdefault(name, value)


def secured(handler: Callable[[Request, Exception], Any]) -> Callable[[Request, Exception], Any]:
    """An exception handler whose answer carries the headers itself: Starlette sends the
    answer to an unexpected exception (500) from its outermost middleware, past this one."""

    def handle(request: Request, exc: Exception) -> Any:
        response = handler(request, exc)
        set_defaults(response.headers, policy_for(request.url.path))
        return response

    return handle


class SecurityHeaders:
    """The middleware: the policy by path, set on every answer that has none of its own."""

    def __init__(self, app: ASGIApp, *, docs: Iterable[str] = ()) -> None:
        self.app, self.docs = app, frozenset(p for p in docs if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in self.docs:
            await self.docs_page(scope, receive, send)
            return
        policy = policy_for(path)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                set_defaults(MutableHeaders(scope=message), policy)
            await send(message)

        await self.app(scope, receive, with_headers)

    async def docs_page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the (small) page until it is whole, then send it with its scripts' hashes."""
        start: Message | None = None
        body = bytearray()

        async def held(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False) and len(body) <= DOCS_MAX:
                return
            set_defaults(MutableHeaders(scope=start),
                         DOCS_CSP.format(hashes=script_hashes(bytes(body))))
            await send(start)
            await send({**message, "body": bytes(body)})
            start = None  # the rest, if any, goes through as it comes
            body.clear()

        await self.app(scope, receive, held)
