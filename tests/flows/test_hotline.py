"""S1 end to end: a hotline report routed to three agencies, one acknowledgement escalated,
procedures started, every result fed back to a real local platform that is down for a while
(first a closed port, then 503s) and then receives each feedback exactly once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlmodel import col, select

from app.adapters.dispatch import dispatch
from app.adapters.notify import verify
from app.adapters.outbox import start_message_key
from app.adapters.store import db
from app.domain import clock
from app.runtime.sweep import sweep
from app.services.hotline import receive_report
from models import HumanTask, OutboxMessage
from tests.conftest import HOTLINE_PORT, HOTLINE_SECRET
from tests.helpers import (
    PERSONAL,
    complete,
    flow_state,
    hotline_report,
    open_task,
    wait_finished,
    wait_for,
)

pytestmark = pytest.mark.flows
STREET = "street:xingqing-fenghuang"


class Platform:
    """The hotline platform's callback endpoint on the port the settings name."""

    def __init__(self) -> None:
        self.status = 503
        self.accepted: Counter[str] = Counter()
        self.refused = 0
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    def start(self, status: int) -> None:
        self.status = status
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with platform.lock:
                    if platform.status == 200:
                        platform.accepted[self.headers["X-Protect-Message-Id"]] += 1
                        platform.bodies.append((dict(self.headers.items()), body))
                    else:
                        platform.refused += 1
                self.send_response(platform.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", HOTLINE_PORT), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.05}).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


def _task(run_id: int, step: str) -> HumanTask:
    """Wait until the S1 run has opened `step` and suspended on it."""

    def find() -> HumanTask | None:
        with db() as session:
            return session.exec(select(HumanTask).where(
                HumanTask.procedure_run_id == run_id, HumanTask.step == step)).first()

    task = wait_for(find, what=f"{step} of run {run_id}")
    wait_for(lambda: flow_state(run_id) == "Suspended", what=f"run {run_id} to suspend")
    return task


def _feedback(reference: str) -> list[OutboxMessage]:
    with db() as session:
        return list(session.exec(select(OutboxMessage).where(
            OutboxMessage.kind == "hotline",
            col(OutboxMessage.dedupe_key).contains(f":{reference}:"))
            .order_by(col(OutboxMessage.id))).all())


def _key(reference: str, agency: str, stage: str) -> str:
    return f"hotline:12355:{reference}:{agency}:{stage}"


def test_a_report_is_routed_escalated_acted_on_and_every_result_reaches_the_platform_once(
        system) -> None:
    platform = Platform()
    report = hotline_report(concerns=["begging", "abuse"])
    ref = report["reference"]
    with db() as session:
        receipt = receive_report(session=session, data=report, actor="test", now=clock.now())
    dispatch(keys=[start_message_key(r) for r in receipt.run_ids])
    runs = {r["agency"]: r["procedure_run"] for r in receipt.routed}
    assert list(runs) == ["center", "psb", STREET]

    # Each routed agency has a day to acknowledge; the procedures the categories call for run.
    acks = {agency: _task(run, "s1.acknowledge") for agency, run in runs.items()}
    assert {a: t.owner for a, t in acks.items()} == {a: a for a in runs}
    assert [s["code"] for s in receipt.started] == ["R2", "R4"]
    assert open_task(receipt.case, "r2.outreach").owner == "center"
    assert open_task(receipt.case, "r4.admonition").owner == STREET

    try:
        # The platform is down (nothing listens on its port): the feedback waits in the outbox.
        complete(acks["center"], outcome="accepted", notes="外展组出发")
        complete(acks[STREET], outcome="not_responsible")
        assert wait_finished(runs[STREET]).outcome == "declined"
        wait_for(lambda: [m.last_error is not None for m in _feedback(ref)] == [True, True],
                 what="two feedbacks tried")  # a try's claim counts it, its end says why
        assert all(m.status == "pending" and "refused" in (m.last_error or "")
                   for m in _feedback(ref))

        # The police miss their day: the acknowledgement climbs to their supervisor.
        swept = sweep(now=acks["psb"].due_at + timedelta(minutes=1))
        [climbed] = [e for e in swept.escalations if e["task_id"] == acks["psb"].id]
        assert (climbed["rung"], climbed["to"]) == (1, "psb/supervisor")
        complete(acks["psb"], agency="psb", outcome="accepted")

        # Now the platform answers, but with 503: still nothing is lost.
        platform.start(503)
        # The run tries its feedback once, at once (app/services/engine.py); while that try
        # holds the message's claim, the dispatch below would pass the message by.
        wait_for(lambda: [m.last_error is not None for m in _feedback(ref)] == [True] * 3,
                 what="the police's acknowledgement queued and tried")
        dispatch(ids=[m.id for m in _feedback(ref)])
        assert platform.refused >= 3 and not platform.accepted
        assert all(m.status == "pending" and "HTTP 503" in (m.last_error or "")
                   for m in _feedback(ref))

        # The platform is back; the agencies report their results.
        platform.status = 200
        complete(_task(runs["center"], "s1.result"), outcome="resolved",
                 acted_on=clock.now().date().isoformat(), notes="已接回救助站")
        complete(_task(runs["psb"], "s1.result"), outcome="referred",
                 acted_on=clock.now().date().isoformat())
        assert wait_finished(runs["center"]).outcome == "resolved"
        assert wait_finished(runs["psb"]).outcome == "referred"

        def all_delivered() -> bool:
            pending = [m.id for m in _feedback(ref) if m.status != "delivered"]
            if pending:
                dispatch(ids=pending)  # the retries, without waiting out their back-off
            return not pending and len(_feedback(ref)) == 5

        wait_for(all_delivered, what="every feedback delivered")
        # Later sweeps and dispatches find nothing more to send.
        sweep(now=clock.now())
        dispatch(ids=[m.id for m in _feedback(ref)])
    finally:
        platform.stop()

    expected = {_key(ref, "center", "acknowledged"), _key(ref, "center", "result"),
                _key(ref, "psb", "acknowledged"), _key(ref, "psb", "result"),
                _key(ref, STREET, "declined")}
    assert dict(platform.accepted) == {key: 1 for key in expected}
    received: dict[str, dict[str, Any]] = {}
    for headers, body in platform.bodies:
        assert verify(body, headers["X-Protect-Timestamp"], headers["X-Protect-Signature"],
                      HOTLINE_SECRET)
        payload = json.loads(body)
        received[payload["idempotency_key"]] = payload
        text = body.decode()
        assert not [v for v in PERSONAL if v in text], "personal data in a feedback"
    assert {k: (p["reference"], p["agency"], p["status"]) for k, p in received.items()} == {
        _key(ref, "center", "acknowledged"): (ref, "center", "acknowledged"),
        _key(ref, "center", "result"): (ref, "center", "resolved"),
        _key(ref, "psb", "acknowledged"): (ref, "psb", "acknowledged"),
        _key(ref, "psb", "result"): (ref, "psb", "referred"),
        _key(ref, STREET, "declined"): (ref, STREET, "declined"),
    }
    assert received[_key(ref, "psb", "acknowledged")]["escalated"] is True
    assert received[_key(ref, "center", "acknowledged")]["escalated"] is False
    assert received[_key(ref, "center", "result")]["categories"] == ["street_child",
                                                                     "guardian_harm"]
