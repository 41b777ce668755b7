"""Run our deployments' flow runs inside one long-lived process, as soon as Prefect schedules them.

Prefect's served runner starts a new Python process for every flow run it picks up, and a
procedure's flow run is picked up again after every human step: each resume paid for a process
start and Prefect's import (about 1.3 s here) on top of the runner's poll. Our flows are async
and their steps are short, so this executor runs them as asyncio tasks in the serving process,
with Prefect's own flow engine (`prefect.flow_engine.run_flow`, what the runner's child process
runs). It claims a run the way the runner does, by proposing Pending: a run is executed by one
executor even when several serve the same deployments.

It hears of a run the moment Prefect schedules it: Prefect's event stream (the websocket the UI
uses) pushes each state change of our deployments' runs, and a run that turned Scheduled and
is due is taken at once. The poll stays, slower, for anything the stream missed, and fast
again whenever the stream is down.

What is kept from the runner: the deployments are the same (`flow.to_deployment`), so the
Prefect UI, `run_deployment`, schedules and suspensions behave as before. What is given up:
a crash of this process takes its in-flight runs with it (Prefect then marks them crashed, as
for a killed runner); code changes need a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

log = logging.getLogger("protect.executor")
RESULT_BLOCK = "protect-results"
POLL_S = 0.25  # how often to ask Prefect for due runs while its event stream is down
RELISTEN_S = 5.0  # after the event stream was lost: connect again this much later
DUE_WITHIN = timedelta(seconds=1)  # a scheduled run is taken this early, as by the poll
COMMIT_WAIT = timedelta(seconds=1)  # an announced state may take this long to be readable
# The names a state of type SCHEDULED gets: a new run, a resumed one, a late one, a retry,
# one waiting for a concurrency slot, one the sweep recovers after a crash (app/adapters/
# prefect.py). Only these events are streamed to an executor, not every state change of every
# run (Pending, Running, Suspended…), which each executor would otherwise receive and drop; a
# Scheduled state under another name is left to the poll.
SCHEDULED_NAMES = ("Scheduled", "Resuming", "Late", "AwaitingRetry", "AwaitingConcurrencySlot",
                   "Recovering")
# Several executors: the work pool they answer the roll call in (created by the cluster's deploy
# step; without it an executor serves alone), how often, and how long a run that another
# executor was chosen for may stay due before this one takes it anyway (that one is busy, or
# gone and not yet missed).
ROLL_CALL_POOL = "protect-executors"
ROLL_CALL_S = 10.0
TAKE_OVER_AFTER = timedelta(seconds=3)
# A run whose execution failed with Prefect unreachable (`_settle`): how often, and how many
# times, to try to mark it crashed.
SETTLE_RETRY_S = 5.0
SETTLE_TRIES = 60
STOP_GRACE_S = 2.5  # on `stop()`: the runs under way may reach their suspension this long


class Executor:
    """Takes each due run of our deployments, announced by Prefect's event stream or found by
    polling, and runs it in this process."""

    def __init__(self, deployments: list[tuple[Any, Any]], *, poll_s: float = POLL_S,
                 listening_poll_s: float = 2.0, dispatch_s: float = 0.2,
                 concurrency: int = 64, events_api_url: str | None = None) -> None:
        self.dispatch_s = dispatch_s
        self.dispatch_workers = max(1, concurrency)
        self.deployments = deployments  # (RunnerDeployment, the flow it runs)
        self.poll_s = poll_s  # while the event stream is down
        self.listening_poll_s = listening_poll_s  # while it is up: only for what it missed
        self.events_api_url = events_api_url  # default: Prefect's API (PREFECT_API_URL)
        self.listening = asyncio.Event()
        # Scheduled again while still executing here: when the event said so.
        self.announced: dict[UUID, datetime] = {}
        self.flows: dict[UUID, Any] = {}
        self.active: dict[UUID, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(concurrency)
        self.stopping = asyncio.Event()
        self.stopped_promptly = False  # by `stop()`, not by setting `stopping`
        self.settling: set[asyncio.Task[None]] = set()  # `_settle`: failed runs to mark
        # The roll call: this executor's name, and the executors that answered it lately
        # (none: this one serves alone).
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.peers: list[str] = []
        self.next_roll_call = 0.0  # monotonic; inf once there is no roll-call pool
        self.main: asyncio.Task[None] | None = None

    async def register(self) -> None:
        """Create or update every deployment in Prefect; remember which flow runs which."""
        for deployment, flow in self.deployments:
            self.flows[await deployment.aapply()] = flow
        log.info("serving %d deployments in-process", len(self.flows))

    async def run(self) -> None:
        from prefect.settings import PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK, temporary_settings

        self.main = asyncio.current_task()
        try:
            drop_suspension_observer()
            block = await self._result_storage_block()
            with temporary_settings({PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK: block}):
                await self._run()
        except asyncio.CancelledError:
            if not self.stopped_promptly:
                raise
            if self.main is not None:
                self.main.uncancel()  # stopped as asked: a normal end

    def stop(self) -> None:
        """Stop promptly; on the event loop's thread (`loop.call_soon_threadsafe`).

        Whatever the executor awaits is cancelled at once (a poll of a Prefect that no longer
        answers would otherwise retry for a minute); the runs under way get `STOP_GRACE_S` to
        reach their next suspension, as a step normally does within a second, then are
        cancelled too (Prefect marks them crashed; the sweep starts them again).
        """
        if self.stopped_promptly:
            return
        self.stopped_promptly = True
        self.stopping.set()
        if self.main is not None:
            self.main.cancel()

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
            listener = asyncio.create_task(self._listen(client))
            try:
                while not self.stopping.is_set():
                    await self._roll_call(client)
                    try:
                        runs = await client.get_scheduled_flow_runs_for_deployments(
                            deployment_ids=list(self.flows),
                            scheduled_before=datetime.now(UTC) + DUE_WITHIN)
                    except Exception as exc:  # noqa: BLE001 - Prefect may be restarting
                        log.warning("could not poll Prefect: %s", type(exc).__name__)
                        runs = []
                    for fr in runs:
                        if fr.id not in self.active and (self._mine(fr.id)
                                                         or self._overdue(fr)):
                            self.active[fr.id] = asyncio.create_task(self._execute(client, fr))
                    every = self.listening_poll_s if self.listening.is_set() else self.poll_s
                    try:
                        await asyncio.wait_for(self.stopping.wait(), every)
                    except TimeoutError:
                        pass
            finally:
                listener.cancel()
                dispatcher.cancel()
                await self._wind_down(listener, dispatcher)

    async def _wind_down(self, *helpers: asyncio.Task[None]) -> None:
        """Wait for the runs under way and the (cancelled) helper tasks; after `stop()`, for
        `STOP_GRACE_S`, then cancel the runs left and give them a second."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_S if self.stopped_promptly else None
        while pending := [t for t in (*helpers, *self.active.values()) if not t.done()]:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=1)
                return
            await asyncio.wait(pending, timeout=left)

    async def _listen(self, client: Any) -> None:
        """Take each of our deployments' runs as soon as Prefect's event stream says it was
        scheduled (started, resumed, retried), instead of at the next poll.

        Prefect's event stream is the websocket its UI listens on; the filter keeps it to our
        deployments' flow runs turning Scheduled (`SCHEDULED_NAMES`). While it is down the
        poll goes fast again (`poll_s`), and it is connected again every `RELISTEN_S`: no run
        depends on it.
        """
        from prefect.events.clients import PrefectEventSubscriber
        from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

        which = EventFilter(event=EventNameFilter(
                                name=[f"prefect.flow-run.{n}" for n in SCHEDULED_NAMES]),
                            related=EventRelatedFilter(
                                id=[f"prefect.deployment.{d}" for d in self.flows],
                                role=["deployment"]))
        lost = False
        while not self.stopping.is_set():
            try:
                async with PrefectEventSubscriber(api_url=self.events_api_url, filter=which,
                                                  reconnection_attempts=2) as events:
                    self.listening.set()
                    if lost:
                        log.info("Prefect's event stream is back: polling every %.2f s",
                                 self.listening_poll_s)
                    lost = False
                    async for event in events:
                        self._on_event(client, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Prefect restarting, or no websockets
                if not lost:
                    log.warning("no event stream from Prefect (%s): polling every %.2f s",
                                type(exc).__name__, self.poll_s)
                lost = True
            finally:
                self.listening.clear()
            try:
                await asyncio.wait_for(self.stopping.wait(), RELISTEN_S)
            except TimeoutError:
                pass

    def _on_event(self, client: Any, event: Any) -> None:
        """A run of ours turned Scheduled: take it if it is this executor's (`_mine`), unless
        this process already has it."""
        state = (event.payload or {}).get("validated_state") or {}
        if state.get("type") != "SCHEDULED":
            return
        deployment = next((r.id.rsplit(".", 1)[1] for r in event.related
                           if r.role == "deployment"), None)
        try:
            run_id, deployment_id = UUID(event.resource.id.rsplit(".", 1)[1]), UUID(deployment)
        except (TypeError, ValueError):
            return
        if deployment_id not in self.flows:
            return
        if run_id in self.active:  # its last execution is still winding down
            self.announced[run_id] = event.occurred
        elif self._mine(run_id):  # another executor's is taken by the poll if it stays due
            self.active[run_id] = asyncio.create_task(self._take(client, run_id,
                                                                 event.occurred))

    async def _roll_call(self, client: Any) -> None:
        """Answer the executors' roll call, and read who else answered it (every ROLL_CALL_S).

        Every executor hears of every run, and all but one would read it and propose Pending
        in vain: with N executors, 2(N-1) wasted calls to Prefect per execution. So each run is
        for one executor, the same for all (`_mine`), and the others leave it to their poll
        (`_overdue`). The roll call is Prefect's own register of workers: each executor
        heartbeats as a worker of `ROLL_CALL_POOL`, so the UI lists them; one that stopped
        answering (3 rounds) is no longer chosen. Without that pool (`protect serve`, one
        process) this executor serves alone and never asks again.
        """
        if time.monotonic() < self.next_roll_call:
            return
        self.next_roll_call = time.monotonic() + ROLL_CALL_S
        from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

        try:
            await client.send_worker_heartbeat(ROLL_CALL_POOL, self.name,
                                               heartbeat_interval_seconds=ROLL_CALL_S)
            workers = await client.read_workers_for_work_pool(ROLL_CALL_POOL)
        except (ObjectNotFound, PrefectHTTPStatusError) as exc:
            if isinstance(exc, ObjectNotFound) or exc.response.status_code == 404:
                self.peers, self.next_roll_call = [], float("inf")
                return
            log.warning("roll call failed: %s", type(exc).__name__)
            return
        except Exception as exc:  # noqa: BLE001 - Prefect may be restarting: keep the last
            log.warning("roll call failed: %s", type(exc).__name__)
            return
        since = datetime.now(UTC) - 3 * timedelta(seconds=ROLL_CALL_S)
        peers = sorted({w.name for w in workers
                        if w.last_heartbeat_time and w.last_heartbeat_time > since} | {self.name})
        if peers != self.peers:
            log.info("executors answering the roll call: %d", len(peers))
        self.peers = peers

    def _mine(self, run_id: UUID) -> bool:
        """Whether this executor is the one for `run_id`: rendezvous hashing over the roll
        call, so each run has one executor, and a change of executors moves only theirs."""
        if len(self.peers) < 2:
            return True

        def weight(peer: str) -> bytes:
            return hashlib.blake2b(f"{run_id}/{peer}".encode(), digest_size=8).digest()

        return max(self.peers, key=weight) == self.name

    @staticmethod
    def _overdue(flow_run: Any) -> bool:
        """Due for longer than TAKE_OVER_AFTER: its executor has not taken it."""
        state = flow_run.state
        when = (state.state_details.scheduled_time if state is not None else None) \
            or flow_run.expected_start_time
        return when is None or when < datetime.now(UTC) - TAKE_OVER_AFTER

    async def _take(self, client: Any, run_id: UUID, announced_at: datetime) -> None:
        """Execute a run the event stream announced, if it is due now.

        Prefect announces the state before its transaction commits, so just after the event
        the run may still read as it was (or not be found yet, for a new run): it is read
        again for up to `COMMIT_WAIT`. A run scheduled for later is left to the poll, which
        takes it when it is due.
        """
        from prefect.exceptions import ObjectNotFound

        try:
            while True:
                try:
                    fr = await client.read_flow_run(run_id)
                except ObjectNotFound:
                    fr = None
                state = fr.state if fr is not None else None
                if state is not None and state.is_scheduled():
                    when = state.state_details.scheduled_time
                    if when is None or when <= datetime.now(UTC) + DUE_WITHIN:
                        self.active[run_id] = asyncio.create_task(self._execute(client, fr))
                        return
                    break  # due later: the poll takes it then
                if state is not None and not state.is_paused():
                    break  # taken already (Pending, Running), or over
                if datetime.now(UTC) - announced_at > COMMIT_WAIT:
                    break  # suspended again since, or never committed
                await asyncio.sleep(0.05)
        except Exception:  # noqa: BLE001 - the poll takes it instead
            log.debug("could not take flow run %s", run_id, exc_info=True)
        self._done(client, run_id)

    async def _dispatch_loop(self) -> None:
        """Deliver due resumes and starts continuously, not only at the next sweep.

        An agency can complete a step, or the sweep fire a timer, in the instant between the
        flow opening it and the flow suspending; such a resume waits ("not yet") and is retried
        here within a second instead of a minute later by the scheduled sweep.
        """
        from app.runtime.dispatcher import Dispatcher

        dispatcher = Dispatcher(workers=self.dispatch_workers, kinds=("resume", "start"))
        failing = False  # said once per outage, not five times a second
        try:
            while not self.stopping.is_set():
                try:
                    await asyncio.to_thread(dispatcher.poll)
                    if failing:
                        log.warning("dispatch works again")
                        failing = False
                except Exception as exc:  # noqa: BLE001 - the case store may be restarting
                    if not failing:
                        log.warning("dispatch failed: %s; retrying every %.1f s",
                                    type(exc).__name__, self.dispatch_s)
                        failing = True
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
                except (Abort, Pause):
                    # Another executor or runner took it: it is Pending or Running there,
                    # or already suspended again (Pause: Prefect's refusal from Paused).
                    return
                if not state.is_pending():
                    return
                flow = self.flows[flow_run.deployment_id]
                # The engine reads the run again before the flow's code runs; until then it
                # needs only the state it is in, as its own `set_state` records it.
                flow_run.state, flow_run.state_name, flow_run.state_type = (
                    state, state.name, state.type)
                try:
                    if flow.isasync:
                        await run_flow(flow, flow_run=flow_run)
                    else:  # a synchronous flow would block every other run: give it a thread
                        await asyncio.to_thread(run_flow, flow, flow_run=flow_run)
                except (Pause, Abort):
                    pass  # suspended (the normal end of a human step) or aborted by Prefect
                except Exception:  # noqa: BLE001 - the engine has recorded the failure
                    log.exception("flow run %s ended with an error", flow_run.id)
                    self._settle_later(client, flow_run.id)
        except Exception:  # noqa: BLE001 - keep serving the others
            log.exception("could not execute flow run %s", flow_run.id)
            self._settle_later(client, flow_run.id)
        finally:
            self._done(client, flow_run.id)

    def _settle_later(self, client: Any, run_id: UUID) -> None:
        """`_settle` the run in a task of its own, which holds no slot while it waits."""
        task = asyncio.create_task(self._settle(client, run_id, datetime.now(UTC)))
        self.settling.add(task)
        task.add_done_callback(self.settling.discard)

    async def _settle(self, client: Any, run_id: UUID, failed_at: datetime) -> None:
        """Mark Crashed a run whose execution here failed while Prefect could not record it.

        When Prefect's API fails under the engine (its database restarting, say), the engine
        can record neither the run's end nor a crash: the run stays Pending or Running with no
        process behind it, and, its heartbeats never started, Prefect's zombie check may not
        see it either. So once Prefect answers again, a run still in the state it was left in
        (no newer state: nobody took it up since) is marked Crashed, and the sweep reschedules
        it like any crashed run. A run the engine did end (Failed, say) is left as it is.
        """
        from prefect.states import Crashed

        for _ in range(SETTLE_TRIES):
            try:
                state = (await client.read_flow_run(run_id)).state
                if state is None or not (state.is_running() or state.is_pending()) \
                        or state.timestamp > failed_at:
                    return
                await client.set_flow_run_state(run_id, Crashed(
                    message="its execution failed while Prefect could not record it"))
                log.warning("flow run %s marked crashed: its execution here failed", run_id)
                return
            except Exception:  # noqa: BLE001 - Prefect still unreachable: try again
                try:
                    await asyncio.wait_for(self.stopping.wait(), SETTLE_RETRY_S)
                    return
                except TimeoutError:
                    pass

    def _done(self, client: Any, run_id: UUID) -> None:
        """The run's execution here is over; if it was announced again meanwhile (resumed
        while its last execution was still winding down), look at it again now."""
        self.active.pop(run_id, None)
        announced_at = self.announced.pop(run_id, None)
        if announced_at is not None and not self.stopping.is_set():
            self.active[run_id] = asyncio.create_task(self._take(client, run_id, announced_at))


@contextmanager
def _no_suspension_observer(*_args: Any, **_kwargs: Any) -> Iterator[None]:
    yield


def drop_suspension_observer() -> None:
    """Execute flow runs in this process without Prefect's per-run suspension observer.

    For every execution of a deployment's run, Prefect 3.9's flow engine starts a thread with
    an event loop and a client of its own, and subscribes to every `prefect.flow-run.Suspended`
    event on the server, with a backfill of the last minute's. It is there to notice a run
    suspended from outside while it executes. Here each execution lasts well under a second and
    ends by suspending itself, and each subscription makes the server replay a minute of
    suspensions: the busier the system, the dearer every step. Measured with B1
    (`--ours-only 40`, SQLite): 3.71 → 6.13 completions/s, Prefect's server 231 → 139 ms of CPU
    per flow-run cycle. What is given up: a run suspended from the UI or the API during its
    sub-second execution finishes that execution first (its next state change is refused).

    This is no Prefect setting: it replaces the engine's hook, `observe_flow_run_suspension`,
    in this process only. A Prefect that no longer has the hook makes this fail loudly
    (tests/flows/test_executor.py), rather than silently executing runs the expensive way.
    """
    import prefect.flow_engine as engine

    if not hasattr(engine, "observe_flow_run_suspension"):
        raise RuntimeError("prefect.flow_engine has no observe_flow_run_suspension: see "
                           "deployments/executor.py, drop_suspension_observer")
    engine.observe_flow_run_suspension = _no_suspension_observer


def leave_sigterm_to_the_process() -> None:
    """Keep Prefect's flow engine from taking SIGTERM while a run executes in this process.

    For as long as each run executes, Prefect 3.9's engine installs a SIGTERM handler that
    raises `TerminationSignal` wherever the main thread is: right in the runner's process per
    run, where SIGTERM means "this run". Here the runs share the process, and its SIGTERM is
    for all of it: `protect up` stops the executor, lets the runs reach their suspension, then
    stops the API and Prefect's server. With the engine's handler in place, a SIGTERM during a
    run raised out of the event loop instead (a traceback; Prefect's server left running).
    A Prefect without the hook makes this fail loudly, as `drop_suspension_observer` does.
    """
    import prefect.flow_engine as engine

    if not hasattr(engine, "capture_sigterm"):
        raise RuntimeError("prefect.flow_engine has no capture_sigterm: see "
                           "deployments/executor.py, leave_sigterm_to_the_process")
    engine.capture_sigterm = nullcontext


def serve_in_process(deployments: list[tuple[Any, Any]], *,
                     on_start: Callable[[Callable[[], None]], None] | None = None) -> None:
    """Block, executing every scheduled or resumed run of `deployments` in this process.

    `on_start`, if given, is handed a function that stops the executor promptly
    (`Executor.stop`), safe to call from a signal handler; this then returns. The caller then
    owns this process's signals (`protect up`): the runs do not take SIGTERM from it.
    """
    from app.config.settings import get_settings

    if on_start is not None:
        leave_sigterm_to_the_process()
    s = get_settings()
    executor = Executor(deployments, listening_poll_s=s.executor_poll_s,
                        concurrency=s.executor_concurrency)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            try:
                loop.call_soon_threadsafe(executor.stop)
            except RuntimeError:  # the loop is closed: the executor is stopped already
                pass

        if on_start is not None:
            on_start(stop)
        await executor.run()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    flush_to_prefect()


def flush_to_prefect(timeout_s: float = 2.0) -> None:
    """Send Prefect the flow runs' last logs and events now, while its server still answers:
    left for the exit, they would be retried for a minute against a server stopped since."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    deadline = time.monotonic() + timeout_s
    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=max(0.0, deadline - time.monotonic()))
