"""Test helpers: make a child's case, drive a procedure as the agencies would, wait for Prefect."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from app.adapters.store import db
from app.domain import clock
from app.domain.idcard import check_digit
from app.services import cases, procedures, tasks
from expectations.runner import without_great_expectations
from models import HumanTask, ProcedureRun

# Every piece of personal data a test writes, so that the last test can look for it in Prefect.
PERSONAL: list[str] = []


def _digits(n: int) -> str:
    return "".join(random.choice("0123456789") for _ in range(n))


def id_number(birth: date, region: str = "640104") -> str:
    first17 = f"{region}{birth:%Y%m%d}{_digits(3)}"
    return first17 + check_digit(first17)


def intake_form(*, birth: date | None = None, district: str = "xingqing",
                intake_date: date | None = None, **child: Any) -> dict[str, Any]:
    """A valid intake form with fresh, recognisable personal data.

    The birth date is random (a child of compulsory school age) so that ID numbers do not
    collide: three random sequence digits alone would, within a few dozen cases.
    """
    birth = birth or date(2011, 1, 1) + timedelta(days=random.randrange(6 * 365))
    tag = _digits(6)
    form = {
        "child": {
            "name": f"测试童{tag}", "sex": "F", "birth_date": birth.isoformat(),
            "id_number": id_number(birth), "has_hukou": False, "district": district,
            "address": f"银川市兴庆区测试路{tag}号", "categories": ["street"], **child,
        },
        "guardians": [{"name": f"测试监护人{tag}", "relation": "mother",
                       "phone": f"139{_digits(8)}", "address": f"测试小区{tag}栋"}],
        "intake_date": (intake_date or clock.now().date()).isoformat(),
        "source": "patrol",
    }
    c, g = form["child"], form["guardians"][0]
    PERSONAL.extend(v for v in (c["name"], c["id_number"], c["address"], g["name"], g["phone"],
                                g["address"]) if v)
    return form


def hotline_report(*, concerns: list[str] | None = None, street: str | None = "xingqing-fenghuang",
                   **child: Any) -> dict[str, Any]:
    """A valid hotline report with a fresh reference and fresh, recognisable personal data."""
    tag = _digits(8)
    birth = date(2012, 1, 1) + timedelta(days=random.randrange(5 * 365))
    report = {
        "source": "12355", "reference": f"12355-T{tag}", "received_on": clock.now().date()
        .isoformat(),
        "reporter": {"relation": "neighbour", "name": f"热线报告人{tag}",
                     "phone": f"138{_digits(8)}"},
        "description": f"报告：孩子{tag}晚上在桥下睡觉，白天乞讨",
        "concerns": concerns or ["living_on_street"],
        "street": street,
        "child": {"name": f"热线童{tag}", "sex": "M", "birth_date": birth.isoformat(),
                  "id_number": id_number(birth), "district": "xingqing",
                  "address": f"热线测试路{tag}号", **child},
    }
    r, c = report["reporter"], report["child"]
    PERSONAL.extend(v for v in (r["name"], r["phone"], report["description"], c["name"],
                                c["id_number"], c["address"]) if v)
    return report


def token_headers(agency: str, *roles: str) -> dict[str, str]:
    """A new user of `agency` with `roles`, and the API headers of a fresh token of theirs."""
    import secrets

    from app.services import users as auth

    name = f"{roles[0]}-{secrets.token_hex(4)}"
    with db() as session:
        user = auth.add_user(session=session, username=name, agency=agency, roles=list(roles),
                             password=None, actor="test", now=clock.now())
        _, token = auth.issue_token(session=session, user=user, name="test", actor="test",
                                    now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def open_and_start_over_http(api: str, headers: dict[str, str], code: str = "R2"
                             ) -> tuple[str, int]:
    """As a coordinator does over the REST API at `api`: open a case, start `code` for it;
    the case number and the procedure run's id."""
    import requests

    opened = requests.post(f"{api}/cases", json=intake_form(), headers=headers, timeout=30)
    assert opened.status_code == 201, opened.text
    case_no = opened.json()["case"]
    started = requests.post(f"{api}/cases/{case_no}/procedures", json={"code": code},
                            headers=headers, timeout=60)
    assert started.status_code == 201, started.text
    return case_no, int(started.json()["procedure_run"])


def open_case(**kw: Any) -> str:
    """Open a case as the CLI, the API and the pages do: the form's suite in plain Python."""
    with without_great_expectations(), db() as session:
        case = cases.open_case(session=session, data=intake_form(**kw), actor="test",
                               now=clock.now())
        return case.case_no


def start(case_no: str, code: str, params: dict[str, Any] | None = None) -> int:
    started = procedures.start_and_dispatch(case_ref=case_no, code=code, actor="test",
                                            params=params)
    return int(started.run.id)


def wait_for(predicate: Any, *, timeout: float = 90, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def open_task(case_no: str, step: str, *, key: str | None = None, timeout: float = 90
              ) -> HumanTask:
    """Wait until the procedure has opened `step` and is suspended on it."""

    def find() -> HumanTask | None:
        with db() as session:
            for t, _ in tasks.list_tasks(session=session, now=clock.now(), case_ref=case_no):
                if t.step == step and (key is None or t.step_key == key):
                    return t
        return None

    task = wait_for(find, timeout=timeout, what=f"{step} open for {case_no}")
    wait_for(lambda: flow_state(task.procedure_run_id) == "Suspended", timeout=timeout,
             what=f"the run to suspend on {step}")
    return task


def complete(task: HumanTask | int, agency: str | None = None, **form: Any) -> None:
    """Complete a task as `agency` (default: its owner now, escalated or not)."""
    t_id = task if isinstance(task, int) else task.id
    if agency is None:
        with db() as session:
            agency = session.get(HumanTask, t_id).owner
    with without_great_expectations():  # as the CLI, the API and the pages check a form
        tasks.complete_task_and_resume(task_id=t_id, agency=agency, form=form, actor="test")


def run_row(run_id: int) -> ProcedureRun:
    with db() as session:
        run = session.get(ProcedureRun, run_id)
        assert run is not None
        return run


def flow_run(run_id: int) -> Any:
    from prefect.client.orchestration import get_client

    fr_id = run_row(run_id).flow_run_id
    if fr_id is None:
        return None
    with get_client(sync_client=True) as client:
        return client.read_flow_run(fr_id)


def run_inputs(run_id: int) -> list[Any]:
    """Every run input Prefect holds for the procedure run's flow run, parsed."""
    import json

    from prefect.client.orchestration import get_client

    fr_id = run_row(run_id).flow_run_id
    assert fr_id is not None
    with get_client(sync_client=True) as client:
        return [json.loads(i.value) for i in client.filter_flow_run_input(
            fr_id, key_prefix="", limit=1000, exclude_keys=set())]


def flow_state(run_id: int) -> str | None:
    fr = flow_run(run_id)
    return fr.state.name if fr is not None and fr.state else None


def wait_finished(run_id: int, timeout: float = 90) -> ProcedureRun:
    wait_for(lambda: flow_state(run_id) == "Completed", timeout=timeout,
             what=f"procedure run {run_id} to complete")
    return run_row(run_id)


def runs_of(case_no: str, code: str) -> list[ProcedureRun]:
    from sqlmodel import select

    with db() as session:
        case = cases.get_case(session=session, case_ref=case_no)
        return list(session.exec(select(ProcedureRun).where(
            ProcedureRun.case_id == case.id, ProcedureRun.code == code)).all())


def later(days: float) -> str:
    return (clock.now() + timedelta(days=days)).isoformat()


def protect(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `protect` command in this process: the installed command's own `main` (its exit
    codes and its error lines included) on `protect ARGS`, with Click's test streams for its
    stdin, stdout and stderr. A cold interpreter per command costs a second or more of imports;
    the command started as a process of its own is tested where that is the point: the refusals
    to start in tests/test_calendar_in_use.py and tests/test_procedure_settings_in_use.py, a
    password read from stdin in tests/api/test_users_cli.py."""
    from typer.testing import CliRunner

    from app.entrypoints.cli import main

    argv, sys.argv = sys.argv, ["protect", *args]
    try:
        with CliRunner().isolation() as (out, err, _):
            try:
                main()
                code: Any = 0
            except SystemExit as exc:
                code = exc.code
            if not isinstance(code, int):  # sys.exit("message") prints it and exits 1
                if code is not None:
                    sys.stderr.write(f"{code}\n")
                code = 0 if code is None else 1
            sys.stdout.flush()
            sys.stderr.flush()
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    finally:
        sys.argv = argv
    proc = subprocess.CompletedProcess(["protect", *args], code, stdout, stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"protect {' '.join(args)} failed: {proc.stderr or proc.stdout}")
    return proc


def protect_json(*args: str) -> Any:
    return json.loads(protect(*args, "--json").stdout)


def at(moment: datetime) -> str:
    return moment.isoformat()


@contextmanager
def process_runner(system: Any, log_path: Any) -> Iterator[None]:
    """Prefect's own served runner (a process per run) in place of the session's in-process
    one, its console in `log_path`. The serving process's dispatcher stops with it, so starts
    and resumes are delivered from here (a start Prefect answers "busy" while the runner
    registers is sent again)."""
    from app.runtime.dispatcher import Dispatcher
    from app.runtime.local import Runner

    system.runner.stop()
    process = Runner(log_path, runner="process")
    process.start()
    dispatcher, stop = Dispatcher(workers=2), threading.Event()

    def deliver() -> None:
        while not stop.wait(0.2):
            dispatcher.poll()

    delivering = threading.Thread(target=deliver, daemon=True)
    delivering.start()
    try:
        yield
    finally:
        stop.set()
        delivering.join(timeout=10)
        dispatcher.close()
        process.stop()
        system.runner.start()
