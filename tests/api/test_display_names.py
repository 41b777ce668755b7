"""The API's display fields (issue 17): beside every code a task, a case, a run or an audit event
carries, the name a person reads, in Chinese, or in English with `?lang=en` or
`Accept-Language: en`. The codes stay as they were."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from app.adapters.store import db
from app.domain import clock
from app.services import tasks
from models import HumanTask
from tests.api.conftest import add_task
from tests.helpers import open_case, token_headers

MINUTE = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"  # Beijing time, to the minute


def _escalated_identity_check() -> tuple[str, int]:
    from app.runtime.sweep import sweep

    case = open_case()
    task_id = add_task(case, step="r2.identity", owner="psb")
    with db() as session:
        task = session.get(HumanTask, task_id)
        task.due_at = task.escalate_at = clock.now() - timedelta(minutes=1)
        session.add(task)
    sweep(now=clock.now(), deliver=False)
    return case, task_id


def test_tasks_carry_the_names_of_their_step_procedure_owner_rung_and_status(
        client: Any) -> None:
    case, task_id = _escalated_identity_check()
    coordinator = token_headers("center", "coordinator")
    row = client.get("/api/v1/tasks", params={"case": case}, headers=coordinator).json()[0]
    assert (row["step"], row["owner"], row["owner_role"], row["rung"], row["status"]) == (
        "r2.identity", "psb", "supervisor", 1, "open")
    assert (row["step_name"], row["procedure_name"], row["owner_name"], row["rung_name"],
            row["status_name"]) == ("身份核查与寻亲", "流浪儿童救助", "市公安局分管领导",
                                    "第1级升级", "待办")
    en = client.get("/api/v1/tasks", params={"case": case, "lang": "en"},
                    headers=coordinator).json()[0]
    assert (en["step_name"], en["owner_name"], en["rung_name"]) == (
        "Identity check and family tracing", "Public Security Bureau (supervisor)",
        "Escalated, level 1")
    by_header = client.get(f"/api/v1/tasks/{task_id}",
                           headers={**coordinator, "Accept-Language": "en-GB,en;q=0.8"}).json()
    assert by_header["step_name"] == "Identity check and family tracing"
    assert by_header["step"] == "r2.identity"
    assert client.get("/api/v1/tasks", params={"lang": "fr"},
                      headers=coordinator).status_code == 422


def test_cases_and_runs_carry_the_names_of_their_codes(client: Any) -> None:
    case, _ = _escalated_identity_check()
    coordinator = token_headers("center", "coordinator")
    rows = client.get("/api/v1/cases", params={"district": "xingqing"},
                      headers=coordinator).json()
    assert {(r["district_name"], r["status_name"]) for r in rows} == {("兴庆区", "进行中")}
    view = client.get(f"/api/v1/cases/{case}", headers=coordinator).json()
    assert (view["district"], view["district_name"], view["source_name"]) == (
        "xingqing", "兴庆区", "巡查发现")
    assert view["category_names"] == ["流浪儿童"] and view["categories"] == ["street"]
    run = client.get(f"/api/v1/cases/{case}/procedures", params={"lang": "en"},
                     headers=coordinator).json()[0]
    assert (run["code"], run["procedure_name"], run["status_name"]) == (
        "R2", "Street child rescue", "Running")


def test_the_timeline_tells_each_event_as_a_sentence_in_beijing_time(client: Any) -> None:
    case, task_id = _escalated_identity_check()
    with db() as session:
        tasks.complete_task(session=session, task_id=task_id, agency="psb",
                            form={"outcome": "family_found"}, actor="agency:psb",
                            now=clock.now())
    coordinator = token_headers("center", "coordinator")
    timeline = client.get(f"/api/v1/cases/{case}/timeline", headers=coordinator).json()
    sentences = {e["action"]: e["sentence"] for e in timeline["events"]}
    assert re.fullmatch(rf"{MINUTE} 期限检查 将任务 #{task_id}「身份核查与寻亲」升级至 "
                        rf"市公安局分管领导（第1级升级），新期限 {MINUTE}",
                        sentences["task.escalated"]), sentences["task.escalated"]
    assert re.fullmatch(rf"{MINUTE} 市公安局 完成 身份核查与寻亲：已查找到亲属（是否有户籍：否，"
                        r"是否为婴幼儿或父母服刑在押：否）", sentences["task.completed"])
    assert "T" not in sentences["task.completed"][:16]  # Beijing time, not an ISO instant
    done = [e for e in timeline["events"] if e["action"] == "task.completed"][0]
    assert done["detail"]["decision"]["outcome"] == "family_found"  # the codes stay
    assert timeline["procedures"][0]["procedure_name"] == "流浪儿童救助"
