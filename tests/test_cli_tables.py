"""The CLI's tables read as words (issue 17): `protect tasks` names the step and the owner,
`protect history` tells the audit trail as sentences in Beijing time; `--json` keeps the
codes."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from app.adapters.store import db
from app.domain import clock
from app.entrypoints.cli import cli
from app.services import tasks
from tests.api.conftest import add_task
from tests.helpers import open_case


def protect(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_tasks_and_history_name_the_step_and_the_owner(store: str) -> None:
    case = open_case()
    task_id = add_task(case, step="r2.identity", owner="psb")
    text = protect("tasks", "--case", case).output
    assert f"{task_id:>6}  {case}" in text
    assert "身份核查与寻亲" in text and "市公安局" in text
    assert "r2.identity" not in text and " psb " not in text
    rows = json.loads(protect("tasks", "--case", case, "--json").output)
    assert (rows[0]["step"], rows[0]["owner"]) == ("r2.identity", "psb")
    assert (rows[0]["step_name"], rows[0]["owner_name"]) == ("身份核查与寻亲", "市公安局")

    with db() as session:
        tasks.complete_task(session=session, task_id=task_id, agency="psb",
                            form={"outcome": "family_not_found"}, actor="agency:psb",
                            now=clock.now())
    history = protect("history", "--case", case).output
    events = history.split("events:\n", 1)[1]
    assert "市公安局 完成 身份核查与寻亲：查找不到亲属" in events
    assert "{" not in events and "task.completed" not in events
    data = json.loads(protect("history", "--case", case, "--json").output)
    done = next(e for e in data["events"] if e["action"] == "task.completed")
    assert done["detail"]["decision"]["outcome"] == "family_not_found"
