"""The API as `protect up` serves it: uvicorn on its own port, beside the real Prefect server
and runner. A task completed over HTTP resumes its procedure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import LOGS, free_port
from tests.helpers import flow_state, open_and_start_over_http, open_task, wait_for


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def api_url(store: str, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    """A real uvicorn server on a free port (app/runtime/local.py:ApiServer), logging under LOGS."""
    from app.config.settings import get_settings
    from app.runtime.local import ApiServer

    monkeypatch_module.setenv("PROTECT_API_PORT", str(free_port()))
    get_settings.cache_clear()
    server = ApiServer(LOGS / "api.log")
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        get_settings.cache_clear()


@pytest.mark.flows
def test_a_case_opened_and_a_task_completed_over_http_resume_the_procedure(
        system: Any, api_url: str, login: Any) -> None:
    api = f"{api_url}/api/v1"
    coordinator = login("center", "coordinator")
    center_worker = login("center", "worker")
    police = login("psb", "worker")

    case, run = open_and_start_over_http(api, coordinator)

    task = open_task(case, "r2.outreach")
    inbox = requests.get(f"{api}/tasks", params={"case": case}, headers=center_worker,
                         timeout=30).json()
    assert [t["id"] for t in inbox] == [task.id]
    assert requests.get(f"{api}/tasks", params={"case": case}, headers=police,
                        timeout=30).json() == []

    r = requests.post(f"{api}/tasks/{task.id}/complete",
                      json={"outcome": "accepted", "location": "测试路口"},
                      headers=center_worker, timeout=60)
    assert r.status_code == 200, r.text
    nxt = open_task(case, "r2.intake")
    assert nxt.procedure_run_id == run
    wait_for(lambda: flow_state(run) == "Suspended", what="the run to suspend on r2.intake")

    runs = requests.get(f"{api}/cases/{case}/procedures", headers=coordinator, timeout=30)
    assert [x["code"] for x in runs.json()] == ["R2"] and runs.json()[0]["flow_run_id"]
    timeline = requests.get(f"{api}/cases/{case}/timeline", headers=coordinator,
                            timeout=60).json()
    actions = [e["action"] for e in timeline["events"]]
    assert {"case.opened", "procedure.started", "task.completed"} <= set(actions)
    assert timeline["flow_runs"] and timeline["flow_runs"][0]["name"].startswith(case)
