"""Human tasks: listing the open ones and completing one with its form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from app.adapters.store import db
from app.domain import clock
from app.entrypoints.cli.common import JsonOpt, local_time, out, read_json


def _task_row(t: Any, case_no: str, now: Any) -> dict[str, Any]:
    """A task for the tables: its codes, and the names a person reads (app/config/vocabulary.py)."""
    from app.config.vocabulary import owner_name, task_name
    from app.domain.workdays import is_provisional, working_days_between

    return {"id": t.id, "case": case_no, "step": t.step, "title": t.title, "owner": t.owner,
            "owner_role": t.owner_role, "rung": t.rung, "status": t.status,
            "step_name": task_name(t.step, t.title),
            "owner_name": owner_name(t.owner, t.owner_role),
            "due_at": local_time(t.due_at),
            "working_days_left": working_days_between(now, t.due_at),
            "due_provisional": is_provisional(now, t.due_at),
            "overdue": t.status == "open" and t.due_at <= now}


def _cell(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two)."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


def tasks(case: Annotated[str | None, typer.Option("--case")] = None,
          agency: Annotated[str | None, typer.Option("--agency")] = None,
          overdue: Annotated[bool, typer.Option("--overdue")] = False,
          as_json: JsonOpt = False) -> None:
    """Open human tasks, overdue first."""
    from app.services.tasks import list_tasks

    now = clock.now()
    with db() as session:
        rows = [_task_row(t, no, now) for t, no in list_tasks(
            session=session, now=now, case_ref=case, agency=agency, overdue=overdue)]
    for r in rows:
        r["assignee"] = r["owner"] + ("" if r["owner_role"] == "worker" else f"/{r['owner_role']}")
    lines = [f"{r['id']:>6}  {r['case']:<14} {_cell(r['step_name'], 32)} "
             f"{_cell(r['owner_name'], 26)} due {r['due_at'][:16].replace('T', ' ')}"
             f"{' (provisional)' if r['due_provisional'] else ''}"
             f"{'  OVERDUE' if r['overdue'] else ''}"
             for r in rows]
    out(rows, as_json, "\n".join(lines) or "no open tasks")


def complete(task: int,
             agency: Annotated[str, typer.Option("--as", help="The agency completing it.")],
             file: Annotated[Path, typer.Option("--file", "-f", help="The form (JSON).")],
             as_json: JsonOpt = False) -> None:
    """Complete a human task with its form; the procedure resumes."""
    from app.services.tasks import complete_task_and_resume

    form = read_json(file)
    done = complete_task_and_resume(task_id=task, agency=agency, form=form,
                                    actor=f"agency:{agency}", handover=True)
    data = {"task": task, "status": "done", "resumed": done.resumed, "waiting": done.waiting}
    out(data, as_json, f"task {task} completed" + {
        None: "; the procedure resumes",
        "delivering": "; the running system is resuming the procedure",
        "busy": "; the procedure resumes in a moment (Prefect is busy, or the run has not "
                "reached this step yet; the running system tries again within seconds)",
        "unreachable": "; the procedure will resume when Prefect has it (next sweep)",
    }[done.waiting])
