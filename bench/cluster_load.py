"""Cluster load: the scaled-out topology: cases, agencies completing tasks for minutes, two workers.

    python -m bench.cluster_load [--cases 1000] [--minutes 5] [--agencies 4]

Brings up the whole cluster (app/cluster.py) on the machine's PostgreSQL and Redis with
databases and a Redis database number of its own (dropped at the end), opens the cases and
starts R2 for each, then agencies complete whatever R2 step is open (outreach, intake,
identity) for the given minutes. Latency is from a completion's commit to the next task of
the same run in the case store. Needs the `cluster` extra (make cluster-setup).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from pathlib import Path

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
    args = parser.parse_args()

    import tempfile

    from app.cluster import Cluster, Topology

    tag = uuid.uuid4().hex[:8]
    topology = Topology(home=Path(tempfile.mkdtemp(prefix="protect-b5-")),
                        redis_url=f"redis://127.0.0.1:6379/{REDIS_DB}",
                        store_db=f"protect_b5_{tag}", prefect_db=f"protect_b5_prefect_{tag}",
                        proxy_port=4310, api_ports=(4311, 4312))
    for name in [n for n in os.environ if n.startswith(("PREFECT_", "PROTECT_"))]:
        del os.environ[name]
    os.environ.update(topology.env())
    cluster = Cluster(topology)
    try:
        t0 = time.monotonic()
        cluster.up()
        print(f"cluster up in {time.monotonic() - t0:.0f} s", flush=True)
        figures = _load(args)
    finally:
        cluster.stop()
        _drop(topology)
    body = (
        f"## Cluster load: the scaled-out topology (issue 7)\n\n"
        f"{args.cases} cases (R2 each) opened and started on the cluster of "
        f"[operations.md](operations.md) (two API processes behind the proxy, services, Redis, "
        f"two process workers with 4 runs each, PostgreSQL for both stores), then "
        f"{args.agencies} agency threads completed every open R2 step for "
        f"{args.minutes:g} minutes. The machine was shared with other developers' work while "
        f"it ran.\n\n"
        f"| figure | value |\n|---|---|\n"
        f"| cases opened and started | {figures['cases']} in {figures['open_s']:.0f} s |\n"
        f"| completions | {figures['completions']} in {figures['seconds']:.0f} s |\n"
        f"| completions per second | {figures['rate']:.2f} |\n"
        f"| completion → next task, p50 / p95 | " + (
            f"{figures['p50']:.1f} s / {figures['p95']:.1f} s ({figures['pairs']} pairs) |\n"
            if figures["pairs"] else "not measured: no run reached its next step |\n") +
        f"| errors (refused completions; failed or crashed runs) | {figures['errors']}; "
        f"{figures['bad_runs']} |\n"
        f"| runs that opened their first task | {figures['started']} of {figures['cases']} |\n\n"
        f"Each run of a process worker is a new Python process (1–3 s of CPU to start on this "
        f"2-core machine), and a procedure is picked up again after every step: the workers' "
        f"process starts, not PostgreSQL or Prefect's API, bound the rate here. On several "
        f"machines the rate grows with the workers; on one machine `protect serve`'s "
        f"in-process executor is faster (B1).")
    print(body, flush=True)
    write_section("cluster-load", body,
                  cmd=" ".join(["python -m bench.cluster_load", *sys.argv[1:]]))


def _load(args: argparse.Namespace) -> dict[str, float]:
    from sqlmodel import select

    from app import clock, services
    from app.errors import Conflict, ProtectError
    from app.store import db
    from models import HumanTask, ProcedureRun
    from tests.helpers import intake_form

    t0 = time.monotonic()
    run_ids = []
    while len(run_ids) < args.cases:
        try:
            with db() as session:
                case = services.open_case(session=session, data=intake_form(), actor="bench",
                                          now=clock.now())
                run = services.start_procedure(session=session, case_id=case.id, code="R2",
                                               actor="bench", now=clock.now())
                run_ids.append(int(run.id))
        except Conflict:
            continue  # a random ID number that another case drew: draw again
    open_s = time.monotonic() - t0
    print(f"{args.cases} cases opened and started in {open_s:.0f} s", flush=True)

    stop = time.monotonic() + args.minutes * 60
    lock, taken = threading.Lock(), set()
    counts = {"completions": 0, "errors": 0}

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
                if time.monotonic() >= stop:
                    break
                try:
                    with db() as session:
                        services.complete_task(session=session, task_id=t.id, agency=t.owner,
                                               form=FORMS[t.step], actor="bench",
                                               now=clock.now())
                    counts["completions"] += 1
                except ProtectError:
                    counts["errors"] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=agency, args=(n,)) for n in range(args.agencies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.minutes * 60 + 120)
    seconds = time.monotonic() - start

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
    for ts in by_run.values():
        started += 1
        for prev, nxt in zip(ts, ts[1:], strict=False):
            if prev.completed_at is not None:
                latencies.append((nxt.created_at - prev.completed_at).total_seconds())
    bad_runs = sum(1 for r in runs if r.status == "failed")
    return {"cases": args.cases, "open_s": open_s, "completions": counts["completions"],
            "seconds": seconds, "rate": counts["completions"] / seconds,
            "p50": percentile(latencies, 50) if latencies else float("nan"),
            "p95": percentile(latencies, 95) if latencies else float("nan"),
            "pairs": len(latencies), "errors": counts["errors"], "bad_runs": bad_runs,
            "started": started}


def _drop(topology: object) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(topology.db_url("psycopg", "postgres"),  # type: ignore[attr-defined]
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in (topology.store_db, topology.prefect_db):  # type: ignore[attr-defined]
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


if __name__ == "__main__":
    main()
