"""Starting a procedure and opening a case over the API: the same checks as the command line
(codes in either case, declared parameters, a second run only with again and a reason, typed
text and ID numbers), without Prefect."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from app.adapters.store import db
from app.services import cases as services
from models import AuditEvent, Child, Guardian
from tests.helpers import intake_form, open_case


@pytest.fixture(scope="module")
def coordinator(login: Any) -> dict[str, str]:
    return login("center", "coordinator")


@pytest.fixture
def no_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start is queued in the outbox; its delivery to Prefect is not under test here."""
    import app.adapters.dispatch

    class Report:
        delivered = 0

    monkeypatch.setattr(app.adapters.dispatch, "dispatch", lambda **kw: Report())


def _error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code
    return dict(body)


def _fields(body: dict[str, Any]) -> dict[str, str]:
    return {f["field"]: f["code"] for f in body["fields"]}


def test_a_start_checks_the_code_the_parameters_and_a_second_run(
        client: Any, coordinator: dict[str, str], no_prefect: None) -> None:
    case = open_case()
    url = f"/api/v1/cases/{case}/procedures"
    body = _error(client.post(url, json={"code": "x9"}, headers=coordinator), 404, "not_found")
    assert "unknown procedure 'x9'; known: E1" in body["message"]
    body = _error(client.post(url, json={"code": "j2", "params": {"placed_on": "2026-13-45"}},
                              headers=coordinator), 422, "validation_failed")
    assert _fields(body) == {"params.placed_on": "placed_on.date"}

    first = client.post(url, json={"code": "r2"}, headers=coordinator)
    assert first.status_code == 201, first.text
    assert first.json()["code"] == "R2"
    _error(client.post(url, json={"code": "R2"}, headers=coordinator), 409, "conflict")
    body = _error(client.post(url, json={"code": "R2", "again": True}, headers=coordinator),
                  422, "validation_failed")
    assert _fields(body) == {"reason": "reason.required"}
    body = _error(client.post(url, json={"code": "R2", "again": True, "reason": "a\x1bb"},
                              headers=coordinator), 422, "invalid_request")
    assert _fields(body) == {"reason": "reason.control_character"}
    assert body["fields"][0]["message_zh"] == "原因含有控制字符。"
    body = _error(client.post(url, json={"code": "R2", "again": True,
                                         "reason": "\u200bfound again after running away"},
                              headers=coordinator), 422, "invalid_request")
    assert _fields(body) == {"reason": "reason.invisible_character"}  # refused, not stripped
    second = client.post(url, json={"code": "R2", "again": True,
                                    "reason": " found again after running away "},
                         headers=coordinator)
    assert second.status_code == 201, second.text
    with db() as session:
        event = session.exec(select(AuditEvent).where(
            AuditEvent.procedure_run_id == second.json()["procedure_run"],
            AuditEvent.action == "procedure.started")).one()
    assert event.detail["reason"] == "found again after running away"


def test_an_intake_form_over_the_api_gets_the_same_text_and_id_number_rules(
        client: Any, coordinator: dict[str, str]) -> None:
    form = intake_form()
    form["child"]["name"] = "测试\x07童"
    form["guardians"][0]["id_number"] = "110105194912310020"
    body = _error(client.post("/api/v1/cases", json=form, headers=coordinator), 422,
                  "validation_failed")
    assert _fields(body) == {"child.name": "name.control_character",
                             "guardians.0.id_number": "id_number.check_digit"}
    form["child"]["name"] = f"{form['child']['name']}\u202e"  # a right-to-left override
    body = _error(client.post("/api/v1/cases", json=form, headers=coordinator), 422,
                  "validation_failed")
    assert _fields(body)["child.name"] == "name.invisible_character"
    form = intake_form()
    name = form["child"]["name"]
    form["child"]["name"] = f" {name} "
    form["guardians"][0]["id_number"] = "11010519491231002x"
    opened = client.post("/api/v1/cases", json=form, headers=coordinator)
    assert opened.status_code == 201, opened.text
    with db() as session:
        case = services.get_case(session=session, case_ref=opened.json()["case"])
        assert session.get(Child, case.child_id).name == name
        guardian = session.exec(select(Guardian).where(Guardian.child_id == case.child_id)).one()
    assert guardian.id_number == "11010519491231002X"
