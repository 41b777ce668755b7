"""The case store and the sweep, on SQLite and on PostgreSQL, with the same code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect
from sqlmodel import func, select

from app.adapters.store import db, seed_agencies
from app.domain import clock
from app.domain.errors import Conflict, Forbidden
from app.runtime.sweep import sweep
from app.services import cases, engine, procedures, tasks
from models import Agency, AuditEvent, HumanTask, OutboxMessage, Timer
from models.db import engine_for
from tests.helpers import intake_form
from tests.pg import own_store


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh, migrated, seeded case store of each kind, made the configured one."""
    with own_store(request.param, tmp_path, "protect_store", monkeypatch) as url:
        yield url


def _case_and_run() -> tuple[int, int]:
    with db() as session:
        case = cases.open_case(session=session, data=intake_form(), actor="test",
                               now=clock.now())
        run = procedures.start_procedure(session=session, case_id=case.id, code="R2",
                                         actor="test", now=clock.now())
        return int(case.id), int(run.id)


def _count(model, *where) -> int:  # type: ignore[no-untyped-def]
    with db() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def test_migrations_create_every_table_and_seeding_is_idempotent(any_store) -> None:
    tables = set(inspect(engine_for(any_store)).get_table_names())
    assert {"agency", "user", "child", "guardian", "case", "procedurerun", "humantask", "timer",
            "auditevent", "outboxmessage", "alembic_version"} <= tables
    with db() as session:
        assert seed_agencies(session=session) == 0
        districts = session.exec(select(Agency.code).where(Agency.level == "district")).all()
    assert len(districts) == 6


def test_instants_come_back_timezone_aware_and_equal(any_store) -> None:
    case_id, run_id = _case_and_run()
    task_id = engine.open_task(run_id, "r2.outreach", "outreach-1")
    with db() as session:
        task = session.get(HumanTask, task_id)
    assert task.due_at.tzinfo is not None
    assert task.due_at - task.created_at == timedelta(hours=24)


def test_opening_a_task_twice_for_the_same_run_and_key_gives_one_task(any_store) -> None:
    _, run_id = _case_and_run()
    assert engine.open_task(run_id, "r2.outreach", "outreach-1") == \
        engine.open_task(run_id, "r2.outreach", "outreach-1")
    assert _count(HumanTask) == 1


def test_starting_with_the_same_key_twice_gives_one_run_and_one_start_message(any_store) -> None:
    case_id, parent = _case_and_run()
    with db() as session:
        a = procedures.start_procedure(session=session, case_id=case_id, code="J2", actor="t",
                                       now=clock.now(), parent_run_id=parent, start_key="k")
    with db() as session:
        b = procedures.start_procedure(session=session, case_id=case_id, code="J2", actor="t",
                                       now=clock.now(), parent_run_id=parent, start_key="k")
    assert a.id == b.id
    assert _count(OutboxMessage, OutboxMessage.dedupe_key == f"start:run:{a.id}") == 1


def test_a_completed_task_refuses_a_second_completion_and_other_agencies(any_store) -> None:
    _, run_id = _case_and_run()
    task_id = engine.open_task(run_id, "r2.outreach", "outreach-1")
    with pytest.raises(Forbidden), db() as session:
        tasks.complete_task(session=session, task_id=task_id, agency="edu",
                            form={"outcome": "accepted"}, actor="t", now=clock.now())
    with db() as session:
        tasks.complete_task(session=session, task_id=task_id, agency="center",
                            form={"outcome": "accepted"}, actor="t", now=clock.now())
    with pytest.raises(Conflict), db() as session:
        tasks.complete_task(session=session, task_id=task_id, agency="center",
                            form={"outcome": "refused"}, actor="t", now=clock.now())
    assert _count(OutboxMessage, OutboxMessage.kind == "resume") == 1


def test_two_sweeps_at_once_fire_each_timer_once_and_take_each_rung_once(any_store) -> None:
    _, run_id = _case_and_run()
    past = datetime(2026, 1, 5, 9, tzinfo=UTC)
    for i in range(20):
        engine.open_timer(run_id, f"t{i}", past)
        engine.open_task(run_id, "r2.placement", f"p{i}", owner="street:xixia-wenchang")
    as_of = clock.now() + timedelta(days=30)
    barrier = threading.Barrier(2)
    reports = []

    def one_sweep() -> None:
        barrier.wait()
        reports.append(sweep(now=as_of, deliver=False))

    threads = [threading.Thread(target=one_sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.timers_fired for r in reports) == 20
    assert sum(r.tasks_escalated for r in reports) == 20
    assert _count(AuditEvent, AuditEvent.action == "timer.fired") == 20
    assert _count(AuditEvent, AuditEvent.action == "task.escalated") == 20
    assert _count(OutboxMessage, OutboxMessage.kind == "resume") == 20
    assert _count(HumanTask, HumanTask.rung == 1, HumanTask.owner == "district:xixia") == 20
    assert _count(Timer, Timer.status == "fired") == 20


def test_a_sweep_with_nothing_due_changes_nothing(any_store) -> None:
    _, run_id = _case_and_run()
    engine.open_task(run_id, "r2.outreach", "outreach-1")
    engine.open_timer(run_id, "later", clock.now() + timedelta(days=700))
    report = sweep(deliver=False)
    assert (report.timers_fired, report.tasks_escalated) == (0, 0)


def test_the_inbox_lists_overdue_tasks_first(any_store) -> None:
    _, run_id = _case_and_run()
    slow = engine.open_task(run_id, "r2.identity", "identity")  # 5 working days
    fast = engine.open_task(run_id, "r2.outreach", "outreach-1")  # 24 hours
    with db() as session:
        ids = [t.id for t, _ in tasks.list_tasks(session=session, now=clock.now())]
        late = [t.id for t, _ in tasks.list_tasks(
            session=session, now=clock.now() + timedelta(days=2), overdue=True)]
    assert ids == [fast, slow]
    assert late == [fast]
