"""Normal operation logs no ERROR, and an unset optional channel is said once.

A human step ends its flow run's execution in Suspended: Prefect's async engine logs that final
state at ERROR unless our filter (app/adapters/prefect_logging.py) lowers it, in the console and
on the run's page in the Prefect UI (Prefect's stored logs). A run that truly fails still logs
ERROR. And without PROTECT_HOTLINE_CALLBACK_URL the hotline's feedback waits in the outbox,
said once when a dispatcher starts, not as a failed delivery on every sweep.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.flow_runs import asuspend_flow_run

import flows.steps  # noqa: F401 - what every process executing a procedure imports first
from app.adapters.dispatch import dispatch
from app.adapters.outbox import enqueue
from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from models import OutboxMessage
from tests.conftest import LOGS, free_port
from tests.helpers import (
    complete,
    flow_run,
    open_case,
    open_task,
    process_runner,
    start,
    wait_for,
)

FINISHED_SUSPENDED = "Finished in state Suspended("


@flow(name="quiet-logs-probe")
async def probe(fail: bool = False) -> str:
    """Suspends, as a human step does; or fails, as a procedure with a bug does."""
    if fail:
        raise RuntimeError("a real failure")
    await asuspend_flow_run(timeout=600, key="probe")
    return "done"


def stored_logs(flow_run_id: UUID | str) -> list[Any]:
    """Prefect's stored logs of a flow run: what its page in the Prefect UI shows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[UUID(str(flow_run_id))])))


def stored_finish(flow_run_id: UUID | str, state: str) -> list[Any]:
    """Waits until the run's "Finished in state <state>(…)" line is stored; every stored log."""
    def logs() -> list[Any]:
        found = stored_logs(flow_run_id)
        return found if any(g.message.startswith(f"Finished in state {state}(")
                            for g in found) else []

    return wait_for(logs, timeout=60, what=f"the stored 'Finished in state {state}' log")


def console_lines(log_path: Path, offset: int, flow_run_name: str) -> list[str]:
    """The console lines of one flow run that a serving process printed since `offset`."""
    text = log_path.read_bytes()[offset:].decode("utf-8", "replace")
    return [line for line in text.splitlines() if f"Flow run {flow_run_name!r}" in line]


def level_of(line: str) -> str:
    """The level column of Prefect's console format `12:00:00.000 | INFO    | …`."""
    return line.split("|")[1].strip()


def assert_suspensions_quiet(flow_run_id: UUID | str, name: str, log_path: Path,
                             offset: int, suspensions: int) -> None:
    stored_finish(flow_run_id, "Suspended")
    wait_for(lambda: len([g for g in stored_logs(flow_run_id)
                          if g.message.startswith(FINISHED_SUSPENDED)]) >= suspensions,
             timeout=60, what=f"{suspensions} stored suspensions")
    logs = stored_logs(flow_run_id)
    finished = [g for g in logs if g.message.startswith(FINISHED_SUSPENDED)]
    assert [g.level for g in finished] == [logging.INFO] * suspensions
    assert [(g.level, g.message) for g in logs if g.level >= logging.ERROR] == []
    lines = wait_for(lambda: [ln for ln in console_lines(log_path, offset, name)
                              if FINISHED_SUSPENDED in ln], timeout=30,
                     what="the console's suspension line")
    assert {level_of(ln) for ln in lines} == {"INFO"}, lines
    noisy = [ln for ln in console_lines(log_path, offset, name)
             if level_of(ln) in ("ERROR", "CRITICAL")]
    assert noisy == []


# --- a human step: no ERROR in the serving process's console nor on the run's page ----------


@pytest.mark.flows
def test_a_human_step_suspends_its_run_without_an_error(system) -> None:
    log_path = LOGS / "serve.log"
    offset = log_path.stat().st_size
    case = open_case()
    run_id = start(case, "R2")
    complete(open_task(case, "r2.outreach"), outcome="accepted")  # suspended, resumed, replayed
    open_task(case, "r2.intake")  # suspended again
    fr = flow_run(run_id)
    assert_suspensions_quiet(fr.id, fr.name, log_path, offset, suspensions=2)


@pytest.mark.flows
def test_a_procedure_run_that_fails_still_logs_error(system) -> None:
    """The filter is no blanket: a procedure whose run cannot begin (no such procedure run)
    fails, and says so at ERROR in the console and on its page."""
    from prefect.deployments import run_deployment

    from app.config.procedures import procedure

    log_path = LOGS / "serve.log"
    offset = log_path.stat().st_size
    fr = run_deployment(procedure("R2").deployment, parameters={"procedure_run_id": 10**9},
                        timeout=0)
    logs = stored_finish(fr.id, "Failed")
    assert [g.level for g in logs if g.message.startswith("Finished in state Failed(")] \
        == [logging.ERROR]
    lines = wait_for(lambda: [ln for ln in console_lines(log_path, offset, fr.name)
                              if "Finished in state Failed(" in ln], timeout=30,
                     what="the console's failure line")
    assert {level_of(ln) for ln in lines} == {"ERROR"}


@pytest.mark.flows
def test_prefects_process_runner_serves_the_procedures_and_logs_a_suspension_at_info(
        system) -> None:
    """Prefect's own served runner, one `python -m prefect.engine` process per run (as the
    cluster's workers run them), serves the same procedures: a human step suspends the run,
    a completion resumes it. Each process imports the procedure's module and with it the
    filter, so its suspensions are INFO too."""
    log_path = LOGS / "serve-process-runner.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    with process_runner(system, log_path):
        case = open_case()
        run_id = start(case, "R2")
        complete(open_task(case, "r2.outreach"), outcome="accepted")
        assert open_task(case, "r2.intake").owner == "center"
        fr = flow_run(run_id)
        assert_suspensions_quiet(fr.id, fr.name, log_path, offset, suspensions=2)


@pytest.mark.flows
def test_in_the_executing_process_no_record_reaches_error_but_a_failure(system,
                                                                         caplog) -> None:
    """The records themselves, where the engine logs them (deployments/executor.py executing
    in this process): the suspension's is INFO before any handler sees it; a failure's ERROR."""
    from prefect.deployments import run_deployment

    from tests.flows.test_executor import executing

    caplog.set_level(logging.INFO)
    with executing("quiet", fn=probe):
        waiting = run_deployment("quiet-logs-probe/quiet", timeout=0).id
        failing = run_deployment("quiet-logs-probe/quiet", parameters={"fail": True},
                                 timeout=0).id
        wait_for(lambda: _state(waiting).is_paused() and _state(failing).is_failed(),
                 timeout=60, what="one probe suspended, the other failed")
    records = {str(i): [r for r in caplog.records if getattr(r, "flow_run_id", None) == str(i)]
               for i in (waiting, failing)}
    finished = [r for r in records[str(waiting)] if r.getMessage().startswith(FINISHED_SUSPENDED)]
    assert [r.levelno for r in finished] == [logging.INFO]
    assert [r.getMessage() for r in records[str(waiting)] if r.levelno >= logging.ERROR] == []
    assert [g.message for g in stored_finish(waiting, "Suspended")
            if g.level >= logging.ERROR] == []
    failed = [r for r in records[str(failing)] if r.levelno >= logging.ERROR]
    assert any(r.getMessage().startswith("Finished in state Failed(") for r in failed)
    assert any(g.level == logging.ERROR for g in stored_finish(failing, "Failed"))


def _state(run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


# --- an unset hotline address: said once, its feedback waits, delivered once set ------------


def test_an_unset_hotline_address_is_said_once_and_its_feedback_waits(
        quiet_store, monkeypatch, caplog) -> None:
    from app.runtime import dispatcher as dispatching
    from tests.test_outbox import Receiver

    monkeypatch.setenv("PROTECT_HOTLINE_CALLBACK_URL", "")
    get_settings.cache_clear()
    monkeypatch.setattr(dispatching, "_said", False)  # a new process
    key = "hotline:12355:12355-T1:psb:acknowledged"
    with db() as session:
        msg_id = enqueue(session=session, kind="hotline", dedupe_key=key,
                         payload={"idempotency_key": key, "status": "acknowledged"},
                         now=clock.now()).id
    caplog.set_level(logging.INFO)

    # The cluster's dispatcher (`protect dispatch --every`) starts and polls a while...
    stop = threading.Event()
    polling = threading.Thread(target=dispatching.run_forever,
                               kwargs={"poll_s": 0.05, "workers": 2, "stop": stop})
    polling.start()
    time.sleep(0.5)
    stop.set()
    polling.join(timeout=10)
    # ...and the sweep delivers the outbox, twice.
    reports = [dispatch(), dispatch()]

    assert [(r.delivered, r.failed) for r in reports] == [(0, 0), (0, 0)]
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and "PROTECT_HOTLINE_CALLBACK_URL" in loud[0], loud
    with db() as session:
        row = session.get(OutboxMessage, msg_id)
        assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert dispatching.say_unconfigured_channels() == []  # said once per process

    receiver = Receiver(free_port())
    try:
        monkeypatch.setenv("PROTECT_HOTLINE_CALLBACK_URL", receiver.url)
        get_settings.cache_clear()  # the process restarted with the setting
        assert (dispatch().delivered, len(receiver.received)) == (1, 1)
        headers, _ = receiver.received[0]
        assert headers["X-Protect-Message-Id"] == key
    finally:
        receiver.stop()
    with db() as session:
        assert session.get(OutboxMessage, msg_id).status == "delivered"


def test_the_suspension_filter_lowers_only_a_waiting_final_state() -> None:
    from app.adapters.prefect_logging import FLOW_RUN_LOGGER, SuspensionAtInfo

    def lowered(msg: str, level: int = logging.ERROR) -> int:
        record = logging.LogRecord(FLOW_RUN_LOGGER, level, __file__, 1, msg, None, None)
        assert SuspensionAtInfo().filter(record)
        return record.levelno

    assert lowered("Finished in state Suspended(type=PAUSED)") == logging.INFO
    assert lowered("Finished in state Suspended('Run is suspended', type=PAUSED)") == logging.INFO
    assert lowered("Finished in state Paused()") == logging.INFO
    assert lowered("Finished in state Failed('Flow run encountered an exception')") \
        == logging.ERROR
    assert lowered("Finished in state Crashed('killed')") == logging.ERROR
    assert lowered("Suspended, but not finished: Finished in state Suspended()") \
        == logging.ERROR
    assert any(isinstance(f, SuspensionAtInfo)
               for f in logging.getLogger(FLOW_RUN_LOGGER).filters)  # by `import flows.steps`
