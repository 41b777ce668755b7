"""Signed webhook delivery against a real local HTTP server, no mocking of requests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.adapters.notify import (
    DeliveryError,
    backoff_seconds,
    canonical_json,
    post_signed,
    sign,
    verify,
)

SECRET = "test-secret"
TIMESTAMP = "2026-02-13T02:00:00Z"
SLOW_S = 1.0
PAYLOAD = {"case": "C-1", "event": "deadline_due", "note": "接案 — 测试"}


@dataclass
class Received:
    """What the server saw, shared between the handler threads and the test."""

    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Server:
    """A running local receiver."""

    base_url: str
    received: Received


def _handler(received: Received) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with received.lock:
                received.requests.append((self.path, dict(self.headers.items()), body))
            if self.path == "/slow":
                time.sleep(SLOW_S)
            status = 500 if self.path == "/fail" else 204 if self.path == "/ok" else 200
            try:
                self.send_response(status)
                # Echo the body back on failures so the test can prove it never leaks into errors.
                reply = body if status >= 300 else b""
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client already gave up (timeout test)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep pytest output clean

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    received = Received()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(received))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True,
                              kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield Server(base_url=f"http://{host}:{port}", received=received)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    # Bind to get a free port from the OS, then release it: nothing listens there afterwards.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_delivered_message_carries_a_signature_the_secret_verifies(server: Server) -> None:
    post_signed(
        f"{server.base_url}/ok", PAYLOAD, secret=SECRET, message_id="m-1", timestamp=TIMESTAMP
    )
    [(path, headers, body)] = server.received.requests
    assert path == "/ok"
    assert body == canonical_json(PAYLOAD)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Protect-Message-Id"] == "m-1"
    assert headers["X-Protect-Timestamp"] == TIMESTAMP
    signature = headers["X-Protect-Signature"]
    assert signature.startswith("sha256=")
    assert verify(body, headers["X-Protect-Timestamp"], signature, SECRET)
    assert not verify(body, headers["X-Protect-Timestamp"], signature, "another-secret")


def test_a_signature_does_not_verify_for_another_timestamp_or_a_changed_body() -> None:
    body = canonical_json(PAYLOAD)
    signature = sign(body, TIMESTAMP, SECRET)
    assert verify(body, TIMESTAMP, signature, SECRET)
    assert not verify(body, "2026-02-13T02:00:01Z", signature, SECRET)
    assert not verify(body + b" ", TIMESTAMP, signature, SECRET)
    assert not verify(body, TIMESTAMP, "sha256=" + "0" * 64, SECRET)


def test_canonical_json_is_sorted_compact_and_keeps_chinese_characters() -> None:
    assert canonical_json({"b": 1, "a": "童"}) == '{"a":"童","b":1}'.encode()


def test_a_500_answer_raises_delivery_error_without_the_body(server: Server) -> None:
    with pytest.raises(DeliveryError) as info:
        post_signed(
            f"{server.base_url}/fail", PAYLOAD, secret=SECRET, message_id="m-2", timestamp=TIMESTAMP
        )
    message = str(info.value)
    assert "500" in message
    assert "测试" not in message and "C-1" not in message
    assert len(server.received.requests) == 1


def test_a_server_slower_than_the_timeout_raises_delivery_error(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="timeout"):
        post_signed(
            f"{server.base_url}/slow",
            PAYLOAD,
            secret=SECRET,
            message_id="m-3",
            timestamp=TIMESTAMP,
            timeout=0.3,
        )
    assert time.monotonic() - started < SLOW_S


def test_a_closed_port_raises_delivery_error(closed_port: int) -> None:
    with pytest.raises(DeliveryError, match="(?i)connection") as info:
        post_signed(
            f"http://127.0.0.1:{closed_port}/ok",
            PAYLOAD,
            secret=SECRET,
            message_id="m-4",
            timestamp=TIMESTAMP,
            timeout=2.0,
        )
    assert "C-1" not in str(info.value)


def test_post_signed_makes_exactly_one_attempt(server: Server) -> None:
    with pytest.raises(DeliveryError):
        post_signed(
            f"{server.base_url}/fail", PAYLOAD, secret=SECRET, message_id="m-5", timestamp=TIMESTAMP
        )
    assert len(server.received.requests) == 1


def test_backoff_starts_at_five_seconds_and_doubles() -> None:
    assert [backoff_seconds(n) for n in range(1, 6)] == [5.0, 10.0, 20.0, 40.0, 80.0]


def test_backoff_is_capped_at_one_hour() -> None:
    assert backoff_seconds(10) == 2560.0
    assert backoff_seconds(11) == 3600.0
    assert backoff_seconds(1000) == 3600.0
    delays = [backoff_seconds(n) for n in range(1, 50)]
    assert delays == sorted(delays)


def test_backoff_refuses_attempt_zero() -> None:
    with pytest.raises(ValueError):
        backoff_seconds(0)
