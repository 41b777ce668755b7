"""J2: the two-year clock, fired by one sweep, or stopped when the family is found."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from app import clock, services
from app.outbox import start_message_key
from app.store import db
from app.sweep import sweep
from models import OutboxMessage, Timer
from tests.helpers import (
    complete,
    flow_state,
    open_case,
    open_task,
    runs_of,
    start,
    wait_finished,
    wait_for,
)

pytestmark = pytest.mark.flows


def _timer(run_id: int) -> Timer | None:
    with db() as session:
        return session.exec(select(Timer).where(Timer.procedure_run_id == run_id)).first()


def test_one_sweep_fires_a_two_year_clock_and_police_register_the_hukou(system) -> None:
    case = open_case()
    j2 = start(case, "J2", params={"placed_on": "2024-03-01"})
    timer = wait_for(lambda: _timer(j2), what="the two-year timer")
    assert timer.due_at.date() == date(2026, 3, 1)
    wait_for(lambda: flow_state(j2) == "Suspended", what="J2 to suspend on its clock")

    report = sweep()
    assert report.timers_fired >= 1
    registration = open_task(case, "j2.registration")
    assert registration.owner == "psb"
    complete(registration, registered_on=clock.now().date().isoformat(),
             registered_district="xingqing", placement_date="2024-03-01",
             application_date=clock.now().date().isoformat(), institution="welfare",
             address="银川市兴庆区福利院路1号")
    assert wait_finished(j2).outcome == "registered"


def test_finding_the_family_first_cancels_the_clock(system) -> None:
    case = open_case()
    j2 = start(case, "J2", params={"placed_on": clock.now().date().isoformat()})
    wait_for(lambda: _timer(j2), what="the two-year timer")
    wait_for(lambda: flow_state(j2) == "Suspended", what="J2 to suspend on its clock")

    with db() as session:
        cancelled = services.family_found(session=session, case_ref=case, actor="test",
                                          now=clock.now())
    assert len(cancelled) == 1
    from app.dispatch import dispatch

    dispatch(kinds=("resume",))
    assert wait_finished(j2).outcome == "family_found"
    assert _timer(j2).status == "cancelled"
    assert [r.status for r in runs_of(case, "J2")] == ["completed"]


def test_a_rescued_child_without_family_is_placed_and_j2_starts(system) -> None:
    case = open_case()
    start(case, "R2")
    complete(open_task(case, "r2.outreach"), outcome="accepted")
    complete(open_task(case, "r2.intake"), ill_or_injured=False)
    complete(open_task(case, "r2.identity"), "psb", outcome="family_not_found",
             has_hukou=False)
    placement = open_task(case, "r2.placement")
    assert placement.owner == "district:xingqing"
    complete(placement, placed_with="welfare", placed_on="2026-11-01")
    [j2] = wait_for(lambda: runs_of(case, "J2"), what="J2 to start")
    timer = wait_for(lambda: _timer(j2.id), what="J2's clock")
    assert timer.due_at.date() == date(2028, 11, 1)
    with db() as session:  # R2's step delivered the start itself, at the first attempt
        started = session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == start_message_key(j2.id))).one()
    assert (started.status, started.attempts) == ("delivered", 1)
