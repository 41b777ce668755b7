"""Time from an agency's completion to the procedure's next task being open.

Runs the local system (a Prefect server on SQLite and `protect serve`) in a temporary home,
drives R2 for several cases one step at a time, and reads both instants from the case store:
the task's `completed_at` and the next task's `created_at`. Usage:

    .venv/bin/python -m bench.resume_latency [--cases 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="append to docs/BENCHMARKS.md")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="protect-bench-"))
    keep = {"PREFECT_RUNNER_POLL_FREQUENCY"}  # the one setting this benchmark is about
    for name in [n for n in os.environ if n.startswith(("PREFECT_", "PROTECT_"))]:
        if name not in keep:
            del os.environ[name]
    from bench.common import free_port

    os.environ.update({"PROTECT_HOME": str(home), "PROTECT_PREFECT_PORT": str(free_port())})
    from app.config.settings import configure_prefect_env, get_settings

    configure_prefect_env()
    from sqlmodel import select

    from app.adapters.dispatch import dispatch
    from app.adapters.outbox import resume_message_key, start_message_key
    from app.adapters.store import db, seed_agencies
    from app.domain import clock
    from app.runtime.local import PrefectServer, Runner
    from app.services.cases import open_case
    from app.services.procedures import start_procedure
    from app.services.tasks import complete_task
    from models import HumanTask
    from models.db import migrate
    from tests.helpers import intake_form

    migrate(get_settings().database_url)
    with db() as session:
        seed_agencies(session=session)
    server, runner = PrefectServer(home / "log" / "server.log"), Runner(home / "log" / "serve.log")
    server.start()
    runner.start()
    gaps: list[float] = []
    try:
        def wait_task(case_id: int, step: str) -> HumanTask:
            while True:
                with db() as session:
                    t = session.exec(select(HumanTask).where(
                        HumanTask.case_id == case_id, HumanTask.step == step)).first()
                if t is not None:
                    return t
                time.sleep(0.05)

        for i in range(args.cases):
            with db() as session:
                case = open_case(session=session, data=intake_form(), actor="bench",
                                 now=clock.now())
                run = start_procedure(session=session, case_id=case.id, code="R2",
                                      actor="bench", now=clock.now())
                case_id, run_id = case.id, run.id
            dispatch(keys=[start_message_key(run_id)])
            for step, nxt, form in (("r2.outreach", "r2.intake", {"outcome": "accepted"}),
                                    ("r2.intake", "r2.identity", {"ill_or_injured": False})):
                task = wait_task(case_id, step)
                time.sleep(1.5)  # let the run finish suspending, as an agency would take time
                with db() as session:
                    done = complete_task(session=session, task_id=task.id,
                                         agency="center", form=form, actor="bench",
                                         now=clock.now())
                    completed_at = done.completed_at
                dispatch(keys=[resume_message_key(task.id)])
                gaps.append((wait_task(case_id, nxt).created_at - completed_at).total_seconds())
            print(f"case {i + 1}/{args.cases}: last gap {gaps[-1]:.2f} s", file=sys.stderr)
    finally:
        runner.stop()
        server.stop()

    gaps.sort()
    p95 = gaps[min(len(gaps) - 1, round(0.95 * (len(gaps) - 1)))]
    poll = os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY")
    line = (f"resume_latency n={len(gaps)} p50_s={statistics.median(gaps):.2f} "
            f"p95_s={p95:.2f} max_s={gaps[-1]:.2f} runner_poll_s={poll}")
    print(line)
    if args.write:
        import prefect

        machine = (f"{os.cpu_count()} cores, {platform.python_version()}, "
                   f"Prefect {prefect.__version__}, SQLite")
        with open(Path(__file__).parent.parent / "docs" / "BENCHMARKS.md", "a",
                  encoding="utf-8") as f:
            f.write(f"\n- `{line}` ({machine}; {time.strftime('%Y-%m-%d')})\n")


if __name__ == "__main__":
    main()
