"""B1: procedure throughput, side by side with bare Prefect (stock and floor) in the same run.

Each variant (SQLite; PostgreSQL for both the case store and Prefect) runs in its own process,
because Prefect reads its settings once. In a variant:
- ours: M1 procedures (20; 200 with --full), five human steps each (admission, status,
  discharge, claim with its suite and its check in the flow, payment), on the local system
  (Prefect server + `protect serve`). All are started at once through the service layer (the
  serving process's dispatcher delivers the starts, as for the API); a start counts when its
  first task is open. Then a pool of simulated agencies completes every task of these
  procedures through the service layer as soon as it appears, until every step is done or
  for up to 120 s (240 s with --full). The PostgreSQL variant starts 80 more procedures with
  them (800 with --full), which nobody works on; B5 reads the serving process when all 100
  (1,000) wait at their first step.
- stock: the bare five-step flow (bench/bare.py) served with `flow.serve()` and Prefect's
  default settings; resumed by the same kind of pool. Fewer cases, 10 (20), for 60 s: it is
  slow, and a rate needs no more.
- floor: the same bare flow on our in-process executor and settings, 40 runs (enough to keep
  its 8 slots busy), for 15 s (20 s).
The figures: completions per second sustained (every run waits at its first step when the
clock starts, so the first round of resumes is a burst: the rate is counted from its last one
to the end of the window, for ours and for the baselines alike); procedure starts per second;
p50/p95 from a completion's commit to the next task being open (from the case store's own
timestamps); our throughput over stock's; our per-step cost over floor's; the CPU each
process spent per flow-run cycle (starts and resumes), and PostgreSQL's in its variant.
Peak RSS of each process feeds B5.
The default sizes keep `make bench` under ten minutes; --full runs the issue's (about 18
minutes on an idle machine).
Usage: `.venv/bin/python -m bench.b1_throughput [--full]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import free_port

ROOT = Path(__file__).parent.parent
STEPS = 5
# Sizes, keyed by --full: the default's keep `make bench` under ten minutes, --full's are the
# issue's. Our procedures worked by the agencies, in each variant:
CASES = {False: 20, True: 200}
# Seconds each measurement may take: rates are taken over what was done. Ours is given time
# to finish every step of every case (the claim and its suite check are the fourth step: a
# shorter window would time only the cheap first steps).
OURS_BUDGET_S = {False: 120.0, True: 240.0}
FLOOR_BUDGET_S = {False: 15.0, True: 20.0}
# Stock's runner polls every 10 s, and a resumed run waits for the poll and a new process: on
# a loaded machine a 45 s window held no cycle after the first round. Fewer runs, not a
# shorter window, make its default size.
STOCK_BUDGET_S = 60.0
STOCK_RUNS = {False: 10, True: 20}
# The floor's runs in flight: enough to keep the executor's 8 slots busy. Each run is a start
# (a flow run to its first suspension) before the clock starts; 200 cost a minute on SQLite.
FLOOR_RUNS = 40
# B5: procedures suspended when the serving process's RSS is read (PostgreSQL variant).
SUSPENDED = {False: 100, True: 1000}


def _rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


_variant = ""  # this process's variant, for its progress lines


def progress(message: str) -> None:
    """One line on stderr, which `make bench` shows as it goes (stdout carries the result)."""
    print(f"  B1 {_variant}: {message}", file=sys.stderr, flush=True)


def _cpu_s(pid: int, descendants: bool = True, reaped: bool = False) -> float:
    """CPU seconds (user + system) used so far by `pid`, and by its live descendants; with
    `reaped`, also by the children it has waited for (a PostgreSQL server's ended backends)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        if reaped:
            ticks += int(fields[13]) + int(fields[14])
        total = ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
    if not descendants:
        return total
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                              text=True).stdout.split()
    return total + sum(_cpu_s(int(c)) for c in children)


def sustained_rate(instants: list[float], in_flight: int, end: float) -> float:
    """Cycles per second from the end of the first round to `end`, the end of the window.

    Every run waits at its first step when the clock starts, so the first `in_flight` cycles
    are a burst that says nothing of the rate the system keeps up. Counting to the end of
    the window, not to the last cycle, keeps a runner that works in batches (stock's, every
    poll) from being credited with a whole batch for the time of one.
    """
    instants = sorted(instants)
    if len(instants) <= in_flight:
        return float("nan")
    return (len(instants) - in_flight) / (end - instants[in_flight - 1])


def _cpu_of(name: str, pid: int) -> float:
    # The driver started the server and the executing process: count it alone. PostgreSQL's
    # backends come and go with their connections: count the ended ones too.
    return _cpu_s(pid, descendants=name != "driver", reaped=name == "postgres")


def _with_postgres(pids: dict[str, int]) -> dict[str, int]:
    """`pids`, and PostgreSQL's server when the variant runs on it: its CPU is part of every
    cycle there (both stores' queries), as SQLite's is part of the processes that use it."""
    if "+asyncpg" not in os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL", ""):
        return pids
    postmaster = subprocess.run(["pgrep", "-o", "-x", "postgres"], capture_output=True,
                                text=True).stdout.strip()
    return {**pids, "postgres": int(postmaster)} if postmaster else pids


def _cpu_per_cycle(before: dict[str, float], pids: dict[str, int], cycles: int
                   ) -> dict[str, float]:
    """Milliseconds of CPU each process spent per flow-run cycle since `before`."""
    return {name: round(1000 * (_cpu_of(name, pid) - before[name]) / max(cycles, 1), 1)
            for name, pid in pids.items()}


def _children_peak_rss_mb(pid: int) -> float:
    """The largest peak RSS among `pid`'s child processes (the suite-check worker)."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                              text=True).stdout.split()
    return max((_rss_mb(int(c), "VmHWM") for c in children), default=0.0)


def _setup_env(kind: str, home: Path) -> dict[str, str]:
    """Environment of one variant, set before Prefect is imported."""
    for name in [n for n in os.environ if n.startswith(("PREFECT_", "PROTECT_"))]:
        del os.environ[name]
    env = {"PROTECT_HOME": str(home), "PROTECT_PREFECT_PORT": str(free_port())}
    if kind == "postgres":
        sys.path.insert(0, str(ROOT))
        from tests.pg import fresh_database

        env["PROTECT_DATABASE_URL"] = fresh_database("protect_bench_store")
        prefect_db = fresh_database("protect_bench_prefect")
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db.replace("+psycopg", "+asyncpg")
    os.environ.update(env)
    return env


# --- ours -------------------------------------------------------------------------------------

FORMS: dict[str, Any] = {}


def _forms(today: str) -> dict[str, dict[str, Any]]:
    from flows.medical.spec import DEFAULT_HOSPITAL

    return {
        "m1.admission": {"outcome": "admitted"},
        "m1.status": {"confirmed": True},
        "m1.discharge": {"discharged_on": today},
        "m1.claim": {"hospital_code": DEFAULT_HOSPITAL, "invoice_no": "INV-2026-0001",
                     "admission_date": today, "discharge_date": today, "amount_total": 1280.5},
        "m1.payment": {"paid_on": today, "amount_paid": 1280.5},
    }


def _agency_pool(run_ids: set[int], stop: threading.Event, workers: int = 3) -> list[float]:
    """Complete every open task of `run_ids` as soon as it appears; return completion instants.

    One reader looks for open tasks (every 50 ms while it finds none new) and hands each to
    one of `workers` agency threads. Every look is a query on the case store: one reader
    keeps the agencies' own load on the database to what a real inbox would cost.
    """
    import queue

    from sqlmodel import col, select

    from app.adapters.store import db
    from app.domain import clock
    from app.domain.errors import Conflict
    from app.services.tasks import complete_task
    from models import HumanTask

    forms = _forms(clock.now().date().isoformat())
    done: list[float] = []
    lock = threading.Lock()
    tasks: queue.Queue[tuple[int, str, str]] = queue.Queue()
    handed: set[int] = set()  # handed to an agency, and still open at the last look

    def read() -> None:
        while not stop.is_set():
            with db() as session:
                open_tasks = session.exec(select(HumanTask.id, HumanTask.step,
                                                 HumanTask.owner).where(
                    HumanTask.status == "open",
                    col(HumanTask.procedure_run_id).in_(run_ids))).all()
            new = [t for t in open_tasks if t[0] not in handed]
            handed.intersection_update(t[0] for t in open_tasks)
            handed.update(t[0] for t in new)
            for t in new:
                tasks.put(t)
            if not new:
                time.sleep(0.05)

    def work() -> None:
        while not stop.is_set():
            try:
                task_id, step, owner = tasks.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                with db() as session:
                    complete_task(session=session, task_id=task_id, agency=owner,
                                  form=forms[step], actor="bench", now=clock.now())
            except Conflict:
                continue
            with lock:
                done.append(time.monotonic())
            # Delivery is the serving process's dispatcher's job (within 0.2 s), as for a
            # completion through the API: the agency's request does not wait on Prefect.

    threads = [threading.Thread(target=read)]
    threads += [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done


def run_ours(cases: int, budget_s: float, pids: dict[str, int], waiting: int = 0
             ) -> dict[str, Any]:
    """Start `cases` M1 procedures, and `waiting` more that nobody works on, then let the
    agencies work the first `cases` for up to `budget_s` seconds."""
    from sqlmodel import col, select

    from app.adapters.store import db
    from models import HumanTask, ProcedureRun

    case_ids = _open_cases(cases + waiting)
    progress(f"{len(case_ids)} cases open; starting a procedure for each")
    stop = threading.Event()
    cpu_before = {name: _cpu_of(name, pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    started = _start_all(case_ids)
    starts_s = _wait_first_tasks(set(started), t0, 900)
    run_ids = set(started[:cases])
    b5: dict[str, Any] = {}
    if waiting:  # B5: the serving process now, with every procedure waiting at its first step
        b5["suspended"] = _wait_suspended(set(started), 120)
        b5["serve_rss_mb_suspended"] = _rss_mb(pids["protect serve"], "VmRSS")
    progress(f"{len(started)} started in {starts_s:.0f} s; the agencies work {cases} of them "
             f"for up to {budget_s:.0f} s")
    # The agencies begin once every procedure waits at its first step, as the baselines
    # resume once every bare run is started: the rates compare the same work.
    pool_result: list[list[float]] = []
    pool = threading.Thread(target=lambda: pool_result.append(_agency_pool(run_ids, stop)))
    pool.start()
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        with db() as session:
            finished = session.exec(select(ProcedureRun.id).where(
                col(ProcedureRun.id).in_(run_ids), ProcedureRun.status == "completed")).all()
        if len(finished) == len(run_ids):
            break
        time.sleep(0.5)
    stop.set()
    pool.join()
    done = sorted(pool_result[0])
    progress(f"{len(done)} steps completed")
    cpu = _cpu_per_cycle(cpu_before, pids, len(started) + len(done))  # starts and resumes
    gaps: list[float] = []
    with db() as session:
        tasks = session.exec(select(HumanTask).where(col(HumanTask.procedure_run_id).in_(run_ids))
                             .order_by(col(HumanTask.procedure_run_id), col(HumanTask.id))).all()
    for prev, nxt in zip(tasks, tasks[1:], strict=False):
        if prev.procedure_run_id == nxt.procedure_run_id and prev.completed_at:
            gaps.append((nxt.created_at - prev.completed_at).total_seconds())
    # Its window ends with the last step done (or the budget, a moment after the last one).
    rate = sustained_rate(done, cases, done[-1]) if done else float("nan")
    return {"completions": len(done), "completions_per_s": rate,
            "starts": len(started), "starts_per_s": len(started) / starts_s, "gaps": gaps,
            "finished": len(finished), "cases": cases, "waiting": waiting,
            "cpu_ms_per_cycle": cpu, **b5}


def _open_cases(n: int) -> list[int]:
    """Open `n` cases through the service layer, as the intake desk does."""
    from app.adapters.store import db
    from app.domain import clock
    from app.domain.errors import Conflict
    from app.services.cases import open_case
    from tests.helpers import intake_form

    case_ids: list[int] = []
    while len(case_ids) < n:
        try:
            with db() as session:
                case_ids.append(int(open_case(
                    session=session, data=intake_form(), actor="bench", now=clock.now()).id))
        except Conflict:
            continue  # a random ID number that another case drew: draw again
    return case_ids


def _start_all(case_ids: list[int]) -> list[int]:
    """Start M1 for every case through the service layer, as a coordinator does.

    The service commits the run and its outbox row; the serving process's dispatcher delivers
    the start to Prefect, as for a start through the API.
    """
    from app.adapters.store import db
    from app.domain import clock
    from app.services.procedures import start_procedure

    run_ids: list[int] = []
    for case_id in case_ids:
        with db() as session:
            run = start_procedure(session=session, case_id=case_id, code="M1",
                                  actor="bench", now=clock.now())
            run_ids.append(int(run.id))
    return run_ids


def _wait_first_tasks(run_ids: set[int], t0: float, timeout_s: float) -> float:
    """Seconds from t0 until every run has opened its first task (a start counts then)."""
    from sqlmodel import col, func, select

    from app.adapters.store import db
    from models import HumanTask

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with db() as session:
            begun = session.exec(select(func.count(func.distinct(HumanTask.procedure_run_id)))
                                 .where(col(HumanTask.procedure_run_id).in_(run_ids))).one()
        if begun >= len(run_ids):
            return time.monotonic() - t0
        time.sleep(0.1)
    raise TimeoutError(f"{len(run_ids) - begun} of {len(run_ids)} runs never opened a task")


def suspend_many(n: int) -> dict[str, float]:
    """Start n M1 procedures and wait until each is suspended at its first step."""
    case_ids = _open_cases(n)
    t0 = time.monotonic()
    run_ids = set(_start_all(case_ids))
    starts_s = _wait_first_tasks(run_ids, t0, 900)
    _wait_suspended(run_ids, 120)
    return {"suspended": n, "suspend_starts_per_s": n / starts_s}


def _wait_suspended(run_ids: set[int], timeout_s: float) -> int:
    """Wait until Prefect shows every run of `run_ids` suspended (paused); how many it shows."""
    from prefect.client.orchestration import get_client
    from sqlmodel import col, select

    from app.adapters.store import db
    from models import ProcedureRun

    with db() as session:
        flow_ids = [r for r in session.exec(select(ProcedureRun.flow_run_id).where(
            col(ProcedureRun.id).in_(run_ids))).all() if r]
    with get_client(sync_client=True) as client:
        return _wait_paused(client, flow_ids, timeout_s)


def _wait_paused(client: Any, flow_ids: list[Any], timeout_s: float) -> int:
    """Wait until Prefect shows every one of `flow_ids` paused, or `timeout_s`; how many."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + timeout_s
    while True:
        paused = client.count_flow_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=flow_ids),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
        if paused >= len(flow_ids) or time.monotonic() > deadline:
            return int(paused)
        time.sleep(0.5)


# --- bare Prefect -------------------------------------------------------------------------------


def run_bare(mode: str, cases: int, budget_s: float, home: Path, server_pid: int
             ) -> dict[str, Any]:
    """Drive the bare flow served the `mode` way; resume every paused run at once."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from app.adapters.prefect import resume_suspended

    env = dict(os.environ)
    if mode == "stock":
        env["PREFECT_RUNNER_POLL_FREQUENCY"] = "10"  # Prefect's default, what a user gets
    progress(f"{mode}: the bare flow, {cases} runs, for {budget_s:.0f} s")
    log = open(home / "log" / f"bare-{mode}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "bench.bare", mode], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        name = f"bare-steps/{mode}"
        with get_client(sync_client=True) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    deployment = client.read_deployment_by_name(name)
                    break
                except Exception:  # noqa: BLE001 - not registered yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            time.sleep(2)
            pids = _with_postgres({"prefect server": server_pid, "runner": proc.pid,
                                   "driver": os.getpid()})
            cpu_before = {n: _cpu_of(n, pid) for n, pid in pids.items()}
            flow_ids = [_create_bare_run(deployment.id) for _ in range(cases)]
            # The clock starts once every run waits at its first step, as ours does.
            if _wait_paused(client, flow_ids, 300) < len(flow_ids):
                raise TimeoutError("the bare runs did not all reach their first step")
            resumed: dict[tuple[str, str], float] = {}
            gaps: list[float] = []
            cycles: list[float] = []
            start = time.monotonic()
            total = cases * STEPS
            while time.monotonic() - start < budget_s and len(cycles) < total:
                paused = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.PAUSED]))), limit=200)
                for fr in paused:
                    key = fr.state.state_details.pause_key
                    if (str(fr.id), key) in resumed:
                        continue
                    step = int(key.rsplit("-", 1)[1])
                    if step > 0 and (str(fr.id), f"step-{step - 1}") in resumed:
                        gaps.append(fr.state.timestamp.timestamp()
                                    - resumed[(str(fr.id), f"step-{step - 1}")])
                    try:
                        if mode == "stock":  # Prefect's resume endpoint, as a user calls it
                            answer = client.resume_flow_run(fr.id, run_input={"ok": True})
                            if answer.status.value != "ACCEPT":
                                continue  # refused: not a cycle
                        else:  # our dispatcher's resume (app/adapters/dispatch.py)
                            resume_suspended(client, fr, {"ok": True})
                    except Exception:  # noqa: BLE001 - raced with its own state change
                        continue
                    resumed[(str(fr.id), key)] = time.time()
                    cycles.append(time.monotonic())
                time.sleep(0.05)
            ended = time.monotonic()
            cpu = _cpu_per_cycle(cpu_before, pids, cases + len(cycles))
        rss = _rss_mb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a served runner busy with its runs
            proc.kill()
            proc.wait()
    return {"cycles": len(cycles), "cycles_per_s": sustained_rate(cycles, cases, ended),
            "gaps": gaps, "peak_rss_mb": rss, "cpu_ms_per_cycle": cpu}


def _create_bare_run(deployment_id: Any) -> Any:
    """One flow run of the bare flow; a busy answer is asked again soon, as our dispatcher does.

    On SQLite, Prefect's server refuses a new flow run whenever another write lands during
    its read, as the runs already created execute; left to its client, each refusal was
    retried after 2, 4, 8 … s, and 200 creations took minutes. Created before the clock
    starts: only the resumes are timed.
    """
    import httpx

    from app.adapters.prefect import BUSY_RETRY_S, BUSY_STATUS, client_retries, prefect_client

    while True:
        try:
            with client_retries(0):
                return prefect_client().create_flow_run_from_deployment(
                    deployment_id, parameters={"steps": STEPS}).id
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in BUSY_STATUS:
                raise
            time.sleep(random.uniform(*BUSY_RETRY_S))


# --- one variant, in its own process ----------------------------------------------------------


def _local_system(kind: str, home: Path) -> tuple[Any, Any]:
    """The local system of a variant, started: a migrated, seeded case store, Prefect's server
    and `protect serve`."""
    _setup_env(kind, home)
    from app.config.settings import configure_prefect_env, get_settings

    configure_prefect_env()
    from app.adapters.store import db, seed_agencies
    from app.runtime.local import PrefectServer, Runner
    from models.db import migrate

    migrate(get_settings().database_url)
    with db() as session:
        seed_agencies(session=session)
    server = PrefectServer(home / "log" / "server.log")
    runner = Runner(home / "log" / "serve.log")
    server.start()
    runner.start()
    return server, runner


def _run_ours_in_variant(cases: int, full: bool, waiting: int, server: Any, runner: Any,
                         out: dict[str, Any]) -> None:
    pids = _with_postgres({"prefect server": server.proc.pid,
                           "protect serve": runner.proc.pid, "driver": os.getpid()})
    out["ours"] = ours = run_ours(cases, OURS_BUDGET_S[full], pids, waiting=waiting)
    if waiting:
        out["suspended"] = ours.pop("suspended")
        out["serve_rss_mb_suspended"] = ours.pop("serve_rss_mb_suspended")
    ours["serve_peak_rss_mb"] = _rss_mb(runner.proc.pid, "VmHWM")
    ours["check_worker_peak_rss_mb"] = _children_peak_rss_mb(runner.proc.pid)
    ours["server_peak_rss_mb"] = _rss_mb(server.proc.pid, "VmHWM")
    ours["driver_peak_rss_mb"] = _rss_mb(os.getpid(), "VmHWM")


def variant(kind: str, full: bool, ours_only: int | None = None,
            baselines_only: bool = False) -> dict[str, Any]:
    global _variant
    _variant = kind
    home = Path(tempfile.mkdtemp(prefix=f"protect-b1-{kind}-"))
    server, runner = _local_system(kind, home)
    cases = ours_only or CASES[full]
    # The PostgreSQL variant also starts the procedures B5 needs suspended (B5 reads the
    # serving process once all wait at their first step); nobody works on them. Prefect
    # on PostgreSQL starts flow runs faster than on SQLite.
    waiting = SUSPENDED[full] - cases if kind == "postgres" and not ours_only else 0
    out: dict[str, Any] = {"kind": kind}
    try:
        if not baselines_only:
            _run_ours_in_variant(cases, full, waiting, server, runner, out)
            if ours_only:
                return out
    finally:
        runner.stop()
        if ours_only:
            server.stop()
            _drop_databases(kind)
    return variant_baselines(kind, full, home, server, out)


def variant_baselines(kind: str, full: bool, home: Path, server: Any, out: dict[str, Any]
                      ) -> dict[str, Any]:
    """The two bare-Prefect baselines on the variant's Prefect server, which they stop."""
    try:
        out["floor"] = run_bare("floor", FLOOR_RUNS, FLOOR_BUDGET_S[full], home,
                                server.proc.pid)
        out["stock"] = run_bare("stock", STOCK_RUNS[full], STOCK_BUDGET_S, home,
                                server.proc.pid)
    finally:
        server.stop()
        _drop_databases(kind)
    return out


def _drop_databases(kind: str) -> None:
    """The PostgreSQL variant's two databases, once its servers are stopped."""
    if kind != "postgres":
        return
    from sqlalchemy.engine import make_url

    from app.config.settings import get_settings
    from models.db import engine_for
    from tests.pg import drop_database

    engine_for(get_settings().database_url).dispose()
    drop_database(get_settings().database_url)
    prefect_db = make_url(os.environ["PREFECT_API_DATABASE_CONNECTION_URL"])
    drop_database(prefect_db.set(drivername="postgresql+psycopg")
                  .render_as_string(hide_password=False))


def summary(kind: str, r: dict[str, Any]) -> str:
    from bench.common import percentile

    ours = r["ours"]
    tag = "B1" if kind == "sqlite" else "B1pg"
    return (f"{tag} completions_per_s={ours['completions_per_s']:.2f} "
            f"starts_per_s={ours['starts_per_s']:.2f} "
            f"p50_s={percentile(ours['gaps'], 50):.2f} p95_s={percentile(ours['gaps'], 95):.2f} "
            f"speedup_vs_stock={ours['completions_per_s'] / r['stock']['cycles_per_s']:.1f} "
            f"ratio_vs_floor={r['floor']['cycles_per_s'] / ours['completions_per_s']:.2f}")


def run(*, full: bool = False) -> str:
    """Both variants, each in its own process; writes B1 (and B5) to docs/BENCHMARKS.md."""
    from bench.common import percentile, sized, sized_command, sized_title, write_section

    results = {}
    for kind in ("sqlite", "postgres"):
        proc = subprocess.run([sys.executable, "-m", "bench.b1_throughput", "--variant", kind]
                              + (["--full"] if full else []), cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, timeout=2400)
        if proc.returncode != 0:
            raise RuntimeError(f"B1 {kind} failed (its output is above)")
        results[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [summary(k, r) for k, r in results.items()]
    rows = []
    for kind, r in results.items():
        o, f, s = r["ours"], r["floor"], r["stock"]
        rows.append(f"| {kind} | ours: {o['cases']} × M1"
                    + (f" (and {o['waiting']} waiting)" if o["waiting"] else "")
                    + f" | {o['completions_per_s']:.2f} | "
                    f"{percentile(o['gaps'], 50):.2f} / {percentile(o['gaps'], 95):.2f} |")
        rows.append(f"| {kind} | floor: bare flow, our executor | {f['cycles_per_s']:.2f} | "
                    f"{percentile(f['gaps'], 50):.2f} / {percentile(f['gaps'], 95):.2f} |"
                    if f["gaps"] else f"| {kind} | floor | {f['cycles_per_s']:.2f} | – |")
        rows.append(f"| {kind} | stock: bare flow, `flow.serve()` defaults | "
                    f"{s['cycles_per_s']:.2f} | "
                    + (f"{percentile(s['gaps'], 50):.2f} / {percentile(s['gaps'], 95):.2f} |"
                       if s["gaps"] else "– |"))
    cpu_rows = []
    for kind, r in results.items():
        for what, fig in (("ours", r["ours"]), ("floor", r["floor"]), ("stock", r["stock"])):
            c = fig["cpu_ms_per_cycle"]
            worker = c.get("protect serve", c.get("runner", 0.0))
            pg = f"{c['postgres']:.0f}" if "postgres" in c else "–"
            cpu_rows.append(f"| {kind} | {what} | {c['prefect server']:.0f} | {worker:.0f} | "
                            f"{c['driver']:.0f} | {pg} |")
    body = (sized_title("B1 procedure throughput", full=full) + "\n\n"
            + __doc__.split("\n\n", 1)[1].split("Usage")[0]
            + "\n\n| database | what | steps/s | p50 / p95 s to next step |\n|---|---|---|---|\n"
            + "\n".join(rows)
            + "\n\nCPU per flow-run cycle (a start or a resume, each a flow run from its top to "
              "its next suspension), in milliseconds, by process. The driver is the agencies and "
              "the service layer for ours, the resuming loop for the bare flow; PostgreSQL is "
              "its server's processes (both stores' queries; on SQLite that work is inside the "
              "processes that use the file):\n\n"
              "| database | what | Prefect server | executing process | driver | PostgreSQL |\n"
              "|---|---|---|---|---|---|\n" + "\n".join(cpu_rows)
            + "\n\n```\n" + "\n".join(lines) + "\n```\n")
    write_section(sized("B1", full=full), body, cmd=sized_command("b1_throughput", full=full))
    sq, pg = results["sqlite"], results["postgres"]
    peak = max(r["ours"][k] for r in (sq, pg) for k in (
        "serve_peak_rss_mb", "server_peak_rss_mb", "driver_peak_rss_mb",
        "check_worker_peak_rss_mb"))
    # The key names 1,000; the default sizes suspend fewer, and its key says how many.
    b5 = (f"B5 serve_rss_mb_{pg['suspended']}_suspended={pg['serve_rss_mb_suspended']:.0f} "
          f"peak_rss_mb={peak:.0f}")

    def row(what: str, key: str) -> str:
        return f"| {what} | {sq['ours'][key]:.0f} | {pg['ours'][key]:.0f} |"

    table = "\n".join([
        "| process | peak RSS, SQLite (MB) | peak RSS, PostgreSQL (MB) |", "|---|---|---|",
        row("`protect serve` (in-process executor)", "serve_peak_rss_mb"),
        row("its suite-check worker (Great Expectations)", "check_worker_peak_rss_mb"),
        row("Prefect server", "server_peak_rss_mb"),
        row("B1 driver (agencies, service layer)", "driver_peak_rss_mb"),
        f"| stock runner (bare flow) | {sq['stock']['peak_rss_mb']:.0f} | "
        f"{pg['stock']['peak_rss_mb']:.0f} |",
    ])
    write_section(sized("B5", full=full), f"{sized_title('B5 memory', full=full)}\n\n"
                  f"{table}\n\nIn the PostgreSQL variant {pg['ours']['starts']} procedures "
                  "were started; once every one had opened its first task, before the "
                  f"agencies began, {pg['suspended']} were suspended in Prefect, and "
                  f"`protect serve` held {pg['serve_rss_mb_suspended']:.0f} MB "
                  "(target: under 300 MB with 1,000).\n\n```\n" + b5 + "\n```\n",
                  cmd=sized_command("b1_throughput", full=full))
    return "\n".join([*lines, b5])


def suspended_only(n: int) -> str:
    """B5's second figure alone: the serving process's RSS with `n` procedures suspended.

    B1 reads it too, in its PostgreSQL variant; this measures it alone, on SQLite
    (about n / 3 seconds of starts here).
    """
    from bench.common import write_section

    server, runner = _local_system("sqlite", Path(tempfile.mkdtemp(prefix="protect-b5-")))
    try:
        before = _rss_mb(runner.proc.pid, "VmRSS")
        out = suspend_many(n)
        after = _rss_mb(runner.proc.pid, "VmRSS")
        peak = _rss_mb(runner.proc.pid, "VmHWM")
        server_rss = _rss_mb(server.proc.pid, "VmRSS")
    finally:
        runner.stop()
        server.stop()
    line = f"B5 serve_rss_mb_{n}_suspended={after:.0f} serve_peak_rss_mb={peak:.0f}"
    write_section("B5-suspended", (
        f"## B5: the serving process with {n} procedures suspended\n\n"
        f"{n} M1 procedures started through the service layer on the local system (SQLite, "
        f"Prefect server + `protect serve`), each waiting at its first step, suspended in "
        f"Prefect. `protect serve` held {before:.0f} MB before the starts and {after:.0f} MB "
        f"after (peak {peak:.0f} MB; target: under 300 MB with 1,000); Prefect's server held "
        f"{server_rss:.0f} MB. The starts ran at {out['suspend_starts_per_s']:.2f}/s. A "
        f"suspended procedure holds nothing in the serving process: its state is in Prefect's "
        f"database and the case store, and it is executed again only when it resumes.\n\n"
        f"```\n{line}\n```\n"), cmd=f"python -m bench.b1_throughput --suspended {n}")
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suspended", type=int, metavar="N",
                        help="only B5's serving-process RSS with N procedures suspended")
    parser.add_argument("--variant", choices=["sqlite", "postgres"])
    parser.add_argument("--full", action="store_true", help="the issue's sizes (see above)")
    parser.add_argument("--ours-only", type=int, metavar="CASES",
                        help="only our procedures, this many cases (for tuning)")
    parser.add_argument("--baselines-only", action="store_true",
                        help="only the bare-Prefect baselines (for tuning)")
    args = parser.parse_args()
    if args.suspended:
        print(suspended_only(args.suspended))
    elif args.variant:
        print(json.dumps(variant(args.variant, args.full, ours_only=args.ours_only,
                                 baselines_only=args.baselines_only)))
    else:
        print(run(full=args.full))


if __name__ == "__main__":
    main()
