"""Faults in the scaled-out topology: a killed executor and API process, a restarted database,
sweeps on two machines, a restart of everything. Every wait is bounded; loopback only."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from app.adapters.store import db
from app.domain import clock
from app.runtime.cluster import ROOT as PROJECT_ROOT
from app.runtime.cluster import Cluster
from app.services import cases as services
from app.services import engine
from models import AuditEvent, Case, HumanTask, OutboxMessage, ProcedureRun, Timer
from tests.cluster.conftest import PG
from tests.helpers import (
    complete,
    flow_state,
    intake_form,
    open_case,
    open_task,
    start,
    wait_for,
)

pytestmark = pytest.mark.cluster
RECOVERY_S = 300  # the zombie check (75 s without a heartbeat) plus a sweep, with margin


def _count(model, *where) -> int:  # type: ignore[no-untyped-def]
    with db() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def _sweep_until(predicate, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Sweep (as the scheduled deployment does every minute) until `predicate` holds."""
    from app.runtime.sweep import sweep

    def check() -> bool:
        sweep()
        return bool(predicate())

    wait_for(check, timeout=timeout, what=what)


def _executor_waiting_on_a_lock() -> str | None:
    """The executor whose connection to the case store waits on a lock now, if one does.

    Each part of the cluster names its connections (PGAPPNAME, app/runtime/cluster.py), so
    PostgreSQL itself says which executor is executing the step that the lock holds back.
    """
    with db() as session:
        names = session.execute(text(
            "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND application_name LIKE 'protect-executor-%'")).scalars().all()
    return names[0].removeprefix("protect-") if len(names) == 1 else None


def test_an_executor_killed_in_the_middle_of_a_step_is_recovered_by_another(
        cluster: Cluster) -> None:
    assert cluster.topology.runner == "in-process" and cluster.topology.workers >= 2
    case = open_case()
    r2 = start(case, "R2")
    outreach = open_task(case, "r2.outreach", timeout=180)
    # Hold the resumed run in the middle of a step: whichever executor takes it writes the
    # step's journal entry (app/services/engine.py, journal_put) and waits on this lock,
    # inside its transaction. The completion itself writes no journal, so it goes through.
    with db() as session:
        session.execute(text("LOCK TABLE stepjournal IN EXCLUSIVE MODE"))
        complete(outreach, "center", outcome="accepted", location="银川火车站")
        victim = wait_for(_executor_waiting_on_a_lock, timeout=180,
                          what="an executor's step to wait on the lock")
        assert flow_state(r2) == "Running"
        time.sleep(3)  # its first heartbeat reaches Prefect; the step still waits
        cluster.kill(victim)  # kill -9: the executor, and every run it was executing
        session.rollback()  # releases the lock: the killed step's transaction is gone
    try:
        wait_for(lambda: flow_state(r2) == "Crashed", timeout=RECOVERY_S,
                 what="Prefect's zombie check to crash the silent run")
        _sweep_until(lambda: flow_state(r2) != "Crashed", timeout=120,
                     what="the sweep to reschedule the crashed run")
        # The victim is still down: the other executor takes the rescheduled run.
        assert not cluster.alive(victim)
        intake = open_task(case, "r2.intake", timeout=180)
        assert _count(HumanTask, HumanTask.procedure_run_id == r2,
                      HumanTask.step == "r2.intake") == 1
        assert _count(AuditEvent, AuditEvent.procedure_run_id == r2,
                      AuditEvent.action == "run.recovering") == 1
        complete(intake, "center", ill_or_injured=False)
        open_task(case, "r2.identity", timeout=180)
        assert _count(HumanTask, HumanTask.procedure_run_id == r2) == 3
    finally:
        cluster.start(victim)
        cluster.wait_for_workers()


def test_an_api_process_killed_while_agencies_complete_loses_no_completion(
        cluster: Cluster) -> None:
    cases = [open_case() for _ in range(6)]
    runs = [start(c, "R2") for c in cases]
    tasks = [open_task(c, "r2.outreach", timeout=240) for c in cases]
    try:
        for i, task in enumerate(tasks):
            if i == 2:
                cluster.kill("api-1")  # mid-way: the proxy sends everyone to api-2
            complete(task, "center", outcome="accepted", location="银川火车站")
        assert _count(HumanTask, HumanTask.id.in_([t.id for t in tasks]),
                      HumanTask.status == "done") == len(tasks)
        for case in cases:
            open_task(case, "r2.intake", timeout=240)
        assert {flow_state(r) for r in runs} == {"Suspended"}
    finally:
        if not cluster.alive("api-1"):
            cluster.start_api("api-1")


def test_a_postgresql_restart_is_reported_and_loses_no_completion(cluster: Cluster) -> None:
    cases = [open_case() for _ in range(4)]
    for c in cases:
        start(c, "R2")
    tasks = [open_task(c, "r2.outreach", timeout=240) for c in cases]
    log = cluster.log_dir / "dispatcher.log"
    offset = log.stat().st_size
    for task in tasks[:2]:
        complete(task, "center", outcome="accepted", location="银川火车站")
    PG.stop()
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "app", "complete", str(tasks[2].id), "--as", "center",
             "--file", str(PROJECT_ROOT / "docs/examples/r2.outreach.json")],
            capture_output=True, text=True, timeout=120, env=cluster.env(), cwd=PROJECT_ROOT)
        assert refused.returncode == 1
        assert "case store is unreachable" in refused.stderr
        assert "Traceback" not in refused.stderr
        time.sleep(3)
    finally:
        PG.start()
    wait_for(lambda: b"case store unreachable" in log.read_bytes()[offset:], timeout=30,
             what="the dispatcher to report the outage")
    wait_for(lambda: b"reachable again" in log.read_bytes()[offset:], timeout=60,
             what="the dispatcher to report the recovery")
    for task in tasks[2:]:
        complete(task, "center", outcome="accepted", location="银川火车站")
    # A run that an executor was taking up when the database went away may be left Pending or
    # Running with nothing executing it: the executor marks it Crashed once Prefect answers
    # (deployments/executor.py, `_settle`), and the scheduled sweep reschedules it
    # (app/runtime/sweep.py; a run still Pending after STUCK_PENDING, too).
    for case in cases:
        open_task(case, "r2.intake", timeout=RECOVERY_S)
    assert _count(HumanTask, HumanTask.id.in_([t.id for t in tasks]),
                  HumanTask.status == "done") == len(tasks)


def _run_without_prefect() -> int:
    """A procedure run row with no flow run: its timers' resumes are never delivered."""
    with db() as session:
        case = services.open_case(session=session, data=intake_form(), actor="test",
                                  now=clock.now())
        run = ProcedureRun(case_id=case.id, code="R2", start_key="cluster-sweeps",
                           status="running", started_at=clock.now())
        session.add(run)
        session.flush()
        return int(run.id)


def test_two_sweeps_on_two_machines_fire_each_timer_once_and_take_each_rung_once(
        cluster: Cluster) -> None:
    run_id = _run_without_prefect()
    for i in range(40):
        engine.open_timer(run_id, f"t{i}", clock.now() - timedelta(days=1))
        engine.open_task(run_id, "r2.placement", f"p{i}", owner="street:xixia-wenchang")
    as_of = (clock.now() + timedelta(days=30)).isoformat()
    # The earlier tests' open tasks are due as of then too: count every change, not only ours.
    before = {a: _count(AuditEvent, AuditEvent.action == a)
              for a in ("timer.fired", "task.escalated")}
    barrier = threading.Barrier(2)
    outputs: list[subprocess.CompletedProcess[str]] = []

    def machine() -> None:  # a sweep in a process of its own, as on another machine
        barrier.wait()
        outputs.append(subprocess.run(
            [sys.executable, "-m", "app", "sweep", "--now", as_of, "--json"],
            capture_output=True, text=True, timeout=300, env=cluster.env(), cwd=PROJECT_ROOT))

    threads = [threading.Thread(target=machine) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=320)
    assert [o.returncode for o in outputs] == [0, 0], [o.stderr for o in outputs]
    with db() as session:
        fired = session.exec(select(AuditEvent.detail).where(
            AuditEvent.procedure_run_id == run_id, AuditEvent.action == "timer.fired")).all()
        rungs = session.exec(select(AuditEvent.task_id).where(
            AuditEvent.procedure_run_id == run_id, AuditEvent.action == "task.escalated")).all()
    assert sorted(d["timer"] for d in fired) == sorted(f"t{i}" for i in range(40))
    assert len(rungs) == 40 and len(set(rungs)) == 40
    reports = [json.loads(o.stdout) for o in outputs]
    assert sum(r["timers_fired"] for r in reports) == \
        _count(AuditEvent, AuditEvent.action == "timer.fired") - before["timer.fired"]
    assert sum(r["tasks_escalated"] for r in reports) == \
        _count(AuditEvent, AuditEvent.action == "task.escalated") - before["task.escalated"]
    assert _count(HumanTask, HumanTask.procedure_run_id == run_id, HumanTask.rung == 1) == 40
    assert _count(Timer, Timer.procedure_run_id == run_id, Timer.status == "fired") == 40
    with db() as session:  # their resumes wait for a run that never suspends: retire them
        for m in session.exec(select(OutboxMessage).where(OutboxMessage.kind == "resume",
                                                          OutboxMessage.status == "pending")):
            if m.payload.get("procedure_run_id") == run_id:
                m.status = "dead"
                session.add(m)


def _snapshot() -> dict[str, int]:
    with db() as session:
        return {
            "suspended_tasks": int(session.exec(select(func.count()).select_from(HumanTask)
                                                .where(HumanTask.status == "open")).one()),
            "pending_timers": int(session.exec(select(func.count()).select_from(Timer)
                                               .where(Timer.status == "pending")).one()),
            "outbox": int(session.exec(select(func.count()).select_from(OutboxMessage)).one()),
            "cases": int(session.exec(select(func.count()).select_from(Case)).one()),
        }


def test_after_a_crash_of_everything_every_suspension_timer_and_message_is_still_there(
        cluster: Cluster) -> None:
    case = open_case()
    j2 = start(case, "J2", params={"placed_on": clock.now().date().isoformat()})
    timer = wait_for(lambda: _pending_timer(j2), timeout=240, what="J2's two-year timer")
    street = open_case()
    r2 = start(street, "R2")
    outreach = open_task(street, "r2.outreach", timeout=240)
    wait_for(lambda: flow_state(j2) == "Suspended", timeout=120, what="J2 to suspend")
    before = _snapshot()

    for name in list(cluster.procs):  # the machine loses power: kill -9 everything
        cluster.kill(name)
    PG.stop("immediate")
    cluster.stop()
    PG.start()
    cluster.up(deploy=False)  # as `make cluster` does again, on the data that was left

    assert _snapshot() == before
    assert flow_state(r2) == "Suspended" and flow_state(j2) == "Suspended"
    complete(outreach, "center", outcome="accepted", location="银川火车站")
    open_task(street, "r2.intake", timeout=240)
    # The two-year clock still works: as of two years on, the sweep fires it and J2 goes on.
    from app.runtime.sweep import sweep

    assert sweep(now=timer.due_at + timedelta(minutes=1)).timers_fired >= 1
    open_task(case, "j2.registration", timeout=240)


def _pending_timer(run_id: int) -> Timer | None:
    with db() as session:
        return session.exec(select(Timer).where(Timer.procedure_run_id == run_id,
                                                Timer.status == "pending")).first()


def test_a_case_opened_through_the_clusters_api_runs_on_its_executors(cluster: Cluster) -> None:
    """The web process of the cluster: a coordinator opens a case and starts R2 over HTTP,
    and an executor opens its first task; the pages answer too."""
    import requests

    from tests.helpers import open_and_start_over_http, token_headers

    case_no, run_id = open_and_start_over_http(cluster.topology.web_url,
                                               token_headers("center", "coordinator"))
    task = open_task(case_no, "r2.outreach", timeout=RECOVERY_S)
    assert task.procedure_run_id == run_id
    page = requests.get(f"http://127.0.0.1:{cluster.topology.web_port}/login", timeout=30)
    assert page.status_code == 200


def test_no_personal_data_reaches_the_clusters_logs(cluster: Cluster) -> None:
    """The guard of tests/test_personal_data.py, over every process of the cluster."""
    from tests.helpers import PERSONAL

    assert PERSONAL, "the tests above wrote personal data"
    logs = {p.name: p.read_text(encoding="utf-8", errors="replace")
            for p in cluster.log_dir.glob("*.log")}
    assert {"api-1.log", "api-2.log", "services.log", "executor-1.log", "executor-2.log",
            "dispatcher.log", "web.log"} <= set(logs)
    leaks = [(name, value) for name, text in logs.items() for value in PERSONAL if value in text]
    assert leaks == []
