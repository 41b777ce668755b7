"""Cluster load: the scaled-out topology, cases and agencies completing tasks for minutes.

    python -m bench.cluster_load [--cases 1000] [--minutes 5] [--agencies 4]
                                 [--runner in-process|process] [--workers 2]

Brings up the whole cluster (app/runtime/cluster.py) on the machine's PostgreSQL and Redis with
databases and a Redis database number of its own (dropped at the end), opens the cases and
starts R2 for each, then agencies complete whatever R2 step is open (outreach, intake,
identity) for the given minutes. Latency is from a completion's commit to the next task of
the same run in the case store. Needs the `cluster` extra (make cluster-setup).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import percentile, write_section

FORMS = {
    "r2.outreach": {"outcome": "accepted", "location": "银川火车站"},
    "r2.intake": {"ill_or_injured": False},
    "r2.identity": {"outcome": "family_found", "has_hukou": True, "origin_district": "xingqing"},
}
REDIS_DB = 9


def main() -> None:  # noqa: C901 - one scenario, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--agencies", type=int, default=4)
    parser.add_argument("--runner", choices=("in-process", "process"), default="in-process")
    parser.add_argument("--workers", type=int, default=2, help="executors or process workers")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="runs at once per executor (default: the Topology's)")
    parser.add_argument("--rate", type=float, default=0,
                        help="completions per second offered by all agencies together "
                             "(0: as fast as they can)")
    parser.add_argument("--no-record", action="store_true",
                        help="print the figures only, leave docs/BENCHMARKS.md as it is")
    args = parser.parse_args()

    import tempfile

    from app.runtime.cluster import Cluster, Topology

    tag = uuid.uuid4().hex[:8]
    topology = Topology(home=Path(tempfile.mkdtemp(prefix="protect-b5-")),
                        redis_url=f"redis://127.0.0.1:6379/{REDIS_DB}",
                        store_db=f"protect_b5_{tag}", prefect_db=f"protect_b5_prefect_{tag}",
                        proxy_port=4310, api_ports=(4311, 4312), web_port=8310,
                        runner=args.runner, workers=args.workers)
    if args.concurrency:
        topology = dataclasses.replace(topology, executor_concurrency=args.concurrency)
    for name in [n for n in os.environ if n.startswith(("PREFECT_", "PROTECT_"))]:
        del os.environ[name]
    os.environ.update(topology.env())
    cluster = Cluster(topology)
    try:
        t0 = time.monotonic()
        cluster.up()
        print(f"cluster up in {time.monotonic() - t0:.0f} s", flush=True)
        figures = _load(args, lambda: _cpu_by_part(cluster))
        figures.update(load=os.getloadavg(), concurrency=topology.executor_concurrency)
    finally:
        cluster.stop()
        _drop(topology)
    print(json.dumps(figures), flush=True)
    body = render(args, figures)
    print(body, flush=True)
    if args.no_record:
        return
    write_section("cluster-load-paced" if args.rate else "cluster-load", body,
                  cmd=" ".join(["python -m bench.cluster_load", *sys.argv[1:]]))


def render(args: argparse.Namespace, figures: dict[str, Any]) -> str:
    pairs = (f"{figures['p50']:.1f} s / {figures['p95']:.1f} s ({figures['pairs']} "
             f"completions; the {figures['waiting']} whose next task was not open at the end "
             f"count with their wait so far)"
             if figures["pairs"] else "not measured: no completion")
    workers = (f"{args.workers} in-process executors (`protect cluster executor`) with "
               f"{figures['concurrency']} runs at once each" if args.runner == "in-process"
               else f"{args.workers} process workers with 4 runs each")
    load = ", ".join(f"{x:.1f}" for x in figures["load"])
    pace = (f", at most {args.rate:g} completions a second in all" if args.rate
            else " as fast as they could")
    title = ("Cluster load: the scaled-out topology (issue 7)" if not args.rate else
             f"Cluster load at a steady {args.rate:g} completions/s")
    return (
        f"## {title}\n\n"
        f"{args.cases} cases opened, and R2 started for each, on the cluster of "
        f"[operations.md](operations.md) (two API processes behind the proxy, services, Redis, "
        f"{workers}, the dispatcher, PostgreSQL for both stores); "
        f"then {args.agencies} agency threads completed every open R2 step (outreach, intake, "
        f"identity) through the service layer{pace}, for {args.minutes:g} minutes. The "
        f"machine's "
        f"load average (1, 5, 15 min) at the end: {load}; it is shared with other work, so "
        f"the figures are a floor.\n\n"
        f"| figure | value |\n|---|---|\n"
        f"| cases opened and their starts queued | {figures['cases']} in "
        f"{figures['open_s']:.0f} s |\n"
        f"| completions | {figures['completions']} in {figures['seconds']:.0f} s |\n"
        f"| completions per second | {figures['rate']:.2f} |\n"
        f"| completion → next task of the run, p50 / p95 | {pairs} |\n"
        f"| of which completion → its resume delivered to Prefect, p50 / p95 | "
        f"{figures['resume_p50']:.1f} s / {figures['resume_p95']:.1f} s "
        f"({figures['resume_retried']} resumes needed more than one attempt) |\n"
        f"| errors: refused completions; failed runs; crashed runs recovered | "
        f"{figures['errors']}; "
        f"{figures['bad_runs']}; {figures['crashed']} |\n"
        f"| runs that opened their first task | {figures['started']} of {figures['cases']} "
        f"({figures['open_at_start']} with a task open as the agencies began) |\n"
        f"| starts still held in the outbox at the end | {figures['held']} |\n"
        f"| tasks opened (each one flow-run execution) | {figures['flow_runs']} |\n"
        f"| flow-run executions in the {args.minutes:g} minutes | {figures['executions']} "
        f"({figures['executions'] / figures['seconds']:.2f}/s), {figures['cpu_s']} s of CPU "
        f"in all |\n\n"
        f"CPU per flow-run execution, by part of the cluster, in milliseconds (a process "
        f"worker's includes the flow-run processes it started):\n\n"
        f"| part | ms |\n|---|---|\n"
        + "".join(f"| {part} | {ms} |\n" for part, ms in sorted(
            figures["cpu_ms"].items(), key=lambda kv: -kv[1])) + "\n"
        + ("" if args.rate else
           "The agencies complete every open task at once, so each completion waits behind "
           "the others' resumes: by Little's law the latency is about the cases under way "
           "divided by the executions per second, the length of the queue the agencies make "
           "rather than the time of one resume (the cases started while the cases were being "
           "opened are under way from the first second). `--rate` offers a steady number of "
           "completions a second instead; its section below measures the latency of one "
           "resume at that load. ")
        + "An executor runs each flow run as an asyncio task of its own process, with Prefect's "
        "flow engine, so a resume costs the steps and Prefect's API calls, not a new Python "
        "process that imports Prefect and the flow's code again (about 1.8 s of CPU here, "
        "what each run of a process worker paid: 0.30 completions/s, p95 36.7 s with two of "
        "them on this machine). Starts wait in the outbox while a run already waits for each "
        "executor (`PROTECT_START_BACKLOG`, operations.md), so a resume waits behind the runs "
        "under way, not behind every start. The CPU above is the whole 2-core machine's, "
        "shared by every part; on several machines the rate grows with the executors.")


def _cpu_s(pid: int) -> float:
    """CPU seconds of `pid`, with its reaped children's (a worker's finished flow runs)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _cpu_by_part(cluster: object) -> dict[str, float]:
    """CPU seconds so far of each part of the cluster (its processes below it included)."""
    from app.runtime.cluster import descendants

    parts: dict[str, float] = {}
    for name, proc in cluster.procs.items():  # type: ignore[attr-defined]
        part = name.rsplit("-", 1)[0] if name[-1].isdigit() else name
        parts[part] = parts.get(part, 0.0) + sum(
            _cpu_s(pid) for pid in [proc.pid, *descendants(proc.pid)])
    parts["driver (agencies)"] = _cpu_s(os.getpid())
    return parts


def _load(args: argparse.Namespace, cpu: Any) -> dict[str, Any]:
    from sqlmodel import select

    from app.adapters.store import db
    from app.domain import clock
    from app.domain.errors import Conflict, ProtectError
    from app.services.cases import open_case
    from app.services.procedures import start_procedure
    from app.services.tasks import complete_task
    from models import HumanTask, OutboxMessage, ProcedureRun  # noqa: F401
    from tests.helpers import intake_form

    t0 = time.monotonic()
    run_ids = []
    while len(run_ids) < args.cases:
        try:
            with db() as session:
                case = open_case(session=session, data=intake_form(), actor="bench",
                                 now=clock.now())
                run = start_procedure(session=session, case_id=case.id, code="R2",
                                      actor="bench", now=clock.now())
                run_ids.append(int(run.id))
        except Conflict:
            continue  # a random ID number that another case drew: draw again
    open_s = time.monotonic() - t0
    print(f"{args.cases} cases opened and started in {open_s:.0f} s", flush=True)

    stop = time.monotonic() + args.minutes * 60
    lock, taken = threading.Lock(), set()
    counts = {"completions": 0, "errors": 0}
    turn = {"next": time.monotonic()}

    def wait_turn() -> None:
        """With --rate: the agencies together complete at most that many tasks a second."""
        if args.rate <= 0:
            return
        with lock:
            at = turn["next"] = max(turn["next"], time.monotonic()) + 1 / args.rate
        time.sleep(max(0.0, at - 1 / args.rate - time.monotonic()))

    def agency(n: int) -> None:
        while time.monotonic() < stop:
            with db() as session:
                open_tasks = session.exec(
                    select(HumanTask.id, HumanTask.step, HumanTask.owner)
                    .where(HumanTask.status == "open",
                           HumanTask.step.in_(list(FORMS)))  # type: ignore[attr-defined]
                    .order_by(HumanTask.id).limit(50)).all()
            mine = []
            with lock:
                for t in open_tasks:
                    if t.id % args.agencies == n and t.id not in taken:
                        taken.add(t.id)
                        mine.append(t)
            if not mine:
                time.sleep(0.5)
                continue
            for t in mine:
                wait_turn()
                if time.monotonic() >= stop:
                    break
                try:
                    with db() as session:
                        complete_task(session=session, task_id=t.id, agency=t.owner,
                                      form=FORMS[t.step], actor="bench",
                                      now=clock.now())
                    counts["completions"] += 1
                except ProtectError:
                    counts["errors"] += 1

    with db() as session:  # the cases under way as the agencies begin: their tasks open
        open_at_start = len(session.exec(select(HumanTask.id).where(
            HumanTask.status == "open",
            HumanTask.step.in_(list(FORMS)))).all())  # type: ignore[attr-defined]
    start, cpu_before, window_from = time.monotonic(), cpu(), clock.now()
    threads = [threading.Thread(target=agency, args=(n,)) for n in range(args.agencies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.minutes * 60 + 120)
    seconds = time.monotonic() - start
    cpu_after, window_to = cpu(), clock.now()

    latencies, started = [], 0
    with db() as session:
        tasks = session.exec(select(HumanTask).where(
            HumanTask.procedure_run_id.in_(run_ids))  # type: ignore[attr-defined]
            .order_by(HumanTask.procedure_run_id, HumanTask.created_at)).all()
        runs = session.exec(select(ProcedureRun).where(
            ProcedureRun.id.in_(run_ids))).all()  # type: ignore[attr-defined]
    by_run: dict[int, list[HumanTask]] = {}
    for t in tasks:
        by_run.setdefault(t.procedure_run_id, []).append(t)
    status = {r.id: r.status for r in runs}
    end, waiting = clock.now(), 0
    for run_id, ts in by_run.items():
        started += 1
        for prev, nxt in zip(ts, [*ts[1:], None], strict=True):
            if prev.completed_at is None:
                continue
            if nxt is not None:
                latencies.append((nxt.created_at - prev.completed_at).total_seconds())
            elif status[run_id] == "running":  # still waiting at the end: its wait so far
                waiting += 1
                latencies.append((end - prev.completed_at).total_seconds())
    bad_runs = sum(1 for r in runs if r.status == "failed")
    held = sum(1 for r in runs if r.flow_run_id is None)  # their start not yet delivered
    # Flow-run executions in the window: each ends at a task it opens or at the run's end.
    executions = (sum(1 for t in tasks if window_from <= t.created_at <= window_to)
                  + sum(1 for r in runs if r.ended_at and window_from <= r.ended_at <= window_to))
    cpu_ms = {part: round(1000 * (cpu_after[part] - cpu_before.get(part, 0.0))
                          / max(executions, 1)) for part in cpu_after}
    with db() as session:
        crashed = len(session.exec(select(OutboxMessage.id).where(
            OutboxMessage.kind == "recover")).all())
        resumes = session.exec(select(OutboxMessage.created_at, OutboxMessage.delivered_at,
                                      OutboxMessage.attempts).where(
            OutboxMessage.kind == "resume", OutboxMessage.created_at >= window_from,
            OutboxMessage.created_at <= window_to)).all()
    # Completion → its resume delivered to Prefect (the rest of the wait is the executor's).
    delivered = [(r.delivered_at - r.created_at).total_seconds() for r in resumes
                 if r.delivered_at is not None]
    return {"cases": args.cases, "open_s": open_s, "completions": counts["completions"],
            "seconds": seconds, "rate": counts["completions"] / seconds,
            "p50": percentile(latencies, 50) if latencies else float("nan"),
            "p95": percentile(latencies, 95) if latencies else float("nan"),
            "pairs": len(latencies), "errors": counts["errors"], "bad_runs": bad_runs,
            "open_at_start": open_at_start,
            "resume_p50": percentile(delivered, 50) if delivered else float("nan"),
            "resume_p95": percentile(delivered, 95) if delivered else float("nan"),
            "resume_retried": sum(1 for r in resumes if r.attempts > 1),
            "started": started, "waiting": waiting, "held": held, "crashed": crashed,
            "flow_runs": len(tasks), "executions": executions, "cpu_ms": cpu_ms,
            "cpu_s": round(sum(cpu_after.values()) - sum(cpu_before.values()))}


def _drop(topology: object) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(topology.db_url("psycopg", "postgres"),  # type: ignore[attr-defined]
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in (topology.store_db, topology.prefect_db):  # type: ignore[attr-defined]
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
    import redis  # with prefect-redis, in the `cluster` extra

    redis.Redis.from_url(topology.redis_url).flushdb()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
