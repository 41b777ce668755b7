"""A run whose execution failed while Prefect could not record it is marked Crashed once Prefect
answers (deployments/executor.py, `_settle`), so the sweep reschedules it; a run taken up again
since is left alone."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from prefect import flow

pytestmark = pytest.mark.flows


@flow(name="settle-probe")
def settle_probe() -> str:
    return "done"


def _state(run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def test_a_run_left_running_by_a_failed_execution_is_marked_crashed(system) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled, Pending, Running

    from deployments.executor import Executor

    deployment_id = settle_probe.to_deployment(name="settled").apply()
    with get_client(sync_client=True) as client:
        left, claimed, moved, waiting = (
            client.create_flow_run_from_deployment(deployment_id) for _ in range(4))
        client.set_flow_run_state(left.id, Running(), force=True)
        client.set_flow_run_state(claimed.id, Pending(), force=True)
        client.set_flow_run_state(moved.id, Running(), force=True)
    failed_at = datetime.now(UTC)  # the executions failed here, their runs as they were
    time.sleep(0.05)
    with get_client(sync_client=True) as client:  # one was taken up again since
        client.set_flow_run_state(moved.id, Running(), force=True)

    async def settle() -> None:
        async with get_client() as client:
            executor = Executor([])
            for run in (left, claimed, moved, waiting):
                await executor._settle(client, run.id, failed_at)

    asyncio.run(settle())
    try:
        assert _state(left.id).is_crashed() and _state(claimed.id).is_crashed()
        assert _state(moved.id).is_running()
        assert _state(waiting.id).is_scheduled()  # never claimed: the poll takes it
    finally:
        with get_client(sync_client=True) as client:
            for run in (left, claimed, moved, waiting):
                client.set_flow_run_state(run.id, Cancelled(), force=True)
