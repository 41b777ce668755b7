"""Run our deployments' flow runs inside one long-lived process, as soon as Prefect schedules them.

Prefect's served runner starts a new Python process for every flow run it picks up, and a
procedure's flow run is picked up again after every human step: each resume paid for a process
start and Prefect's import (about 1.3 s here) on top of the runner's poll. Our flows are async
and their steps are short, so this executor runs them as asyncio tasks in the serving process,
with Prefect's own flow engine (`prefect.flow_engine.run_flow`, what the runner's child process
runs). It claims a run the way the runner does, by proposing Pending: a run is executed by one
executor even when several serve the same deployments.

What is kept from the runner: the deployments are the same (`flow.to_deployment`), so the
Prefect UI, `run_deployment`, schedules and suspensions behave as before. What is given up:
a crash of this process takes its in-flight runs with it (Prefect then marks them crashed, as
for a killed runner); code changes need a restart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

log = logging.getLogger("protect.executor")
RESULT_BLOCK = "protect-results"


class Executor:
    """Polls Prefect for scheduled runs of our deployments and runs each in this process."""

    def __init__(self, deployments: list[tuple[Any, Any]], *, poll_s: float = 0.25,
                 dispatch_s: float = 0.2, concurrency: int = 64) -> None:
        self.dispatch_s = dispatch_s
        self.dispatch_workers = max(1, concurrency)
        self.deployments = deployments  # (RunnerDeployment, the flow it runs)
        self.poll_s = poll_s
        self.flows: dict[UUID, Any] = {}
        self.active: dict[UUID, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(concurrency)
        self.stopping = asyncio.Event()

    async def register(self) -> None:
        """Create or update every deployment in Prefect; remember which flow runs which."""
        for deployment, flow in self.deployments:
            self.flows[await deployment.aapply()] = flow
        log.info("serving %d deployments in-process", len(self.flows))

    async def run(self) -> None:
        from prefect.settings import PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK, temporary_settings

        block = await self._result_storage_block()
        with temporary_settings({PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK: block}):
            await self._run()

    @staticmethod
    async def _result_storage_block() -> str:
        """Save Prefect's local result storage as a named block; its slug.

        Without a default storage block in the settings, Prefect asks the server for its
        default before every flow run, on a new synchronous client, from the event loop
        that all the runs share. Named, the storage is resolved once per process. It is
        the same folder as before (PREFECT_LOCAL_STORAGE_PATH), so stored results still
        resolve.
        """
        from prefect.filesystems import LocalFileSystem
        from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

        block = LocalFileSystem(basepath=str(PREFECT_LOCAL_STORAGE_PATH.value()))
        await block.asave(RESULT_BLOCK, overwrite=True)
        return f"local-file-system/{RESULT_BLOCK}"

    async def _run(self) -> None:
        from prefect.context import AsyncClientContext

        await self.register()
        print("Your deployments are being served and polling for scheduled runs!", flush=True)
        dispatcher = asyncio.create_task(self._dispatch_loop())
        # One client for the executor and every flow run it executes: Prefect's engine takes
        # the client of the current AsyncClientContext when there is one, where it would
        # otherwise build a new client (an SSL context and a connection) for every run.
        async with AsyncClientContext() as ctx:
            client = ctx.client
            while not self.stopping.is_set():
                try:
                    runs = await client.get_scheduled_flow_runs_for_deployments(
                        deployment_ids=list(self.flows),
                        scheduled_before=datetime.now(UTC) + timedelta(seconds=1))
                except Exception as exc:  # noqa: BLE001 - Prefect may be restarting
                    log.warning("could not poll Prefect: %s", type(exc).__name__)
                    runs = []
                for fr in runs:
                    if fr.id not in self.active:
                        self.active[fr.id] = asyncio.create_task(self._execute(client, fr))
                try:
                    await asyncio.wait_for(self.stopping.wait(), self.poll_s)
                except TimeoutError:
                    pass
        dispatcher.cancel()
        if self.active:
            await asyncio.gather(*self.active.values(), return_exceptions=True)

    async def _dispatch_loop(self) -> None:
        """Deliver due resumes and starts continuously, not only at the next sweep.

        An agency can complete a step, or the sweep fire a timer, in the instant between the
        flow opening it and the flow suspending; such a resume waits ("not yet") and is retried
        here within a second instead of a minute later by the scheduled sweep.
        """
        from app.dispatch import Dispatcher

        dispatcher = Dispatcher(workers=self.dispatch_workers, kinds=("resume", "start"))
        try:
            while not self.stopping.is_set():
                try:
                    await asyncio.to_thread(dispatcher.poll)
                except Exception as exc:  # noqa: BLE001 - the case store may be restarting
                    log.warning("dispatch failed: %s", type(exc).__name__)
                try:
                    await asyncio.wait_for(self.stopping.wait(), self.dispatch_s)
                except TimeoutError:
                    pass
        finally:
            await asyncio.to_thread(dispatcher.close)

    async def _execute(self, client: Any, flow_run: Any) -> None:
        from prefect.exceptions import Abort, Pause
        from prefect.flow_engine import run_flow
        from prefect.states import Pending
        from prefect.utilities.engine import propose_state

        try:
            async with self.slots:
                try:
                    state = await propose_state(client, Pending(), flow_run_id=flow_run.id)
                except Abort:
                    return  # another executor or runner took it
                if not state.is_pending():
                    return
                flow = self.flows[flow_run.deployment_id]
                run = await client.read_flow_run(flow_run.id)
                try:
                    if flow.isasync:
                        await run_flow(flow, flow_run=run)
                    else:  # a synchronous flow would block every other run: give it a thread
                        await asyncio.to_thread(run_flow, flow, flow_run=run)
                except (Pause, Abort):
                    pass  # suspended (the normal end of a human step) or aborted by Prefect
                except Exception:  # noqa: BLE001 - the engine has recorded the failure
                    log.exception("flow run %s ended with an error", flow_run.id)
        except Exception:  # noqa: BLE001 - keep serving the others
            log.exception("could not execute flow run %s", flow_run.id)
        finally:
            self.active.pop(flow_run.id, None)


def serve_in_process(deployments: list[tuple[Any, Any]], *, poll_s: float = 0.25) -> None:
    """Block, executing every scheduled or resumed run of `deployments` in this process."""
    from app.settings import get_settings

    executor = Executor(deployments, poll_s=poll_s,
                        concurrency=get_settings().executor_concurrency)
    try:
        asyncio.run(executor.run())
    except KeyboardInterrupt:
        pass
