"""The engine's promises: escalation, replay, one completion, nothing lost when Prefect is down."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from app.adapters.dispatch import dispatch
from app.adapters.store import db
from app.domain import clock
from app.domain.errors import Conflict
from app.runtime.sweep import sweep
from app.services import cases, procedures, tasks
from models import AuditEvent, HumanTask, OutboxMessage, StepJournal
from tests.helpers import (
    complete,
    flow_run,
    flow_state,
    open_case,
    open_task,
    protect,
    protect_json,
    start,
    wait_for,
)

pytestmark = pytest.mark.flows


def _task(task_id: int) -> HumanTask:
    with db() as session:
        t = session.get(HumanTask, task_id)
        assert t is not None
        return t


def _to_placement(case: str) -> HumanTask:
    start(case, "R2")
    complete(open_task(case, "r2.outreach"), outcome="accepted")
    complete(open_task(case, "r2.intake"), ill_or_injured=False)
    complete(open_task(case, "r2.identity"), "psb", outcome="family_not_found")
    return open_task(case, "r2.placement")


def test_a_missed_deadline_climbs_one_rung_per_sweep_up_to_the_office(system) -> None:
    case = open_case(district="jinfeng")
    task = _to_placement(case)
    assert task.ladder == ["district:jinfeng", "mca", "office"]
    t0 = task.due_at

    first = protect_json("sweep", "--now", (t0 + timedelta(days=10)).isoformat())
    mine = [e for e in first["escalations"] if e["task_id"] == task.id]
    assert [(e["rung"], e["to"]) for e in mine] == [(1, "mca")]
    again = sweep(now=t0 + timedelta(days=10))
    assert task.id not in [e["task_id"] for e in again.escalations]
    assert (_task(task.id).owner, _task(task.id).rung) == ("mca", 1)

    sweep(now=t0 + timedelta(days=20))
    top = _task(task.id)
    assert (top.owner, top.rung, top.escalate_at) == ("office", 2, None)
    sweep(now=t0 + timedelta(days=400))
    assert _task(task.id).rung == 2

    with db() as session:
        audit = session.exec(select(AuditEvent).where(
            AuditEvent.task_id == task.id, AuditEvent.action == "task.escalated")
            .order_by(col(AuditEvent.id))).all()
        notes = session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith(f"notify:task:{task.id}:rung:"))).all()
    assert [a.detail["to"] for a in audit] == ["mca", "office"]
    assert sorted(n.payload["agency"] for n in notes) == ["mca", "office"]

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    def escalation_events() -> list:
        with get_client(sync_client=True) as client:
            page = client.read_events(EventFilter(
                event=EventNameFilter(name=["protect.task.escalated"]),
                resource=EventResourceFilter(id=[f"protect.task.{task.id}"])), limit=50)
        return page.events if len(page.events) == 2 else []

    events = wait_for(escalation_events, timeout=30, what="escalation events in Prefect")
    assert sorted(e.payload["to"] for e in events) == ["mca", "office"]
    # The office can still decide, and the procedure goes on.
    complete(top, "office", placed_with="foster", placed_on="2026-11-01")
    wait_for(lambda: flow_state(task.procedure_run_id) == "Completed", what="R2 to finish")


def _task_runs(run: int, open_tasks: int) -> dict[str, list[str]]:
    """The state names of the run's Prefect task runs, by task name, once each is final and
    `open_tasks` of them are runs of the open-task step.

    Prefect's server records task runs and their states from the events the flow run sends, so
    the last task run, or its final state, can land a moment after the flow run has suspended.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    def final() -> list[Any] | None:
        with get_client(sync_client=True) as client:
            task_runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run(run).id])))
        # A task run can be recorded from its first event before its state arrives.
        opened = [tr for tr in task_runs if tr.name.startswith("open-task-")]
        return task_runs if len(opened) >= open_tasks and all(
            tr.state is not None and tr.state.is_final() for tr in task_runs) else None

    by_name: dict[str, list[str]] = {}
    for tr in wait_for(final, timeout=30, what="every task run of the flow run to be final"):
        by_name.setdefault(tr.name.rsplit("-", 1)[0], []).append(tr.state.name)
    return by_name


def test_a_task_that_ran_before_a_suspension_does_not_run_again_after_resume(system) -> None:
    case = open_case()
    run = start(case, "R2")
    complete(open_task(case, "r2.outreach"), outcome="accepted")
    complete(open_task(case, "r2.intake"), ill_or_injured=False)
    open_task(case, "r2.identity")  # two resumes: the flow body has replayed twice

    # Each step ran once, as one Prefect task run; the replays took its result from the
    # run's journal in the case store, without a task run.
    by_name = _task_runs(run, open_tasks=3)
    assert by_name["begin"] == ["Completed"]
    assert sorted(by_name["open-task"]) == ["Completed"] * 3  # outreach, intake, identity
    with db() as session:
        opened = session.exec(select(AuditEvent).where(
            AuditEvent.procedure_run_id == run, AuditEvent.action == "task.opened")).all()
        journal = session.exec(select(StepJournal).where(
            StepJournal.procedure_run_id == run)).all()
    assert len(opened) == 3
    assert sorted(j.op for j in journal) == ["begin", "open-task", "open-task", "open-task"]


def test_without_its_journal_a_replay_falls_back_to_prefects_cached_results(system) -> None:
    case = open_case()
    run = start(case, "R2")
    complete(open_task(case, "r2.outreach"), outcome="accepted")
    open_task(case, "r2.intake")
    wait_for(lambda: flow_state(run) == "Suspended", what="R2 to suspend at intake")
    with db() as session:  # as if the journal writes had been lost
        for row in session.exec(select(StepJournal).where(StepJournal.procedure_run_id == run)):
            session.delete(row)
    complete(open_task(case, "r2.intake"), ill_or_injured=False)
    open_task(case, "r2.identity")

    by_name = _task_runs(run, open_tasks=5)
    assert sorted(by_name["open-task"]) == ["Cached", "Cached", "Completed", "Completed",
                                            "Completed"]
    with db() as session:
        opened = session.exec(select(AuditEvent).where(
            AuditEvent.procedure_run_id == run, AuditEvent.action == "task.opened")).all()
    assert len(opened) == 3  # nothing opened twice


def test_completing_a_task_twice_gives_one_completion_and_a_clear_conflict(system,
                                                                         tmp_path) -> None:
    case = open_case()
    start(case, "R2")
    task = open_task(case, "r2.outreach")
    form = tmp_path / "outreach.json"
    form.write_text('{"outcome": "accepted"}')

    first = protect("complete", str(task.id), "--as", "center", "--file", str(form))
    assert "completed" in first.stdout
    second = protect("complete", str(task.id), "--as", "center", "--file", str(form),
                     check=False)
    assert second.returncode == 2
    assert "already done" in second.stderr
    with pytest.raises(Conflict):
        complete(task, "center", outcome="refused")
    assert _task(task.id).decision == {"outcome": "accepted"}
    open_task(case, "r2.intake")


def test_two_agencies_completing_at_once_make_exactly_one_completion(system) -> None:
    case = open_case()
    start(case, "R2")
    task = open_task(case, "r2.outreach")
    results: list[str] = []

    def attempt(outcome: str) -> None:
        try:
            with db() as session:
                tasks.complete_task(session=session, task_id=task.id, agency="center",
                                    form={"outcome": outcome}, actor="test", now=clock.now())
            results.append("done")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt, args=(o,)) for o in ("accepted", "not_found")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "done"]
    with db() as session:
        resumes = session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"resume:task:{task.id}")).all()
    assert len(resumes) == 1


def test_a_completion_while_prefect_is_down_is_kept_and_resumes_after_a_sweep(system) -> None:
    case = open_case()
    start(case, "R2")
    task = open_task(case, "r2.outreach")

    system.server.stop()
    try:
        with db() as session:
            tasks.complete_task(session=session, task_id=task.id, agency="center",
                                form={"outcome": "accepted"}, actor="test", now=clock.now())
        assert dispatch(kinds=("resume",)).delivered == 0
        assert _task(task.id).status == "done"
        with db() as session:
            msg = session.exec(select(OutboxMessage).where(
                OutboxMessage.dedupe_key == f"resume:task:{task.id}")).one()
        assert msg.status == "pending"
    finally:
        system.server.start()

    def delivered() -> bool:
        sweep()
        with db() as session:
            msg = session.exec(select(OutboxMessage).where(
                OutboxMessage.dedupe_key == f"resume:task:{task.id}")).one()
            return msg.status == "delivered"

    wait_for(delivered, timeout=120, what="the resume to be delivered by a sweep")
    assert open_task(case, "r2.intake", timeout=120).status == "open"


def test_the_sweep_deployment_runs_in_the_serving_process(system) -> None:
    from prefect.deployments import run_deployment

    case = open_case()
    task = _to_placement(case)
    as_of = (task.due_at + timedelta(days=10)).isoformat()
    run = run_deployment("protect-sweep/every-minute", parameters={"as_of": as_of}, timeout=120)
    assert run.state.is_completed()
    assert _task(task.id).rung == 1


def test_a_start_waits_in_the_outbox_while_runs_wait_for_a_worker(system, monkeypatch) -> None:
    """With `start_backlog` set, a start is held (not a failed attempt) while that many flow
    runs wait for a worker, and goes out once they have been taken."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled, Scheduled

    from app.adapters import prefect as prefect_adapter
    from app.adapters.outbox import start_message_key
    from app.config.settings import get_settings
    from app.runtime.dispatcher import Dispatcher
    from tests.helpers import run_row

    case_no = open_case()
    with db() as session:
        case = cases.get_case(session=session, case_ref=case_no)
        run_id = int(procedures.start_procedure(session=session, case_id=case.id, code="R2",
                                                actor="test", now=clock.now()).id)
        msg = session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == start_message_key(run_id))).one()
        # Due a year from now: the serving process's own dispatcher leaves it to this test.
        msg.next_attempt_at = clock.now() + timedelta(days=365)
        session.add(msg)
        msg_id = int(msg.id)

    @flow(name="protect-test-unserved")
    def unserved() -> None:
        """No worker serves this flow: its runs stay Scheduled, a backlog."""

    with get_client(sync_client=True) as client:
        waiting = [client.create_flow_run(unserved, state=Scheduled()) for _ in range(5)]
        limit = prefect_adapter.backlog(fresh=True)  # the 5 and whatever else waits now
        monkeypatch.setattr(get_settings(), "start_backlog", limit)
        before = clock.now()
        assert dispatch(ids=[msg_id]).failed == 1
        with db() as session:
            row = session.get(OutboxMessage, msg_id)
        assert row.status == "pending" and row.attempts == 0
        assert "held" in row.last_error
        assert (row.next_attempt_at - before).total_seconds() <= prefect_adapter.HELD_RETRY_S[1] + 1
        assert run_row(run_id).flow_run_id is None  # nothing was sent to Prefect
        polling = Dispatcher(workers=1)
        try:  # a polling dispatcher leaves held starts unclaimed meanwhile
            assert polling._held_kinds() == ("start",)
        finally:
            polling.close()

        for fr in waiting:  # a worker has taken them, as far as the backlog can tell
            client.set_flow_run_state(fr.id, Cancelled(), force=True)
        assert prefect_adapter.backlog(fresh=True) < limit
        polling = Dispatcher(workers=1)
        try:
            assert polling._held_kinds() == ()
        finally:
            polling.close()
        assert dispatch(ids=[msg_id]).delivered == 1
    assert open_task(case_no, "r2.outreach").procedure_run_id == run_id
