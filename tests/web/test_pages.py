"""The web pages in a real browser (Debian's chromium through Playwright) against uvicorn:
each role signs in, the access rules refuse what they refuse on the page and in the API,
CSRF, the language switch, the dashboard without personal data, the audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlmodel import select

from app.adapters.store import db
from app.domain import clock
from models import AuditEvent, HumanTask
from tests.api.conftest import add_sealed_record, add_task
from tests.helpers import PERSONAL, open_case
from tests.web.conftest import sign_in

ROLES = {  # role → (agency, the page a sign-in lands on)
    "coordinator": ("center", "/inbox"),
    "worker": ("psb", "/inbox"),
    "supervisor": ("psb", "/inbox"),
    "manager": ("office", "/dashboard"),
    "judicial": ("court", "/sealed"),
}


def events(action: str, actor: str) -> list[AuditEvent]:
    with db() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action,
                                                          AuditEvent.actor == actor)))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_in_lands_on_its_page_and_signs_out(page: Any, person: Any,
                                                              role: str) -> None:
    agency, landing = ROLES[role]
    who = person(agency, role)
    page.goto("/inbox")
    assert page.url.endswith("/login?next=/inbox")  # not signed in: sent to sign in
    sign_in(page, who)
    assert page.url.endswith(landing)
    assert page.locator("h1").count() == 1
    page.click("#sign-out")
    page.wait_for_url("**/login?bye=1")
    page.goto(landing)
    assert "/login" in page.url  # the session (and its token) are gone
    assert events("token.revoked", f"user:{who[0]}")


def test_a_wrong_password_is_refused_with_a_message(page: Any, person: Any) -> None:
    name, _ = person("psb", "worker")
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "not the password")
    page.click("form.card button[type=submit]")
    assert page.locator(".problem").inner_text() == "用户名或密码错误。"
    assert page.locator("#username").count() == 0


def test_the_language_switch_turns_every_label_to_english_and_stays(page: Any,
                                                                    person: Any) -> None:
    page.goto("/login")
    assert page.locator("h1").inner_text() == "登录"
    page.click("#lang-switch")
    assert page.locator("h1").inner_text() == "Sign in"
    sign_in(page, person("psb", "worker"))
    assert page.locator("h1").inner_text() == "Inbox"  # the choice is kept in a cookie
    page.click("#lang-switch")
    assert page.locator("h1").inner_text() == "待办任务"


def test_a_refused_form_shows_field_messages_and_keeps_the_task_open(page: Any,
                                                                     person: Any) -> None:
    case = open_case()
    task_id = add_task(case, step="r2.identity", owner="psb")
    sign_in(page, person("psb", "worker"), f"/tasks/{task_id}")
    assert page.url.endswith(f"/tasks/{task_id}")
    # The generated form: the decision's enum is a select of words, its booleans checkboxes.
    assert page.locator("select#f-outcome option").all_inner_texts()[1:] == [
        "已查找到亲属", "查找不到亲属"]
    assert page.locator("input#f-has_hukou").get_attribute("type") == "checkbox"
    assert page.locator("select#f-origin_district").count() == 1
    # Past the model's limit (the browser's maxlength taken off, as an old client would),
    # and no outcome chosen: the server refuses both, by field.
    page.eval_on_selector("#f-notes", "e => e.removeAttribute('maxlength')")
    page.fill("#f-notes", "x" * 2001)
    page.click("#submit")
    problems = page.locator("#problems li")
    fields = {problems.nth(i).get_attribute("data-field") for i in range(problems.count())}
    assert fields == {"outcome", "notes"}
    assert page.locator(".field.invalid").count() == 2
    assert page.input_value("#f-notes") == "x" * 2001  # what was typed comes back
    with db() as session:
        assert session.get(HumanTask, task_id).status == "open"


def test_a_form_without_the_csrf_token_is_refused(page: Any, person: Any) -> None:
    case = open_case()
    task_id = add_task(case, step="r2.identity", owner="psb")
    sign_in(page, person("psb", "worker"), f"/tasks/{task_id}")
    form = {"outcome": "family_not_found"}
    r = page.request.post(f"/tasks/{task_id}", form=form, max_redirects=0)
    assert r.status == 403 and "表单已过期" in r.text()
    r = page.request.post(f"/tasks/{task_id}", form={**form, "csrf_token": "forged"},
                          max_redirects=0)
    assert r.status == 403
    r = page.request.post("/logout", form={}, max_redirects=0)
    assert r.status == 403
    with db() as session:
        assert session.get(HumanTask, task_id).status == "open"
    page.goto(f"/tasks/{task_id}")  # still signed in: the refused sign-out did nothing
    assert page.locator("#task-form").count() == 1


def test_another_agencys_worker_is_refused_by_the_page_and_by_the_api(
        page: Any, person: Any, web_url: str) -> None:
    case = open_case()
    task_id = add_task(case, step="r2.identity", owner="psb")
    who = person("community:xingqing-fenghuang", "worker")
    sign_in(page, who)
    for path in (f"/tasks/{task_id}", f"/cases/{case}"):
        r = page.goto(path)
        assert r.status == 403, path
        assert page.locator("#error-message").inner_text() == "您无权查看此页面。"
    r = requests.post(f"{web_url}/api/v1/auth/login",
                      json={"username": who[0], "password": who[1]}, timeout=30)
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    for path in (f"/api/v1/tasks/{task_id}", f"/api/v1/cases/{case}"):
        assert requests.get(f"{web_url}{path}", headers=headers, timeout=30).status_code == 403
    page.goto("/inbox")
    assert page.locator(f"tr[data-task='{task_id}']").count() == 0


def test_the_case_page_shows_an_escalation_and_every_read_is_audited(
        page: Any, person: Any) -> None:
    from app.runtime.sweep import sweep

    case = open_case()
    task_id = add_task(case, step="r2.identity", owner="psb")
    with db() as session:  # its deadline passed a minute ago
        task = session.get(HumanTask, task_id)
        task.due_at = task.escalate_at = clock.now() - timedelta(minutes=1)
        session.add(task)
    report = sweep(now=clock.now(), deliver=False)
    assert any(e["task_id"] == task_id for e in report.escalations)

    coordinator = person("center", "coordinator")
    sign_in(page, coordinator, f"/cases/{case}")
    escalation = page.locator(f"#escalations li[data-task='{task_id}']")
    assert "市公安局分管领导" in escalation.inner_text()
    row = page.locator(f"#steps tr[data-task='{task_id}']")
    assert "市公安局分管领导" in row.inner_text() and "第1级升级" in row.inner_text()
    assert page.locator("#open-runs tr[data-run]").count() == 1
    assert page.locator("[data-field='child.name']").inner_text().startswith("测试童")
    reads = [e for e in events("case.read", f"user:{coordinator[0]}")
             if e.detail.get("fields") and "child.name" in e.detail["fields"]]
    assert reads and reads[-1].at <= clock.now()
    # The supervisor it went to sees it in their inbox, overdue or not, with days left.
    sign_in(page, person("psb", "supervisor"))
    assert page.locator(f"tr[data-task='{task_id}'] td.days").count() == 1


def test_the_dashboard_draws_every_chart_locally_without_personal_data(
        page: Any, person: Any, web_url: str) -> None:
    case = open_case()
    task_id = add_task(case, step="r2.identity", owner="psb")
    with db() as session:
        task = session.get(HumanTask, task_id)
        task.due_at = clock.now() - timedelta(hours=1)
        session.add(task)
    sign_in(page, person("office", "manager"))
    assert page.url.endswith("/dashboard")
    assert page.locator("svg.chart").count() == 4
    assert page.locator(f"#overdue tr[data-task='{task_id}']").count() == 1
    assert page.locator("#prefect-runs").get_attribute("href").endswith("/runs")
    html = page.content()
    assert not [v for v in PERSONAL if v in html]
    assert all(u.startswith(web_url) for u in page.requested)  # no CDN, nothing outside
    # A manager's case page: the summary only, never the child.
    page.goto(f"/cases/{case}")
    assert page.locator("[data-field='district']").count() == 1
    assert page.locator("[data-field^='child.']").count() == 0
    assert not [v for v in PERSONAL if v in page.content()]


def test_a_judicial_reader_opens_a_sealed_record_and_the_read_is_audited(
        page: Any, person: Any) -> None:
    record = add_sealed_record(open_case())
    who = person("court", "judicial")
    sign_in(page, who)
    page.goto(f"/sealed?record={record}")
    assert page.locator("#record").count() == 1
    assert events("sealed_record.read", f"user:{who[0]}")
    sign_in(page, person("psb", "worker"))
    assert page.goto(f"/sealed?record={record}").status == 403
