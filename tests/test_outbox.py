"""Notifications through the outbox to a real local HTTP server: signed, retried, never lost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import clock
from app.dispatch import dispatch
from app.notify import verify
from app.outbox import enqueue
from app.settings import get_settings
from app.store import db
from models import Agency, OutboxMessage
from tests.conftest import free_port


class Receiver:
    """An agency's system: records what it receives; can be told to fail."""

    def __init__(self, port: int) -> None:
        self.port, self.received, self.fail_next = port, [], 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(500)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(store) -> Iterator[Receiver]:
    r = Receiver(free_port())
    with db() as session:
        agency = session.get(Agency, "edu")
        agency.webhook_url = r.url
        session.add(agency)
    yield r
    r.stop()
    with db() as session:
        agency = session.get(Agency, "edu")
        agency.webhook_url = None
        session.add(agency)


def _message(key: str) -> int:
    with db() as session:
        return int(enqueue(session=session, kind="notify", dedupe_key=key,
                           payload={"agency": "edu", "event": "task.opened", "task_id": 7},
                           now=clock.now()).id)


def _row(msg_id: int) -> OutboxMessage:
    with db() as session:
        return session.get(OutboxMessage, msg_id)


def test_a_notification_arrives_signed_with_the_agency_secret(receiver) -> None:
    msg = _message("notify:test:signed")
    assert dispatch(ids=[msg]).delivered == 1
    [(headers, body)] = receiver.received
    assert verify(body, headers["X-Protect-Timestamp"], headers["X-Protect-Signature"],
                  get_settings().webhook_secret)
    assert not verify(body, headers["X-Protect-Timestamp"], headers["X-Protect-Signature"],
                      "another-secret")
    assert json.loads(body)["event"] == "task.opened"
    assert _row(msg).status == "delivered"


def test_a_failing_receiver_gets_the_message_on_a_later_attempt(receiver) -> None:
    receiver.fail_next = 1
    msg = _message("notify:test:retry")
    assert dispatch(ids=[msg]).failed == 1
    row = _row(msg)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > clock.now()  # backs off
    assert "HTTP 500" in row.last_error
    assert dispatch(ids=[msg]).delivered == 1
    assert len(receiver.received) == 1


def test_a_receiver_that_is_down_loses_nothing(receiver) -> None:
    port = receiver.port
    receiver.stop()
    msg = _message("notify:test:down")
    assert dispatch(ids=[msg]).failed == 1
    assert _row(msg).status == "pending"
    again = Receiver(port)
    try:
        assert dispatch(ids=[msg]).delivered == 1
        assert len(again.received) == 1
    finally:
        again.stop()
    receiver.stop = lambda: None  # already stopped
