"""Every run the flow tests made went along its procedure's step graph.

The audit trail records each step opened, each timer set, each procedure started by another
and each end: in order, that is the path the run took. Every step of it must be an edge of the
graph (flows/graphcheck.py): the graph is drawn beside the flow, and this is what keeps the
picture true to what runs — a flow that opens a step, starts a procedure or ends in a way its
picture does not show, on a path the flow tests take, fails here.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, create_engine, select

from app.config.procedures import all_procedures
from flows.catalog import BEGIN
from flows.graphcheck import path_problems
from models import AuditEvent, ProcedureRun
from tests.conftest import worker_homes

pytestmark = [pytest.mark.flows, pytest.mark.last]
ACTIONS = ("task.opened", "timer.set", "procedure.started", "procedure.finished")


def run_paths(database_url: str) -> dict[int, tuple[str, list[str]]]:
    """Each procedure run's path through its graph, from the audit trail (failed runs left out)."""
    procs = all_procedures()
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            runs = session.exec(select(ProcedureRun).where(
                ProcedureRun.status != "failed",
                col(ProcedureRun.flow_run_id).is_not(None))).all()  # run by Prefect, not seeded
            events = session.exec(select(AuditEvent).where(col(AuditEvent.action).in_(ACTIONS))
                                  .order_by(col(AuditEvent.id))).all()
    finally:
        engine.dispose()
    paths = {int(r.id): (r.code, [BEGIN]) for r in runs}  # type: ignore[arg-type]
    for e in events:
        parent = e.detail.get("parent_run_id")
        if e.action == "procedure.started" and parent in paths:
            paths[parent][1].append(f"start:{e.detail['code']}")
        if e.procedure_run_id not in paths:
            continue
        code, path = paths[e.procedure_run_id]
        if e.action == "task.opened":
            path.append(e.detail["step"])
        elif e.action == "timer.set":
            [wait] = procs[code].waits  # with two waits, the timer key would tell which
            path.append(f"wait:{wait.name}")
        elif e.action == "procedure.finished":
            path.append(f"end:{e.detail['outcome']}")
    return paths


def test_every_run_of_the_flow_tests_followed_its_graph(store) -> None:
    walked = [(code, path) for h in worker_homes()  # every worker's runs
              for code, path in run_paths(h.database_url).values() if len(path) > 1]
    if not walked:
        pytest.skip("no procedure ran in this session: run with the flow tests")
    procs = all_procedures()
    problems = [f"{p}  (path {' → '.join(path)})" for code, path in walked
                for p in path_problems(procs[code], path)]
    assert not problems, "\n".join(problems)
