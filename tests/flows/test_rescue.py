"""R2 → R3 end to end on a real Prefect server and runner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from app import clock
from app.store import db
from app.sweep import sweep
from models import Timer
from tests.helpers import (
    complete,
    flow_run,
    flow_state,
    open_case,
    open_task,
    protect_json,
    run_row,
    runs_of,
    start,
    wait_finished,
    wait_for,
)

pytestmark = pytest.mark.flows
HOME_STREET = "street:xingqing-fenghuang"


def _pending_timer(run_id: int, key: str) -> Timer | None:
    with db() as session:
        return session.exec(select(Timer).where(Timer.procedure_run_id == run_id,
                                                Timer.key == key,
                                                Timer.status == "pending")).first()


def test_street_child_is_rescued_returned_home_and_visited_for_a_year(system) -> None:
    case = open_case()
    r2 = start(case, "R2")

    task = open_task(case, "r2.outreach")
    fr = flow_run(r2)
    assert case in fr.name and "R2" in fr.name
    assert {case, "R2"} <= set(fr.tags)
    listed = protect_json("tasks", "--case", case)
    assert [(t["id"], t["step"], t["owner"]) for t in listed] == [
        (task.id, "r2.outreach", "center")]
    complete(task, "center", outcome="accepted", location="银川火车站")

    complete(open_task(case, "r2.intake"), "center", ill_or_injured=False)
    complete(open_task(case, "r2.identity"), "psb", outcome="family_found", has_hukou=True,
             origin_district="xingqing")
    assert wait_finished(r2).outcome == "returned_home"

    [r3_row] = runs_of(case, "R3")
    r3 = r3_row.id
    assert r3_row.parent_run_id == r2
    complete(open_task(case, "r3.assessment"), guardian_able=True, home_safe=True,
             home_street=HOME_STREET)
    today = clock.now().date()
    complete(open_task(case, "r3.escort"), handed_over_on=today.isoformat())
    complete(open_task(case, "r3.school_referral"), "edu", enrolled=True)

    for months in (1, 3, 6, 12):
        key = f"visit-{months}m"
        timer = wait_for(lambda key=key: _pending_timer(r3, key), what=f"timer {key}")
        assert (timer.due_at - clock.now()).days >= months * 28 - 2
        wait_for(lambda: flow_state(r3) == "Suspended", what=f"R3 to wait for {key}")
        assert sweep(now=timer.due_at + timedelta(minutes=1)).timers_fired >= 1
        visit = open_task(case, "r3.visit", key=key)
        assert visit.owner == HOME_STREET
        complete(visit, visit_date=(today + timedelta(days=months * 30)).isoformat(),
                 child_seen=True, situation="ok", needs=[])

    complete(open_task(case, "r3.closing"), outcome="closed")
    assert wait_finished(r3).outcome == "closed"
    assert run_row(r2).status == run_row(r3).status == "completed"

    history = protect_json("history", "--case", case)
    assert sorted((r["name"].split("-")[2], r["state"]) for r in history["flow_runs"]) == [
        ("R2", "Completed"), ("R3", "Completed")]
    actions = [e["action"] for e in history["events"]]
    assert actions.count("task.completed") == 11 and actions.count("timer.fired") == 4
