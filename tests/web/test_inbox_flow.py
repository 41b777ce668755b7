"""A task completed from the inbox page resumes its procedure on the real Prefect server,
which asks every client for its auth string (`protect up` runs it so)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
from sqlmodel import select

from app.adapters.store import db
from models import AuditEvent
from tests.helpers import flow_state, open_case, open_task, run_row, start, wait_for
from tests.web.conftest import sign_in


@pytest.mark.flows
def test_the_prefect_server_refuses_a_client_without_the_auth_string(system: Any) -> None:
    api = os.environ["PREFECT_API_URL"]
    assert os.environ["PREFECT_API_AUTH_STRING"] == os.environ["PREFECT_SERVER_API_AUTH_STRING"]
    assert requests.post(f"{api}/flows/filter", json={}, timeout=30).status_code == 401
    ok = requests.post(f"{api}/flows/filter", json={}, timeout=30,
                       auth=tuple(os.environ["PREFECT_API_AUTH_STRING"].split(":", 1)))
    assert ok.status_code == 200


@pytest.mark.flows
def test_a_worker_completes_a_task_from_the_inbox_and_the_procedure_goes_on(
        system: Any, page: Any, person: Any) -> None:
    case = open_case()
    run = start(case, "R2")
    task = open_task(case, "r2.outreach")
    worker = person("center", "worker")

    sign_in(page, worker, "/inbox")
    row = page.locator(f"tr[data-task='{task.id}']")
    assert case in row.inner_text() and "寻找儿童并劝导接受救助" in row.inner_text()
    assert "工作日" in row.locator("td.days").inner_text()  # 24 h: working days left
    row.locator("a", has_text=f"#{task.id}").click()
    page.wait_for_url(f"**/tasks/{task.id}")
    page.select_option("#f-outcome", "accepted")
    page.fill("#f-location", "测试路口")
    page.click("#submit")
    page.wait_for_url("**/inbox?done=*")
    assert page.locator("#done").count() == 1
    # What comes next, in words, and the next task itself as soon as the flow opens it.
    assert "下一步“接收入站并进行健康检查”，由市未成年人社会保护中心办理" in page.locator(
        "#done-text").inner_text()
    assert page.locator("#empty").count() == 0

    nxt = open_task(case, "r2.intake")  # the flow resumed and opened the next step
    assert nxt.procedure_run_id == run
    page.locator(f"#next-task a[href='/tasks/{nxt.id}']").wait_for(timeout=20000)
    assert page.locator(f"#inbox-list tr[data-task='{nxt.id}']").count() == 1
    with db() as session:
        done = session.exec(select(AuditEvent).where(AuditEvent.action == "task.completed",
                                                     AuditEvent.task_id == task.id)).one()
    assert done.actor == f"user:{worker[0]}" and done.detail["decision"] == {
        "outcome": "accepted"}

    # The coordinator's case page links the run in the Prefect UI.
    wait_for(lambda: flow_state(run) == "Suspended", what="the run to suspend")
    sign_in(page, person("center", "coordinator"), f"/cases/{case}")
    link = page.locator(f"#open-runs tr[data-run='{run}'] a.prefect-run")
    assert link.get_attribute("href").endswith(f"/runs/flow-run/{run_row(run).flow_run_id}")
    assert page.locator(f"#steps tr[data-task='{task.id}']").inner_text().count(
        "市未成年人社会保护中心") >= 1
