"""The guard in front of the routes (app/entrypoints/api/guard.py): a body over its limit is
refused with 413 without being read, and a request without a valid token with 401 before
its body is read. In-process against the ASGI app with a `receive` that counts what the app
takes, and once against uvicorn over a socket."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.config.settings import get_settings
from app.entrypoints.api.routers.screening import MAX_FILE_BYTES
from tests.conftest import LOGS, free_port

CHUNK = 64 * 1024
LIMIT = 1024 * 1024  # PROTECT_MAX_BODY_BYTES's default, which the tests run with


@pytest.fixture(scope="module")
def app(store: str) -> Any:
    from app.entrypoints.api import create_app

    assert get_settings().max_body_bytes == LIMIT
    return create_app()


class Sent:
    """One request through the ASGI app: its body offered in chunks, what the app took of it
    counted, its answer kept."""

    def __init__(self, app: Any, method: str, path: str, body: bytes | int = b"", *,
                 headers: dict[str, str] | None = None, length: bool = True) -> None:
        self.size = body if isinstance(body, int) else len(body)
        self.data = body if isinstance(body, bytes) else None
        raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        raw.append((b"host", b"testserver"))
        if self.size:
            raw.append((b"content-length", str(self.size).encode()) if length
                       else (b"transfer-encoding", b"chunked"))
        path, _, query = path.partition("?")
        self.scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                      "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                      "query_string": query.encode(), "root_path": "", "headers": raw,
                      "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {}}
        self.taken, self.messages = 0, []  # type: ignore[var-annotated]
        with ThreadPoolExecutor(1) as thread:  # a loop of its own: Playwright's may be running
            thread.submit(asyncio.run, app(self.scope, self.receive, self.send)).result()
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        self.body = b"".join(m.get("body", b"") for m in self.messages
                             if m["type"] == "http.response.body")

    async def receive(self) -> dict[str, Any]:
        if self.taken >= self.size:
            return {"type": "http.disconnect"}  # as a client that has sent everything
        n = min(CHUNK, self.size - self.taken)
        piece = self.data[self.taken:self.taken + n] if self.data is not None else b" " * n
        self.taken += n
        return {"type": "http.request", "body": piece, "more_body": self.taken < self.size}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def error(self) -> dict[str, Any]:
        return dict(json.loads(self.body)["error"])


def web_token() -> str:
    """A web page session's token: the API refuses it."""
    from app.adapters.store import db
    from app.domain import clock
    from app.services import users

    with db() as session:
        user = users.add_user(session=session, username=f"web-{uuid.uuid4().hex[:8]}",
                              agency="center", roles=["coordinator"], password=None,
                              actor="test", now=clock.now())
        return users.issue_token(session=session, user=user, name="web", actor="test",
                                 now=clock.now(), kind="web")[1]


def json_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    head = b'{"decision": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_with_413_without_being_read(
        app: Any, login: Any, length: bool) -> None:
    coordinator = login("center", "coordinator")
    sent = Sent(app, "POST", "/api/v1/cases", 100 * 2**20, headers=coordinator, length=length)
    assert sent.status == 413
    assert sent.error() == {"code": "payload_too_large", "fields": [],
                            "message": "the request body is larger than the limit of 1 MB"}
    assert sent.headers["connection"] == "close"  # the rest is not taken in either
    # Content-Length says it at once: nothing read. Chunked: read up to the limit, no more.
    assert sent.taken == (0 if length else LIMIT + CHUNK)


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_the_limit_itself_is_taken(app: Any, length: bool) -> None:
    # POST /auth/login needs no token: the body reaches the route, which refuses its form.
    at = Sent(app, "POST", "/api/v1/auth/login", json_body(LIMIT),
              headers={"content-type": "application/json"}, length=length)
    assert (at.status, at.taken) == (422, LIMIT), at.body[:200]
    over = Sent(app, "POST", "/api/v1/auth/login", json_body(LIMIT + 1),
                headers={"content-type": "application/json"}, length=length)
    assert over.status == 413 and over.error()["code"] == "payload_too_large"


def test_a_page_over_the_limit_gets_a_page(app: Any) -> None:
    sent = Sent(app, "POST", "/login", 5 * 2**20, length=False,
                headers={"content-type": "application/x-www-form-urlencoded"})
    assert sent.status == 413 and sent.taken <= LIMIT + CHUNK
    assert sent.headers["content-type"].startswith("text/html")
    assert "请求过大" in sent.body.decode() and "1 MB" in sent.body.decode()
    english = Sent(app, "POST", "/login?lang=en", 2 * LIMIT,
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert english.status == 413 and "Request too large" in english.body.decode()


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_the_screening_import_has_its_own_limit(app: Any, login: Any, length: bool) -> None:
    coordinator = login("center", "coordinator")
    path = "/api/v1/imports?community=community:nowhere&file_name=list.csv"
    small = Sent(app, "POST", path, b"a,b\n" * (LIMIT // 2), headers=coordinator, length=length)
    assert small.taken == 2 * LIMIT and small.status == 404  # read whole; no such community
    big = Sent(app, "POST", path, 2 * MAX_FILE_BYTES, headers=coordinator, length=length)
    assert big.status == 413
    assert big.error()["message"] == "the request body is larger than the limit of 50 MB"
    assert big.taken == (0 if length else MAX_FILE_BYTES + CHUNK)


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_no_token_or_a_wrong_one_is_refused_before_the_body_is_read(
        app: Any, login: Any, length: bool) -> None:
    body = json.dumps({"decision": "merge"}).encode() * 1000  # 23 kB, under the limit
    path = "/api/v1/screening/duplicates/1/resolve"
    for headers in [{}, {"authorization": "Basic dXNlcjpwYXNz"},
                    {"authorization": "Bearer not-a-token"},
                    {"authorization": "Bearer abcdefabcdef.AAAAAAAAAAAAAAAAAAAAAAAA"},
                    {"authorization": f"Bearer {web_token()}"}]:  # a page session's
        sent = Sent(app, "POST", path, body, length=length,
                    headers={**headers, "content-type": "application/json"})
        assert (sent.status, sent.taken) == (401, 0), headers
        assert sent.headers["www-authenticate"] == "Bearer"
        # The answer the route gives the same request without a body, word for word.
        route = Sent(app, "GET", "/api/v1/screening/proposals", headers=headers)
        assert sent.body == route.body and sent.error()["code"] == "unauthorized"
    # With a good token the body is read, and the route answers (the body is not JSON).
    good = Sent(app, "POST", path, body, length=length, headers={
        **login("center", "coordinator"), "content-type": "application/json"})
    assert good.taken == len(body) and good.status == 400, good.body[:200]


def test_the_token_is_asked_only_where_the_route_asks_for_it(app: Any, login: Any) -> None:
    # A GET has no body to protect: its route refuses it as before, in the same words.
    sent = Sent(app, "GET", "/api/v1/cases")
    assert sent.status == 401 and sent.error()["code"] == "unauthorized"
    # Login and health take no token; an unknown path or method is 404 or 405, not 401.
    login_form = json.dumps({"username": "nobody", "password": "wrong-password"}).encode()
    assert Sent(app, "POST", "/api/v1/auth/login", login_form,
                headers={"content-type": "application/json"}).taken == len(login_form)
    assert Sent(app, "GET", "/api/v1/health").status == 200
    assert Sent(app, "POST", "/api/v1/no-such-thing", b"{}").status == 404
    assert Sent(app, "PUT", "/api/v1/cases", b"{}").status == 405


# --- against uvicorn ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_url(store: str) -> Iterator[str]:
    from app.runtime.local import ApiServer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROTECT_API_PORT", str(free_port()))
        get_settings.cache_clear()
        server = ApiServer(LOGS / "api-guard.log")
        try:
            server.start()
            yield server.url
        finally:
            server.stop()
            get_settings.cache_clear()


def post_until_answered(url: str, path: str, headers: dict[str, str], size: int,
                        chunked: bool) -> tuple[int, str, float]:
    """POST `size` bytes as fast as the server takes them, stopping as soon as it answers:
    how many bytes went out, the answer's head, the seconds it took."""
    host = urlsplit(url)
    with socket.create_connection((host.hostname, host.port), timeout=30) as s:
        head = [f"POST {path} HTTP/1.1", f"Host: {host.netloc}", "Content-Type: application/json",
                *(f"{k}: {v}" for k, v in headers.items()),
                "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"]
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        piece = b" " * CHUNK
        frame = b"%x\r\n%s\r\n" % (CHUNK, piece) if chunked else piece
        out, started = 0, time.monotonic()
        while out < size and time.monotonic() - started < 30:
            readable, writable, _ = select.select([s], [s], [], 5)
            if readable:
                break
            if writable:
                try:
                    out += s.send(frame)
                except (BrokenPipeError, ConnectionResetError):
                    # The server answered and closed between select and send: its answer
                    # is already in our receive buffer, read it below.
                    break
        answer = b""
        while b"\r\n\r\n" not in answer:
            try:
                more = s.recv(65536)
            except ConnectionResetError:
                break
            if not more:
                break
            answer += more
        return out, answer.split(b"\r\n\r\n")[0].decode(), time.monotonic() - started


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_uvicorn_answers_a_large_body_at_once_and_takes_no_more(
        api_url: str, login: Any, chunked: bool) -> None:
    size = 200 * 2**20
    # Without a token: 413 when Content-Length already says too much, else 401.
    for headers, status in [(login("center", "coordinator"), 413), ({}, 401 if chunked else 413)]:
        out, head, seconds = post_until_answered(api_url, "/api/v1/cases", headers, size,
                                                 chunked)
        assert head.startswith(f"HTTP/1.1 {status} "), head
        assert "connection: close" in head.lower()
        # What went out before the answer is what the socket buffers hold, and the 1 MiB
        # read when chunked: far from the 200 MB offered.
        assert out < 32 * 2**20 and seconds < 10, (out, seconds)
