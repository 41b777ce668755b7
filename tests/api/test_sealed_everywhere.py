"""Sealed records stay sealed (app/domain/sealing.py): once J3 has sealed a case's criminal
record, what its steps decided and recorded is read by the judicial readers only — in the
timeline (its events' `detail` and `sentence`), a task's `decision` and `record`, the case and
task pages, the indicators and the report — and every refused read of a sealed record, by role
as well as by agency, is in the audit trail.

The sealed case is made as J3 makes it, without Prefect: its steps completed through
tasks.complete_task (the real forms, decisions, audit events), the record sealed by the
engine's own seal_record. tests/flows/test_judicial.py shows that the real J3 flow leaves the
same behind, and that it is redacted.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from app.adapters.outbox import resume_message_key
from app.adapters.store import db
from app.config.vocabulary import field_label, value_name
from app.domain import clock
from app.services import cases as services
from app.services import engine, tasks
from app.services import users as auth
from models import AuditEvent, HumanTask, OutboxMessage, ProcedureRun
from tests.helpers import open_case, token_headers

JUDGED_ON, OFFENCE_ON, SEALED_ON = "2025-09-17", "2025-03-04", "2025-10-29"
# The J3 steps, as the flow's prosecution path goes: who completes each, and the form.
STEPS = (
    ("j3.investigation", "investigation", "psb",
     {"offence_confirmed": True, "in_school": True, "appropriate_adult_present": True}),
    ("j3.handling", "handling", "procuratorate", {"measure": "prosecution"}),
    ("j3.judgment", "judgment", "court", {"sentence": "probation", "judged_on": JUDGED_ON}),
    ("j3.sealing", "sealing", "court",
     {"sealed_on": SEALED_ON, "authority": "court", "offence_date": OFFENCE_ON}),
)


def _task(run_id: int, case_id: int, step: str, key: str, owner: str, ago: timedelta) -> int:
    now = clock.now() - ago
    with db() as session:
        task = HumanTask(procedure_run_id=run_id, case_id=case_id, step_key=key, step=step,
                         title=step, owner=owner, first_owner=owner,
                         ladder=[owner, f"{owner}/supervisor", "office"], deadline="5wd",
                         rung_deadline="5wd", created_at=now, due_at=now + timedelta(days=7),
                         escalate_at=now + timedelta(days=7))
        session.add(task)
        session.flush()
        return int(task.id or 0)


@pytest.fixture(scope="module")
def sealed_case(store: str) -> dict[str, Any]:
    """A case whose J3 went prosecution → probation (J4 started) → sealed by the court."""
    case_no = open_case()
    tag = secrets.token_hex(4).upper()
    record_no, notes = f"J3-2025-{tag}", f"封存测试备注{tag}"
    now = clock.now()
    with db() as session:
        case = services.get_case(session=session, case_ref=case_no)
        case_id = int(case.id or 0)
        j3 = ProcedureRun(case_id=case_id, code="J3", start_key=f"test:{tag}:j3",
                          started_at=now - timedelta(days=30), status="running")
        session.add(j3)
        session.flush()
        j3_id = int(j3.id or 0)
    ids: dict[str, int] = {}
    for i, (step, key, owner, form) in enumerate(STEPS):
        ids[step] = _task(j3_id, case_id, step, key, owner, timedelta(days=20 - i))
        if step == "j3.judgment":  # probation: J4, a run of its own, started by J3
            with db() as session:
                j4 = ProcedureRun(case_id=case_id, code="J4", start_key=f"run:{j3_id}:probation",
                                  parent_run_id=j3_id, started_at=clock.now(),
                                  status="running")
                session.add(j4)
                session.flush()
                j4_id = int(j4.id or 0)
            ids["j4.plan"] = _task(j4_id, case_id, "j4.plan", "plan", "justice", timedelta(0))
        form = {**form, "notes": notes, **({"record_no": record_no} if key == "sealing" else {})}
        with db() as session:
            tasks.complete_task(session=session, task_id=ids[step], agency=owner, form=form,
                                actor=f"user:{owner}-clerk", now=clock.now())
            # No flow waits for this resume: nothing for a dispatcher to deliver.
            session.exec(update(OutboxMessage)  # type: ignore[call-overload]
                         .where(col(OutboxMessage.dedupe_key) == resume_message_key(ids[step]))
                         .values(status="delivered", delivered_at=clock.now()))
    record_id = engine.seal_record(j3_id, "sealing")
    engine.finish_run(j3_id, "sealed")
    with db() as session:  # what is redacted is there in the store
        judgment = session.get(HumanTask, ids["j3.judgment"])
        assert judgment is not None
        assert judgment.decision == {"sentence": "probation", "judged_on": JUDGED_ON}
        assert judgment.record == {"sealed_record_id": record_id}
        completed = session.exec(select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action == "task.completed")).all()
        assert {"measure": "prosecution"} in [e.detail["decision"] for e in completed]
    return {"case": case_no, "case_id": case_id, "run": j3_id, "tasks": ids,
            "record": record_id, "record_no": record_no, "notes": notes}


def _sealed_values(sealed: dict[str, Any]) -> list[str]:
    """What the sealed record holds, as codes (the API) and as words (the pages, the
    sentences), in both languages: none of it may reach a reader who is not judicial. (Not
    the handling's label "处理措施": the step's own name, what happened, holds it.)"""
    values = {sealed["record_no"], sealed["notes"], JUDGED_ON, OFFENCE_ON, SEALED_ON,
              "prosecution", "probation", "offence_confirmed", "judged_on", "sealed_on",
              "offence_date", "record_no"}
    for lang in ("zh", "en"):
        values |= {value_name("j3.handling", "measure", "prosecution", lang),
                   value_name("j3.judgment", "sentence", "probation", lang),
                   field_label("j3.investigation", "offence_confirmed", lang),
                   field_label("j3.judgment", "sentence", lang),
                   field_label("j3.judgment", "judged_on", lang),
                   field_label("j3.sealing", "sealed_on", lang)}
    return sorted(values)


def _leaks(text: str, sealed: dict[str, Any]) -> list[str]:
    return [v for v in _sealed_values(sealed) if v in text]


def _without_form_schema(body: str) -> str:
    """A task's answer without its form's JSON schema: the schema names the step's fields and
    choices whatever was decided."""
    data = json.loads(body)
    data.pop("form_schema", None)
    return json.dumps(data, ensure_ascii=False)


# Who walks through: (agency, roles); judicial readers are court, procuratorate, psb users with
# the judicial role.
PEOPLE: dict[str, tuple[str, ...]] = {
    "coordinator": ("center", "coordinator"),
    "court worker": ("court", "worker"),  # completed the judgment and the sealing
    "court supervisor": ("court", "supervisor"),
    "psb worker": ("psb", "worker"),  # completed the investigation
    "justice worker": ("justice", "worker"),  # holds J4's task, which J3 started
    "edu worker": ("edu", "worker"),  # no task on the case
    "manager": ("office", "manager"),
    "judicial": ("court", "judicial"),
    "judicial clerk": ("court", "worker", "judicial"),  # reads tasks and sealed records
    "judicial elsewhere": ("edu", "judicial"),  # the role, not at a judicial agency
}
JUDICIAL_READERS = {"judicial", "judicial clerk"}


def _page_client(client: Any, agency: str, *roles: str) -> Any:
    """A browser of its own for the pages, signed in through the login form."""
    from fastapi.testclient import TestClient

    name, password = f"{roles[0]}-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with db() as session:
        auth.add_user(session=session, username=name, agency=agency, roles=list(roles),
                      password=password, actor="test", now=clock.now())
    browser = TestClient(client.app, raise_server_exceptions=False)
    page = browser.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    signed_in = browser.post("/login", data={"username": name, "password": password,
                                             "csrf_token": csrf.group(1), "next": "/"},
                             follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text[:300]
    browser.actor = f"user:{name}"  # as the audit trail names them
    return browser


def _walk(client: Any, sealed: dict[str, Any], agency: str, roles: tuple[str, ...]
          ) -> dict[str, Any]:
    """Every place a sealed run's content could show, as this person: place → response."""
    headers = token_headers(agency, *roles)
    case = sealed["case"]
    seen: dict[str, Any] = {}
    for lang in ("zh", "en"):
        seen[f"timeline api {lang}"] = client.get(f"/api/v1/cases/{case}/timeline?lang={lang}",
                                                  headers=headers)
    seen["case api"] = client.get(f"/api/v1/cases/{case}", headers=headers)
    seen["done tasks api"] = client.get(f"/api/v1/tasks?case={case}&status=done",
                                        headers=headers)
    for step, task_id in sealed["tasks"].items():
        seen[f"task api {step}"] = client.get(f"/api/v1/tasks/{task_id}", headers=headers)
    seen["indicators api"] = client.get("/api/v1/indicators", headers=headers)
    seen["sealed api"] = client.get(f"/api/v1/sealed-records/{sealed['record']}",
                                    headers=headers)
    browser = _page_client(client, agency, *roles)
    seen["case page"] = browser.get(f"/cases/{case}")
    seen["case page en"] = browser.get(f"/cases/{case}?lang=en")
    browser.get("/login?lang=zh")  # back to Chinese (the cookie)
    for step, task_id in sealed["tasks"].items():
        seen[f"task page {step}"] = browser.get(f"/tasks/{task_id}")
    seen["dashboard page"] = browser.get("/dashboard")
    seen["sealed page"] = browser.get(f"/sealed?record={sealed['record']}")
    return seen


def _text(place: str, response: Any) -> str:
    if place.startswith("task api") and response.status_code == 200:
        return _without_form_schema(response.text)
    return str(response.text)


@pytest.mark.parametrize("person", sorted(PEOPLE))
def test_a_sealed_record_s_content_reaches_the_judicial_readers_only(
        client: Any, sealed_case: dict[str, Any], person: str) -> None:
    seen = _walk(client, sealed_case, PEOPLE[person][0], PEOPLE[person][1:])
    opened = {place for place, r in seen.items() if r.status_code == 200}
    # Each opens something, but the judicial role elsewhere: refused everywhere.
    assert bool(opened) is (person != "judicial elsewhere"), opened
    leaks = {place: _leaks(_text(place, r), sealed_case) for place, r in seen.items()
             if r.status_code == 200}
    if person in JUDICIAL_READERS:
        # The content is there for them: the sealed record (API and page), and for the
        # clerk who also reads tasks, the steps' decisions.
        assert sealed_case["record_no"] in seen["sealed api"].text
        assert sealed_case["notes"] in seen["sealed page"].text
        if person == "judicial clerk":
            judgment = seen["task api j3.judgment"].json()
            assert judgment["decision"] == {"sentence": "probation", "judged_on": JUDGED_ON}
            assert "缓刑" in seen["task page j3.sealing"].text  # the earlier steps, in words
            assert "已封存" not in seen["task page j3.sealing"].text
        return
    assert {p: v for p, v in leaks.items() if v} == {}
    assert seen["sealed api"].status_code == 403
    assert seen["sealed page"].status_code == 403
    # In place of the content: the marker, and on the pages "已封存".
    marker = {"sealed": True, "sealed_record_id": sealed_case["record"]}
    for step in ("j3.investigation", "j3.handling", "j3.judgment", "j3.sealing"):
        r = seen[f"task api {step}"]
        if r.status_code == 200:
            assert (r.json()["decision"], r.json()["record"]) == (marker, marker)
            assert "已封存" in seen[f"task page {step}"].text
    if seen["timeline api zh"].status_code == 200:
        events = seen["timeline api zh"].json()["events"]
        done = [e for e in events if e["action"] == "task.completed"
                and e["procedure_run_id"] == sealed_case["run"]]
        assert len(done) == 4 and all(e["detail"]["decision"] == marker for e in done)
        assert all(e["sentence"].endswith("：已封存") for e in done)
        assert all(e["detail"]["step"] and e["detail"]["agency"] for e in done)  # what happened
        [sealing] = [e for e in events if e["action"] == "record.sealed"]
        assert sealing["detail"] == {"sealed_record_id": sealed_case["record"],
                                     "authority": marker}
        assert sealing["sentence"].endswith(f"封存犯罪记录 #{sealed_case['record']}")
        outcome = [p for p in seen["timeline api zh"].json()["procedures"] if p["code"] == "J3"]
        assert outcome[0]["outcome"] == "sealed"  # that it was sealed is not the content
    if seen["timeline api zh"].status_code == 200:  # the case page shows the same trail
        assert 'data-sealed="true"' in seen["case page"].text
        assert "已封存" in seen["case page"].text and ": sealed" in seen["case page en"].text
    if seen["task page j4.plan"].status_code == 200:  # J3 started J4: its steps are J4's past
        assert seen["task page j4.plan"].text.count('data-sealed="true"') == 4


def test_every_refused_read_of_a_sealed_record_is_audited(
        client: Any, sealed_case: dict[str, Any]) -> None:
    """By role (a coordinator, a worker, a manager: refused before any agency rule) as well as
    by agency, on the API and the pages; and a refused id that does not exist tells nothing."""
    record = sealed_case["record"]
    refused = {"coordinator": ("center", "coordinator"), "worker": ("psb", "worker"),
               "manager": ("office", "manager"), "supervisor": ("court", "supervisor"),
               "elsewhere": ("edu", "judicial")}
    actors: dict[str, str] = {}
    for who, (agency, *roles) in refused.items():
        headers = token_headers(agency, *roles)
        me = client.get("/api/v1/auth/me", headers=headers).json()
        actors[who] = f"user:{me['username']}"
        r = client.get(f"/api/v1/sealed-records/{record}", headers=headers)
        assert r.status_code == 403 and sealed_case["record_no"] not in r.text
        missing = client.get(f"/api/v1/sealed-records/{2**31 - 1}", headers=headers)
        assert missing.status_code == 403  # not 404: a refusal does not tell what exists
    browser = _page_client(client, "psb", "worker")
    assert browser.get(f"/sealed?record={record}").status_code == 403
    assert browser.get("/sealed").status_code == 403  # the empty form: nothing read
    with db() as session:
        reads = session.exec(select(AuditEvent).where(
            AuditEvent.action == "sealed_record.read")).all()
    mine = [e for e in reads if e.detail.get("sealed_record_id") == record]
    for who, actor in actors.items():
        [event] = [e for e in mine if e.actor == actor]
        assert event.detail["allowed"] is False
        assert event.case_id == sealed_case["case_id"]
        assert event.detail["roles"] == sorted(refused[who][1:])
        assert [e for e in reads if e.actor == actor
                and e.detail.get("sealed_record_id") == 2**31 - 1]
    [page_read] = [e for e in mine if e.actor == browser.actor]
    assert page_read.detail["allowed"] is False and page_read.detail["agency"] == "psb"


def test_a_judicial_reader_s_read_of_a_sealed_task_is_audited_as_such(
        client: Any, sealed_case: dict[str, Any]) -> None:
    clerk = token_headers("court", "worker", "judicial")
    worker = token_headers("court", "worker")
    task_id = sealed_case["tasks"]["j3.judgment"]
    assert client.get(f"/api/v1/tasks/{task_id}", headers=clerk).json()["decision"][
        "sentence"] == "probation"
    assert client.get(f"/api/v1/tasks/{task_id}", headers=worker).json()["decision"][
        "sealed"] is True
    with db() as session:
        reads = session.exec(select(AuditEvent).where(
            AuditEvent.action == "task.read", AuditEvent.task_id == task_id)
            .order_by(col(AuditEvent.id))).all()
    assert [e.detail.get("sealed_shown") for e in reads[-2:]] == [True, None]
    assert reads[-2].detail["sealed_record_id"] == sealed_case["record"]
