"""Notifications through the outbox to a real local HTTP server: signed, retried, never lost."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.adapters.dispatch import dispatch
from app.adapters.notify import backoff_seconds, verify
from app.adapters.outbox import enqueue
from app.adapters.prefect import BUSY_RETRY_S, LOCKED_TRIES
from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from app.runtime.dispatcher import Dispatcher
from app.services import cases as services
from models import Agency, OutboxMessage
from tests.conftest import free_port

SENDER = "tests/test_outbox.py"  # in the payload of this module's messages (`_message`)


class Receiver:
    """An agency's system: records what it receives; can be told to fail. With `sender`, only
    the messages whose payload names that sender count: the session's runner serves
    procedures meanwhile, and a task of theirs at the same agency is answered, not recorded."""

    def __init__(self, port: int, sender: str | None = None) -> None:
        self.port, self.received, self.fail_next = port, [], 0
        self.slow: dict[str, float] = {}  # event -> seconds to wait before answering
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sent = json.loads(body)
                time.sleep(receiver.slow.get(sent.get("event"), 0))
                if sender is not None and sent.get("sender") != sender:
                    self.send_response(200)
                elif receiver.fail_next:
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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.05})
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(store) -> Iterator[Receiver]:
    r = Receiver(free_port(), SENDER)
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


def _message(key: str, event: str = "task.opened") -> int:
    with db() as session:
        return int(enqueue(session=session, kind="notify", dedupe_key=key,
                           payload={"agency": "edu", "event": event, "task_id": 7,
                                    "sender": SENDER}, now=clock.now()).id)


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
    again = Receiver(port, SENDER)
    try:
        assert dispatch(ids=[msg]).delivered == 1
        assert len(again.received) == 1
    finally:
        again.stop()
    receiver.stop = lambda: None  # already stopped


def test_the_serving_dispatcher_delivers_past_a_slow_message(receiver) -> None:
    receiver.slow["slow"] = 3
    dispatcher = Dispatcher(workers=4, kinds=("notify",))
    try:
        slow = _message("notify:test:slow", event="slow")
        dispatcher.poll()
        fast = _message("notify:test:fast")  # falls due while the slow one is under way
        deadline = time.monotonic() + 2
        while _row(fast).status != "delivered" and time.monotonic() < deadline:
            dispatcher.poll()
            time.sleep(0.05)
        assert _row(fast).status == "delivered"
        assert _row(slow).status == "pending"  # still being delivered, on its own thread
    finally:
        dispatcher.close()
    assert _row(slow).status == "delivered"
    assert [json.loads(b)["event"] for _, b in receiver.received] == ["task.opened", "slow"]


class StatusServer:
    """A stand-in for a Prefect API that answers every request with one status code; or, with
    `then`, answers `status` to the first `times` requests and `then` (a status and a JSON
    body) to the rest. With `retry_after`, its answers carry that `Retry-After` (seconds),
    which Prefect's client waits instead of its own back-off (2 s, 4 s, …): for the tests
    where how long the client waits is not what is tested."""

    def __init__(self, status: int, *, times: int | None = None,
                 then: tuple[int, bytes] | None = None, retry_after: int | None = None
                 ) -> None:
        self.status, self.requests = status, 0
        me = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                me.requests += 1
                code, body = me.status, b'{"exception_message": "Service Unavailable"}'
                if then is not None and times is not None and me.requests > times:
                    code, body = then
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.05}).start()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _resume_message(key: str) -> int:
    """A resume for a run that Prefect knows (its flow run id is set), due a year from now:
    the serving process's dispatcher, when the suite has one running, leaves it alone, and
    `dispatch(ids=…)` delivers it all the same."""
    from datetime import timedelta

    from models import ProcedureRun
    from tests.helpers import open_case

    case_no = open_case()
    with db() as session:
        case = services.get_case(session=session, case_ref=case_no)
        run = ProcedureRun(case_id=case.id, code="R2", start_key=key, status="running",
                           flow_run_id=str(uuid.uuid4()), started_at=clock.now())
        session.add(run)
        session.flush()
        msg = enqueue(session=session, kind="resume", dedupe_key=key,
                      payload={"procedure_run_id": run.id, "pause_key": "task:x",
                               "run_input": {}}, now=clock.now())
        msg.next_attempt_at = clock.now() + timedelta(days=365)
        session.add(msg)
        session.flush()
        return int(msg.id)


@pytest.mark.parametrize(("status", "busy"), [(503, True), (429, True), (500, False)])
def test_a_busy_prefect_is_asked_again_soon_and_an_error_backs_off(store, status: int,
                                                                  busy: bool) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    msg = _resume_message(f"resume:test:busy-{status}")
    prefect = StatusServer(status, retry_after=0)
    try:
        with temporary_settings({PREFECT_API_URL: prefect.api_url}):
            before = clock.now()
            assert dispatch(ids=[msg]).failed == 1
            after = clock.now()
    finally:
        prefect.stop()
    row = _row(msg)
    assert prefect.requests >= 1
    assert row.status == "pending"
    if busy:  # not a failed attempt, and asked again within the busy delay
        assert row.attempts == 0
        assert "busy" in row.last_error
        assert (row.next_attempt_at - after).total_seconds() <= BUSY_RETRY_S[1]
    else:  # a failure: counted, and the outbox's backoff
        assert row.attempts == 1
        assert (row.next_attempt_at - before).total_seconds() >= backoff_seconds(1)


@pytest.mark.parametrize("retries", [0, 1])
def test_a_delivery_asks_a_busy_prefect_once_more_per_client_retry(store, retries: int) -> None:
    """The serving dispatcher takes no retry inside Prefect's client (0), a one-off delivery
    one (`PREFECT_RETRIES`): the setting reaches the client that makes the requests."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from app.adapters.dispatch import deliver
    from app.adapters.prefect import Busy

    msg_id = _resume_message(f"resume:test:retries-{retries}")
    # Told to wait, with a retry to make, the client would count its sleep in `took`.
    prefect = StatusServer(503, retry_after=0 if retries else None)
    try:
        with temporary_settings({PREFECT_API_URL: prefect.api_url}), db() as session:
            msg = session.get(OutboxMessage, msg_id)
            t0 = time.monotonic()
            with pytest.raises(Busy):
                deliver(msg, prefect_retries=retries)
            took = time.monotonic() - t0
    finally:
        prefect.stop()
    assert prefect.requests == retries + 1
    if retries == 0:
        # Handed back at once: Prefect's client would sleep 1.6–2.4 s after its last attempt.
        assert took < 1.0, took


@pytest.mark.parametrize("locked", [0, 2, LOCKED_TRIES])
def test_a_start_prefects_sqlite_refused_is_asked_again_at_once(locked: int) -> None:
    """Prefect's SQLite refuses a new flow run when another write lands inside the endpoint's
    read (503, "database is locked"): the start is asked again within tens of milliseconds,
    not after the client's 2 s back-off, up to LOCKED_TRIES times; then it is the outbox's."""
    import httpx
    from prefect.client.schemas.objects import FlowRun
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from app.adapters.prefect import _create_from_deployment, prefect_client

    made = FlowRun(flow_id=uuid.uuid4(), name="C2026-000001-R2-1")
    prefect = StatusServer(503, times=locked, then=(201, made.model_dump_json().encode()))
    try:
        with temporary_settings({PREFECT_API_URL: prefect.api_url}):
            client = prefect_client()  # the kept client every start uses
            t0 = time.monotonic()
            if locked < LOCKED_TRIES:
                assert _create_from_deployment(client, uuid.uuid4()).id == made.id
            else:
                with pytest.raises(httpx.HTTPStatusError) as refused:
                    _create_from_deployment(client, uuid.uuid4())
                assert refused.value.response.status_code == 503
            took = time.monotonic() - t0
    finally:
        prefect.stop()
    assert prefect.requests == min(locked + 1, LOCKED_TRIES)
    assert took < 1.0, took  # Prefect's client would have slept 1.6–2.4 s on the first 503


def test_a_start_prefect_fails_is_not_asked_again() -> None:
    import httpx
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from app.adapters.prefect import _create_from_deployment, prefect_client

    prefect = StatusServer(500)
    try:
        with temporary_settings({PREFECT_API_URL: prefect.api_url}), \
                pytest.raises(httpx.HTTPStatusError):
            _create_from_deployment(prefect_client(), uuid.uuid4())
    finally:
        prefect.stop()
    assert prefect.requests == 1


def test_client_retries_holds_for_its_block_over_the_settings_in_force() -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from app.adapters.prefect import client_retries

    before, url = PREFECT_CLIENT_MAX_RETRIES.value(), PREFECT_API_URL.value()
    with client_retries(7):
        assert PREFECT_CLIENT_MAX_RETRIES.value() == 7
        assert PREFECT_API_URL.value() == url
    assert PREFECT_CLIENT_MAX_RETRIES.value() == before
    # Settings changed since the block was first entered are the ones it builds on.
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}), client_retries(7):
        assert PREFECT_API_URL.value() == "http://127.0.0.1:9/api"
        assert PREFECT_CLIENT_MAX_RETRIES.value() == 7
    with client_retries(7):
        assert PREFECT_API_URL.value() == url


def test_a_dispatcher_holds_starts_while_prefect_cannot_count_its_backlog(store,
                                                                          monkeypatch) -> None:
    """Prefect answering 503 to the backlog's count: starts are left in the outbox, and the
    count is not asked again on every poll."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from app.adapters import prefect as prefect_adapter

    monkeypatch.setattr(get_settings(), "start_backlog", 2)
    prefect = StatusServer(503, retry_after=0)
    dispatcher = Dispatcher(workers=1)
    try:
        with temporary_settings({PREFECT_API_URL: prefect.api_url}):
            prefect_adapter._backlog.clear()  # no count from another test's Prefect
            assert dispatcher._held_kinds() == ("start",)
            asked = prefect.requests
            assert asked >= 1
            assert dispatcher._held_kinds() == ("start",)
            assert prefect.requests == asked  # held on, without asking again
    finally:
        dispatcher.close()
        prefect.stop()
        prefect_adapter._backlog.clear()
