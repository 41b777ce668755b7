"""The in-process executor hears of a run from Prefect's event stream, and polls without it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect import flow
from prefect.flow_runs import suspend_flow_run

from tests.conftest import free_port
from tests.helpers import wait_for

pytestmark = pytest.mark.flows

# Far longer than any wait below: a run taken within them was not found by the poll.
SLOW_POLL_S = 300.0


@flow(name="executor-probe")
def probe(suspend: bool = False) -> str:
    if suspend:
        suspend_flow_run(timeout=600, key="probe")
    return "done"


@flow(name="executor-probe")
async def async_probe() -> str:
    return "done"


@contextmanager
def executing(name: str, fn: Any = probe, **options: Any) -> Iterator[Any]:
    """An Executor serving `fn` (`probe`) as deployment `name`, on a thread of its own."""
    import prefect.flow_engine

    from deployments.executor import Executor

    observer = prefect.flow_engine.observe_flow_run_suspension  # the executor replaces it
    executor = Executor([(fn.to_deployment(name=name), fn)], concurrency=2, **options)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(executor.run(),),
                              daemon=True)
    thread.start()
    try:
        wait_for(lambda: executor.flows, timeout=60, what="the probe deployment")
        yield executor
    finally:
        from prefect.logging.handlers import APILogWorker

        loop.call_soon_threadsafe(executor.stopping.set)
        thread.join(timeout=60)
        if not thread.is_alive():
            loop.close()
        prefect.flow_engine.observe_flow_run_suspension = observer
        APILogWorker.drain_all(timeout=5)  # the probe's logs, while Prefect's server is up


def _state(run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def _start(name: str, **options: Any) -> Any:
    from prefect.deployments import run_deployment

    return run_deployment(f"executor-probe/{name}", timeout=0, **options).id


def test_a_run_is_taken_when_prefect_announces_it_not_at_the_next_poll(system) -> None:
    from prefect.client.orchestration import get_client

    with executing("pushed", listening_poll_s=SLOW_POLL_S) as executor:
        wait_for(executor.listening.is_set, timeout=60, what="the event stream")
        run_id = _start("pushed", parameters={"suspend": True})
        wait_for(lambda: _state(run_id).is_paused(), timeout=30, what="the run to suspend")
        with get_client(sync_client=True) as client:
            client.resume_flow_run(run_id)
        wait_for(lambda: _state(run_id).is_completed(), timeout=30,
                 what="the resumed run to be taken and finish")


def test_a_run_scheduled_for_later_waits_for_its_time(system) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    with executing("later", listening_poll_s=SLOW_POLL_S) as executor:
        wait_for(executor.listening.is_set, timeout=60, what="the event stream")
        later = _start("later", scheduled_time=datetime.now(UTC) + timedelta(minutes=10))
        now = _start("later")  # announced after the first: once it ran, the first was heard
        wait_for(lambda: _state(now).is_completed(), timeout=30, what="the due run")
        assert _state(later).is_scheduled()
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(later, Cancelled(), force=True)


def test_without_prefects_event_stream_the_executor_polls_often(system) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    with executing("polled", listening_poll_s=SLOW_POLL_S, events_api_url=dead) as executor:
        run_id = _start("polled")
        wait_for(lambda: _state(run_id).is_completed(), timeout=30, what="the polled run")
        assert not executor.listening.is_set()


def test_a_run_executed_here_opens_no_event_subscription_of_its_own(system, monkeypatch) -> None:
    """Prefect's engine would subscribe to every suspension on the server for each execution
    (deployments/executor.py, `drop_suspension_observer`)."""
    import prefect._internal.observers as observers

    subscribed: list[Any] = []
    real = observers.get_events_subscriber

    def counting(*args: Any, **kwargs: Any) -> Any:
        subscribed.append(kwargs.get("filter"))
        return real(*args, **kwargs)

    monkeypatch.setattr(observers, "get_events_subscriber", counting)
    with executing("quiet"):
        run_id = _start("quiet", parameters={"suspend": True})
        wait_for(lambda: _state(run_id).is_paused(), timeout=30, what="the run to suspend")
    assert subscribed == []


def test_an_execution_reads_its_run_from_prefect_once(system, monkeypatch) -> None:
    """The engine reads the run before the flow's code runs; the executor does not read it
    again after taking it (each read is a request to Prefect's server, for every step).
    Our procedures are async flows, executed on the executor's own client."""
    from prefect.client.orchestration import PrefectClient

    reads: list[Any] = []
    real = PrefectClient.read_flow_run

    async def counting(self: Any, flow_run_id: Any) -> Any:
        reads.append(flow_run_id)
        return await real(self, flow_run_id)

    monkeypatch.setattr(PrefectClient, "read_flow_run", counting)
    dead = f"http://127.0.0.1:{free_port()}/api"  # taken by the poll: no read on an event
    with executing("once", async_probe, poll_s=0.2, events_api_url=dead):
        run_id = _start("once")
        wait_for(lambda: _state(run_id).is_completed(), timeout=30, what="the polled run")
    assert reads.count(run_id) == 1


def test_a_start_asks_prefect_for_no_csrf_token(system, monkeypatch) -> None:
    """Prefect's server takes no CSRF token unless told to; a client that supports them asks
    for one before its first write, and `run_deployment` builds a new client for each start
    (app/config/settings.py, `configure_prefect_env`)."""
    import httpx

    paths: list[str] = []
    real = httpx.Client.send

    def recording(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        paths.append(request.url.path)
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", recording)
    with executing("tokenless", poll_s=0.2):
        run_id = _start("tokenless")
        wait_for(lambda: _state(run_id).is_completed(), timeout=30, what="the started run")
    assert any(p.endswith("/create_flow_run") for p in paths)
    assert not [p for p in paths if p.endswith("/csrf-token")]
