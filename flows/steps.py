"""The building blocks of every procedure: human step, durable timer, check, notify, start.

A flow body calls these in the order of the plan. Each side effect is a Prefect task whose
result is persisted, so when a resumed run replays from the top the task returns its stored
result instead of running again (DESIGN.md, invariant 5). Everything that crosses into Prefect
(parameters, results, run input, logs) is an id, a code, an enum, a date or an amount.

Replay reads the case store first. When a flow run begins, `Procedure.begin` reads, in one
query round, the run's step journal (each finished step's result, written by the step itself)
and the decisions whose resume Prefect has accepted. A finished step then returns its result
without a Prefect task run, and a decided human step its decision without a second
suspension request: on Prefect's SQLite server each of those was a write on every resume,
for every earlier step (docs/decisions.md). A step the journal does not know goes through
Prefect as before, with Prefect's cache behind it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime
from typing import Any, Literal

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import INPUTS, RUN_ID, TASK_SOURCE
from prefect.context import FlowRunContext
from prefect.flow_runs import asuspend_flow_run
from prefect.utilities.hashing import file_hash
from pydantic import BaseModel

from app.adapters import prefect_logging
from app.config.procedures import procedure
from app.services import engine
from app.services.cases import pause_key
from flows.catalog import ProcedureSpec

# A human step's suspension is logged at INFO, not as Prefect's ERROR, in every process that
# executes a procedure: each imports this module first (app/adapters/prefect_logging.py).
prefect_logging.install()

# Same inputs in the same flow run → the stored result; a new run computes afresh.
REPLAY_SAFE = INPUTS + TASK_SOURCE + RUN_ID


class TaskInput(BaseModel):
    """What a human step's resume sends Prefect: which task was done, never its decision.

    The decision stays in the case store (the task's row), where the flow reads it: what an
    agency decided (e.g. J3's offence and measure, sealed afterwards) never reaches Prefect's
    database or UI.
    """

    task_id: int


class TimerInput(BaseModel):
    """What the sweep (or a cancellation) sends when a timer ends."""

    timer_id: int
    outcome: Literal["fired", "cancelled"]
    # When the sweep fired it: its "as of", which `protect sweep --now` may set in the future.
    # Absent from resumes queued before it was sent.
    fired_at: datetime | None = None


def journal_key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A digest of a step's inputs, bar the procedure run (the journal is per run).

    Bound to the operation's signature with its defaults, so that the flow's lookup and
    the step's own write agree however the arguments were passed.
    """
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    params = dict(bound.arguments)
    params.pop(next(iter(params)))  # procedure_run_id
    raw = json.dumps(params, default=str, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _task(name: str, fn: Callable[..., Any]) -> Any:
    """A case-store operation as an async Prefect task whose result is also journaled.

    The work itself is synchronous database I/O: it runs in a worker thread, so that the
    event loop — where many procedures' flow runs proceed at once in the serving process —
    keeps going while one of them waits for the database. `functools.wraps` keeps the
    operation's own signature and source, which Prefect uses for parameters and cache keys.
    """

    def run_and_keep(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = fn(*args, **kwargs)
        engine.journal_put(args[0] if args else kwargs["procedure_run_id"], name,
                           journal_key(fn, args, kwargs), _jsonable(result))
        return result

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(run_and_keep, args, kwargs)

    return task(name=name, cache_policy=REPLAY_SAFE, persist_result=True, retries=2,
                retry_delay_seconds=1)(run)


begin_run = _task("begin", engine.begin_run)
open_task = _task("open-task", engine.open_task)
open_task_after_timer = _task("open-task-after-timer", engine.open_task_after_timer)
open_timer = _task("set-timer", engine.open_timer)
check_record = _task("check-record", engine.check_record)
finish_run = _task("finish", engine.finish_run)
start_child = _task("start-procedure", engine.start_child)
notify = _task("notify", engine.notify)
set_placement = _task("record-placement", engine.set_placement)
placement_date = _task("read-placement-date", engine.placement_date)
family_was_found = _task("check-family-found", engine.family_was_found)
is_school_age = _task("check-school-age", engine.is_school_age)
case_is_open = _task("check-case-open", engine.case_is_open)
seal_record = _task("seal-record", engine.seal_record)
family_found = _task("record-family-found", engine.family_found)
hotline_feedback = _task("hotline-feedback", engine.hotline_feedback)


class Procedure:
    """One running procedure instance, as its flow body sees it."""

    def __init__(self, spec: ProcedureSpec, run_id: int, info: dict[str, Any],
                 replay: dict[str, Any] | None = None) -> None:
        self.spec, self.run_id, self.info = spec, run_id, info
        self.params: dict[str, Any] = info["params"]
        self.log = get_run_logger()
        replay = replay or {}
        self.journal: dict[tuple[str, str], Any] = replay.get("journal", {})
        self.resumed: dict[str, Any] = replay.get("resumed", {})
        # The instant the timer just waited for fired: the next task opened counts its
        # deadline from it (see wait_until). The same on every replay: it comes from the resume.
        self._fired_at: datetime | None = None

    @classmethod
    async def begin(cls, spec: ProcedureSpec, procedure_run_id: int) -> Procedure:
        ctx = FlowRunContext.get()
        assert ctx is not None and ctx.flow_run is not None, "a procedure runs inside a flow run"
        flow_run_id = str(ctx.flow_run.id)
        replay = await asyncio.to_thread(engine.replay_state, procedure_run_id)
        if replay["flow_run_id"] == flow_run_id and replay["status"] != "starting":
            info = replay["info"]  # begun in an earlier execution of this flow run
        else:
            info = await begin_run(procedure_run_id, flow_run_id)
        return cls(spec, procedure_run_id, info, replay)

    async def _step(self, op: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a case-store step, or return its journaled result on a replay."""
        key = (op.name, journal_key(op.fn, (self.run_id, *args), kwargs))
        if key in self.journal:
            return self.journal[key]
        return await op(self.run_id, *args, **kwargs)

    async def human(self, step: str, *, key: str | None = None, owner: str | None = None,
                    correction: bool = False) -> Any:
        """Open the task for `step` and suspend until its agency decides; return the decision.

        The flow's process exits while the agency works; the dispatcher resumes the run with
        the decision, and this call returns it on the replay.
        """
        spec = self.spec.step(step)
        step_key = key or step.split(".", 1)[1].replace("_", "-")
        suspension = pause_key("task", step_key)
        fired_at, self._fired_at = self._fired_at, None
        if fired_at is None:
            task_id = await self._step(open_task, step, step_key, owner, correction)
        else:  # the first step after a timer: its deadline counts from when the timer fired
            task_id = await self._step(open_task_after_timer, step, step_key, owner,
                                       correction, fired_at)
        if suspension in self.resumed:
            return spec.decision.model_validate(self.resumed[suspension])
        self.log.info("waiting for task %s (%s, owner %s)", task_id, step,
                      owner or spec.owner)
        await asuspend_flow_run(wait_for_input=TaskInput, key=suspension)
        self.log.info("task %s decided", task_id)
        return spec.decision.model_validate(
            await asyncio.to_thread(engine.task_decision, self.run_id, int(task_id)))

    async def human_checked(self, step: str, *, context: dict[str, Any],
                            owner: str | None = None, rounds: int = 10) -> Any:
        """A human step whose record is checked again against what the procedure knows.

        The form passed its suite when it was submitted; here the same suite sees the
        procedure's context too (e.g. the admitting hospital). A record that fails opens a
        "correct the data" step for the same owner instead of stopping the case.
        """
        base = step.split(".", 1)[1].replace("_", "-")
        for attempt in range(rounds):
            key = base if attempt == 0 else f"{base}-fix-{attempt}"
            decision = await self.human(step, key=key, owner=owner, correction=attempt > 0)
            problems = await self._step(check_record, key, context)
            if not problems:
                return decision
            await self.notify(owner or self.spec.step(step).owner or "center",
                              "record.correction_needed", key=f"{key}-refused", step=step,
                              problems=problems)
        raise RuntimeError(f"{step}: the record was still refused after {rounds} corrections")

    async def wait_until(self, key: str, due_at: datetime) -> str:
        """A durable timer: suspend until the sweep fires it or it is cancelled."""
        suspension = pause_key("timer", key)
        self._fired_at = None
        timer_id = await self._step(open_timer, key, due_at)
        if suspension in self.resumed:
            result = TimerInput.model_validate(self.resumed[suspension])
        else:
            self.log.info("timer %s (%s) set for %s", timer_id, key, due_at.date().isoformat())
            result = await asuspend_flow_run(wait_for_input=TimerInput, key=suspension)
            self.log.info("timer %s %s", timer_id, result.outcome)
        if result.outcome == "fired":
            # A sweep "as of" a later instant (`protect sweep --now`) fired it: the step that
            # follows opens then, so that a long scenario can be driven from the command line.
            self._fired_at = result.fired_at
        return str(result.outcome)

    async def start(self, code: str, *, key: str, params: dict[str, Any] | None = None) -> int:
        """Start another procedure for the same case: a separate flow run, linked by the case."""
        child = await self._step(start_child, code, key, params or {})
        self.log.info("%s is procedure run %s", code, child)
        return int(child)

    async def notify(self, agency: str, event: str, *, key: str, **data: Any) -> None:
        await self._step(notify, agency, event, key, **data)

    async def record_placement(self, placed_on: date) -> None:
        await self._step(set_placement, placed_on)

    async def placement_date(self) -> date | None:
        value = await self._step(placement_date)
        return date.fromisoformat(value) if isinstance(value, str) else value

    async def family_was_found(self) -> bool:
        return bool(await self._step(family_was_found))

    async def is_school_age(self, on: date, ages: tuple[int, int]) -> bool:
        return bool(await self._step(is_school_age, on, ages))

    async def case_is_open(self, key: str) -> bool:
        """Whether the case is still open, asked once per `key` (a replay gets the same answer)."""
        return bool(await self._step(case_is_open, key))

    async def family_found(self) -> None:
        """Record on the case that the family is found: its waiting clocks (J2) stop."""
        await self._step(family_found)

    async def seal_record(self, step_key: str) -> int:
        """Seal the criminal record named by the step `step_key` (J3); the sealed record's id."""
        return int(await self._step(seal_record, step_key))

    async def feedback(self, event: str) -> None:
        """Feed this step's result back to the hotline platform (S1), through the outbox."""
        await self._step(hotline_feedback, event)

    async def finish(self, outcome: str) -> str:
        await self._step(finish_run, outcome)
        self.log.info("procedure finished: %s", outcome)
        return outcome


def morning(day: date) -> datetime:
    """09:00 Beijing time on `day`."""
    return engine.local_morning(day)


def on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Record in the case store that the procedure failed (the flow run holds the why).

    A crash is the machine's, not the procedure's (a killed worker, a lost process): the run
    stays active and the sweep reschedules it (app/runtime/sweep.py:recover_crashed_runs).
    """
    if state is not None and state.is_crashed():
        return
    run_id = (flow_run.parameters or {}).get("procedure_run_id")
    if run_id is not None:
        engine.finish_run(int(run_id), "failed", status="failed")


def procedure_flow(spec: ProcedureSpec) -> Callable[[Callable[[Procedure], Awaitable[str]]],
                                                    Flow[[int], Coroutine[Any, Any, str]]]:
    """Make a flow body the Prefect flow of the procedure `spec`.

    The flow takes one parameter, `procedure_run_id` (what the deployments and the dispatcher
    pass): it begins the procedure with the operator's settings applied and hands the body its
    `Procedure`; what the body returns is the outcome. The flow keeps the body's name, module
    and docstring — its description in Prefect, whose `Args:` describe `procedure_run_id` — and
    its version is the hash of the body's file, as for any flow. A failed run is recorded in
    the case store (`on_failure`).
    """

    def decorate(body: Callable[[Procedure], Awaitable[str]]
                 ) -> Flow[[int], Coroutine[Any, Any, str]]:
        async def run(procedure_run_id: int) -> str:
            p = await Procedure.begin(procedure(spec.code), procedure_run_id)
            return await body(p)

        run.__module__, run.__name__ = body.__module__, body.__name__
        run.__qualname__, run.__doc__ = body.__qualname__, body.__doc__
        source = inspect.getsourcefile(body)
        return flow(run, name=spec.flow_name, version=file_hash(source) if source else None,
                    persist_result=True, on_failure=[on_failure], on_crashed=[on_failure])

    return decorate
