"""The judicial procedures end to end: J1 family tracing, J2's two-year clock, J3's sealed
record and its audited reads, J4's monthly reviews."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from app.adapters.dispatch import dispatch
from app.adapters.outbox import start_message_key
from app.adapters.store import db
from app.domain import clock
from app.domain.errors import Forbidden, ValidationFailed
from app.runtime.sweep import sweep
from app.services import cases as services
from models import AuditEvent, Case, HumanTask, OutboxMessage, SealedRecord, Timer
from tests.helpers import (
    complete,
    flow_state,
    open_case,
    open_task,
    protect,
    run_inputs,
    run_row,
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


def test_a_sweep_as_of_two_years_ahead_opens_the_registration_on_that_day(system) -> None:
    """`protect sweep --now` two years ahead fires J2's clock; the registration it opens counts
    its deadline from that instant, so the scenario goes on from there (and a second sweep as
    of the same instant does not find it overdue)."""
    from app.config.procedures import procedure
    from app.domain.workdays import due_after

    case = open_case()
    j2 = start(case, "J2", params={"placed_on": clock.now().date().isoformat()})
    timer = wait_for(lambda: _timer(j2), what="the two-year timer")
    wait_for(lambda: flow_state(j2) == "Suspended", what="J2 to suspend on its clock")
    as_of = timer.due_at + timedelta(hours=3)
    assert sweep(now=as_of).timers_fired >= 1
    registration = open_task(case, "j2.registration")
    deadline = procedure("J2").step("j2.registration").deadline
    assert registration.created_at == as_of
    assert registration.due_at == due_after(as_of, deadline)
    sweep(now=as_of)
    with db() as session:
        assert session.get(HumanTask, registration.id).rung == 0  # not overdue as of then
    then = as_of.date().isoformat()  # the scenario's day, two years on
    complete(registration, registered_on=then, registered_district="xingqing",
             placement_date=clock.now().date().isoformat(), application_date=then,
             institution="welfare", address="银川市兴庆区福利院路1号")
    assert wait_finished(j2).outcome == "registered"
    with db() as session:  # the replay after the completion opened nothing new
        tasks = session.exec(select(HumanTask).where(HumanTask.procedure_run_id == j2)).all()
    assert [(t.step, t.due_at) for t in tasks] == [("j2.registration", registration.due_at)]


def test_finding_the_family_first_cancels_the_clock(system) -> None:
    case = open_case()
    j2 = start(case, "J2", params={"placed_on": clock.now().date().isoformat()})
    wait_for(lambda: _timer(j2), what="the two-year timer")
    wait_for(lambda: flow_state(j2) == "Suspended", what="J2 to suspend on its clock")

    with db() as session:
        cancelled = services.family_found(session=session, case_ref=case, actor="test",
                                          now=clock.now())
    assert len(cancelled) == 1
    from app.adapters.dispatch import dispatch

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
    [j1] = runs_of(case, "J1")  # and the search for the family goes on
    assert open_task(case, "j1.search").owner == "psb"
    timer = wait_for(lambda: _timer(j2.id), what="J2's clock")
    assert timer.due_at.date() == date(2028, 11, 1)
    with db() as session:
        started = session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == start_message_key(j2.id))).one()
    assert started.status == "delivered"
    # R2's step delivers the start itself. It once got a coroutine back from Prefect inside
    # the async flow and failed every time, until the serving process's dispatcher retried it;
    # a busy server may still refuse an attempt (and be retried), but never that way.
    from tests.conftest import LOGS

    failed = f"outbox message {started.id} (start) not delivered: AttributeError"
    assert failed not in (LOGS / "serve.log").read_text(encoding="utf-8")


def _pending_timer(run_id: int, key: str) -> Timer | None:
    with db() as session:
        return session.exec(select(Timer).where(
            Timer.procedure_run_id == run_id, Timer.key == key,
            Timer.status == "pending")).first()


def _fire(run_id: int, key: str) -> None:
    """Wait until the run sleeps on its timer `key`, then sweep as of just after it is due."""
    timer = wait_for(lambda: _pending_timer(run_id, key), what=f"timer {key}")
    wait_for(lambda: flow_state(run_id) == "Suspended", what=f"the run to wait for {key}")
    assert sweep(now=timer.due_at + timedelta(minutes=1)).timers_fired >= 1


def _task(task_id: int) -> HumanTask:
    with db() as session:
        t = session.get(HumanTask, task_id)
        assert t is not None
        return t


# --- J1 family tracing --------------------------------------------------------------------------

SEARCHED = {"rescue_system_searched": True, "population_system_searched": True,
            "dna_database_searched": True}


def test_j1_searches_until_a_verified_match_then_starts_r3(system) -> None:
    case = open_case()
    j2 = start(case, "J2", params={"placed_on": clock.now().date().isoformat()})
    j1 = start(case, "J1")
    today = clock.now().date()
    search = open_task(case, "j1.search")
    assert search.owner == "psb"
    with pytest.raises(ValidationFailed) as refused:  # all three systems, or no report
        complete(search, outcome="no_match", searched_on=today.isoformat(),
                 **{**SEARCHED, "dna_database_searched": False})
    assert [(e.field, e.code) for e in refused.value.errors] == [
        ("dna_database_searched", "dna_database_searched.not_searched")]
    complete(search, outcome="no_match", searched_on=today.isoformat(), **SEARCHED)

    timer = wait_for(lambda: _pending_timer(j1, "retry-1"), what="the first retry timer")
    assert timer.due_at.date() == today + timedelta(days=90)  # calendar days
    _fire(j1, "retry-1")
    complete(open_task(case, "j1.search", key="search-2"), outcome="candidate",
             searched_on=today.isoformat(), dna_sample_taken=True, **SEARCHED)
    complete(open_task(case, "j1.verification", key="verification-2"), outcome="not_confirmed",
             verified_on=today.isoformat(), method="dna")
    _fire(j1, "retry-2")
    complete(open_task(case, "j1.search", key="search-3"), outcome="candidate",
             searched_on=today.isoformat(), **SEARCHED)
    complete(open_task(case, "j1.verification", key="verification-3"), outcome="confirmed",
             verified_on=today.isoformat(), method="documents")
    assert wait_finished(j1).outcome == "found"
    [r3] = wait_for(lambda: runs_of(case, "R3"), what="R3 to start")
    assert r3.parent_run_id == j1
    assert open_task(case, "r3.assessment").procedure_run_id == r3.id
    assert wait_finished(j2).outcome == "family_found"  # the family found stops J2's clock


def test_j2_started_before_the_family_was_found_sets_no_clock_after_it(system) -> None:
    # J1 can find the family while J2's start still waits in the outbox: the found family
    # cancels only the clocks already set, so J2 itself must not set one afterwards.
    case = open_case()
    with db() as session:
        services.family_found(session=session, case_ref=case, actor="test", now=clock.now())
    j2 = start(case, "J2", params={"placed_on": clock.now().date().isoformat()})
    assert wait_finished(j2).outcome == "family_found"
    with db() as session:
        assert session.exec(select(Timer).where(Timer.procedure_run_id == j2)).all() == []


def test_j1_stops_when_the_case_is_closed_or_the_family_is_found(system) -> None:
    today = clock.now().date().isoformat()
    closed, found = open_case(), open_case()
    j1_closed, j1_found = start(closed, "J1"), start(found, "J1")
    complete(open_task(closed, "j1.search"), outcome="no_match", searched_on=today, **SEARCHED)
    complete(open_task(found, "j1.search"), outcome="no_match", searched_on=today, **SEARCHED)

    timer = wait_for(lambda: _pending_timer(j1_closed, "retry-1"), what="J1's retry timer")
    wait_for(lambda: _pending_timer(j1_found, "retry-1"), what="J1's retry timer")
    wait_for(lambda: flow_state(j1_closed) == flow_state(j1_found) == "Suspended",
             what="both J1 runs to wait")

    # The family found first: its timer is cancelled, so the sweep below cannot fire it.
    with db() as session:
        services.family_found(session=session, case_ref=found, actor="test", now=clock.now())
    dispatch(kinds=("resume",))
    assert wait_finished(j1_found).outcome == "family_found"

    with db() as session:  # closed by hand: the service layer has no "close case" yet
        case = session.exec(select(Case).where(Case.case_no == closed)).one()
        case.status = "closed"
        session.add(case)
    sweep(now=timer.due_at + timedelta(minutes=1))
    assert wait_finished(j1_closed).outcome == "case_closed"


def test_j1_a_late_search_climbs_to_the_police_supervisor(system) -> None:
    case = open_case()
    start(case, "J1")
    search = open_task(case, "j1.search")
    assert search.ladder == ["psb", "psb/supervisor", "office"]
    report = sweep(now=search.due_at + timedelta(minutes=1))
    assert [(e["rung"], e["to"]) for e in report.escalations
            if e["task_id"] == search.id] == [(1, "psb/supervisor")]
    assert (_task(search.id).owner, _task(search.id).owner_role) == ("psb", "supervisor")


# --- J3 juvenile offenders and record sealing ----------------------------------------------------

SEAL = {"record_no": "J3-2026-0001", "offence_date": "2026-10-03"}


def _sealed_record(run_id: int) -> SealedRecord | None:
    with db() as session:
        return session.exec(select(SealedRecord).where(
            SealedRecord.procedure_run_id == run_id)).first()


def _only_judges_read_what_j3_sealed(case: str, j3: int, record_id: int, today: str) -> None:
    """The steps' decisions stay on the tasks and in their audit events after the sealing,
    and never reached Prefect (its run inputs are the tasks' ids, flows/steps.py:TaskInput);
    a reader who is not judicial sees the sealed marker
    in their place (app/domain/sealing.py; every role and place:
    tests/api/test_sealed_everywhere.py)."""
    import json

    from app.domain.access import Principal
    from app.services.history import case_history
    from app.services.tasks import read_task

    marker = {"sealed": True, "sealed_record_id": record_id}
    with db() as session:
        done = set(session.exec(select(HumanTask.id).where(
            HumanTask.procedure_run_id == j3, HumanTask.status == "done")).all())
    responses = [i for i in run_inputs(j3) if "task_id" in i]
    assert len(done) == 4 and {i["task_id"] for i in responses} == done
    assert all(set(i) == {"task_id"} for i in responses), responses
    with db() as session:
        judgment = session.exec(select(HumanTask).where(
            HumanTask.procedure_run_id == j3, HumanTask.step == "j3.judgment")).one()
        assert judgment.decision == {"sentence": "probation", "judged_on": today}
        for roles in ({"coordinator"}, {"worker"}, {"worker", "judicial"}):
            who = Principal(username="reader", agency="court", roles=frozenset(roles))
            shown, _, _ = read_task(session=session, task_id=int(judgment.id or 0), viewer=who,
                                    now=clock.now())
            judge = "judicial" in roles
            assert (shown.decision == marker) is not judge
            assert (shown.decision == judgment.decision) is judge
    events = [e for e in case_history(case)["events"] if e["procedure_run_id"] == j3]
    completed = [e for e in events if e["action"] == "task.completed"]
    assert len(completed) == 4 and all(e["detail"]["decision"] == marker for e in completed)
    assert all(e["sentence"].endswith("：已封存") for e in completed)
    said = json.dumps(events, ensure_ascii=False)
    assert not [v for v in ("probation", "prosecution", "缓刑", "提起公诉", "J3-2026-0001",
                            "offence_confirmed", "judged_on") if v in said]


def test_j3_prosecuted_on_probation_starts_j4_and_seals_a_record_only_judges_may_read(
        system) -> None:
    case = open_case()
    j3 = start(case, "J3")
    today = clock.now().date().isoformat()
    investigation = open_task(case, "j3.investigation")
    assert investigation.owner == "psb"
    complete(investigation, offence_confirmed=True, in_school=True,
             appropriate_adult_present=True, notes="在校学生，初犯")
    complete(open_task(case, "j3.handling"), "procuratorate", measure="prosecution")
    complete(open_task(case, "j3.judgment"), "court", sentence="probation", judged_on=today)
    [j4] = wait_for(lambda: runs_of(case, "J4"), what="J4 to start on probation")
    assert j4.parent_run_id == j3

    sealing = open_task(case, "j3.sealing")
    assert sealing.owner == "court"
    with pytest.raises(ValidationFailed) as refused:
        complete(sealing, sealed_on="2026-10-01", authority="court",
                 **{**SEAL, "record_no": "bad no"})
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("record_no", "record_no.format"), ("sealed_on", "sealed_on.before_offence")}
    complete(sealing, sealed_on=today, authority="court", **SEAL)
    assert wait_finished(j3).outcome == "sealed"

    record = wait_for(lambda: _sealed_record(j3), what="the sealed record")
    assert (record.record_no, record.authority) == ("J3-2026-0001", "court")
    assert record.content["investigation"]["notes"] == "在校学生，初犯"
    with db() as session:  # the tasks keep only a pointer to the sealed record
        records = session.exec(select(HumanTask.record).where(
            HumanTask.procedure_run_id == j3)).all()
    assert all(r == {"sealed_record_id": record.id} for r in records)
    _only_judges_read_what_j3_sealed(case, j3, record.id, today)

    with db() as session:
        read = services.read_sealed_record(session=session, record_id=record.id, agency="court",
                                           role="court", actor="judge-1", now=clock.now())
        assert read.record_no == "J3-2026-0001"
    for agency, role in (("mca", "worker"), ("edu", "police")):  # not judicial / not its agency
        with pytest.raises(Forbidden), db() as session:
            services.read_sealed_record(session=session, record_id=record.id, agency=agency,
                                        role=role, actor=f"{agency}-1", now=clock.now())
    refused_cli = protect("case", "sealed-record", str(record.id), "--agency", "women",
                          "--role", "worker", "--actor", "cli-1", "--json", check=False)
    assert refused_cli.returncode == 2 and "forbidden" in refused_cli.stdout
    assert "J3-2026-0001" not in refused_cli.stdout
    with db() as session:
        reads = session.exec(select(AuditEvent).where(
            AuditEvent.action == "sealed_record.read").order_by(col(AuditEvent.id))).all()
    mine = [(a.actor, a.detail["agency"], a.detail["role"], a.detail["allowed"]) for a in reads
            if a.detail["sealed_record_id"] == record.id]
    assert mine == [("judge-1", "court", "court", True), ("mca-1", "mca", "worker", False),
                    ("edu-1", "edu", "police", False), ("cli-1", "women", "worker", False)]


def test_j3_education_first_branches(system) -> None:
    today = clock.now().date().isoformat()
    no_offence, reprimand, failed, long_sentence = (open_case() for _ in range(4))
    runs = {c: start(c, "J3") for c in (no_offence, reprimand, failed, long_sentence)}
    complete(open_task(no_offence, "j3.investigation"), offence_confirmed=False, in_school=False,
             appropriate_adult_present=True)
    for c in (reprimand, failed, long_sentence):
        complete(open_task(c, "j3.investigation"), offence_confirmed=True, in_school=False,
                 appropriate_adult_present=True)
    complete(open_task(reprimand, "j3.handling"), measure="reprimand_and_education")
    complete(open_task(failed, "j3.handling"), measure="conditional_non_prosecution")
    complete(open_task(long_sentence, "j3.handling"), measure="prosecution")

    help_education = open_task(reprimand, "j3.help_education")
    assert help_education.owner == "justice"
    complete(help_education, outcome="completed", plan_started_on=today)
    sealing = open_task(reprimand, "j3.sealing")
    assert sealing.owner == "procuratorate"
    complete(sealing, sealed_on=today, authority="procuratorate", **SEAL)

    complete(open_task(failed, "j3.help_education"), outcome="failed", plan_started_on=today)
    complete(open_task(failed, "j3.judgment"), sentence="custodial_up_to_5y", judged_on=today)
    complete(open_task(failed, "j3.sealing"), sealed_on=today, authority="court", **SEAL)
    complete(open_task(long_sentence, "j3.judgment"), sentence="custodial_over_5y",
             judged_on=today)

    outcomes = {c: wait_finished(r).outcome for c, r in runs.items()}
    assert outcomes == {no_offence: "no_offence", reprimand: "sealed", failed: "sealed",
                        long_sentence: "not_sealable"}
    assert _sealed_record(runs[long_sentence]) is None
    assert runs_of(failed, "J4") == []  # a custodial sentence is no community correction


def test_j3_a_late_judgment_climbs_to_the_court_supervisor(system) -> None:
    case = open_case()
    start(case, "J3")
    complete(open_task(case, "j3.investigation"), offence_confirmed=True, in_school=True,
             appropriate_adult_present=True)
    complete(open_task(case, "j3.handling"), measure="prosecution")
    judgment = open_task(case, "j3.judgment")
    report = sweep(now=judgment.due_at + timedelta(minutes=1))
    assert [(e["rung"], e["to"]) for e in report.escalations
            if e["task_id"] == judgment.id] == [(1, "court/supervisor")]


# --- J4 community correction support -------------------------------------------------------------

PLAN = {"identity_protected": True, "emotional_support": True, "schooling_or_work": "school"}


def test_j4_reviews_every_month_of_the_term_then_releases(system) -> None:
    case = open_case()
    j4 = start(case, "J4")
    today = clock.now().date()
    plan = open_task(case, "j4.plan")
    assert plan.owner == "justice"
    with pytest.raises(ValidationFailed) as refused:
        complete(plan, plan_from=today.isoformat(), term_months=2,
                 **{**PLAN, "identity_protected": False})
    assert [e.field for e in refused.value.errors] == ["identity_protected"]
    report = sweep(now=plan.due_at + timedelta(minutes=1))  # late: the bureau's supervisor
    assert [(e["rung"], e["to"]) for e in report.escalations
            if e["task_id"] == plan.id] == [(1, "justice/supervisor")]
    complete(plan, plan_from=today.isoformat(), term_months=2, **PLAN)

    first = wait_for(lambda: _pending_timer(j4, "review-1"), what="the first review")
    assert first.due_at.date() in {today + timedelta(days=d) for d in range(28, 32)}
    for month, progress in ((1, "violation"), (2, "on_track")):
        _fire(j4, f"review-{month}")
        review = open_task(case, "j4.review", key=f"review-{month}")
        complete(review, progress=progress, review_date=today.isoformat())
    complete(open_task(case, "j4.release"), released_on=today.isoformat())
    assert wait_finished(j4).outcome == "released"
    with db() as session:
        alerts = session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key) == f"notify:run:{j4}:review-1-violation")).all()
    assert [(a.payload["agency"], a.payload["event"]) for a in alerts] == [
        ("court", "j4.violation")]
    assert run_row(j4).status == "completed"
