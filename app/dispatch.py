"""Delivering the outbox: start runs and resume runs in Prefect, notify agencies by webhook
and in their group chats (app/robots.py), feed results back to the hotline platform.

Every message is claimed with a compare-and-set before delivery, so two dispatchers (two
sweeps, a sweep and a completion) never deliver the same message at once; each delivery is
itself idempotent, so a message delivered but not yet marked is harmless to deliver again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from app import audit, clock
from app.notify import DeliveryError, backoff_seconds, post_signed
from app.settings import get_settings
from app.store import db
from models import Agency, Case, OutboxMessage, ProcedureRun

log = logging.getLogger("protect.dispatch")
LEASE = timedelta(minutes=2)
NOT_YET_RETRY = timedelta(seconds=0.2)
BUSY_RETRY_S = (0.3, 1.5)  # a busy Prefect: try again after a random delay in this range
PREFECT_RETRIES = 1  # per delivery attempt, inside Prefect's client
BUSY_STATUS = frozenset({429, 503})
HELD_RETRY_S = (1.0, 3.0)  # a start held back by the backlog: look again after this long
BACKLOG_TTL_S = 1.0  # one count of the backlog serves every start for this long
BACKLOG_UNREACHABLE_S = 5.0  # Prefect did not answer the count: hold starts this long


class NotYet(Exception):
    """The run has not reached the suspension this message is for; try again soon."""

    def retry_after(self) -> timedelta:
        return NOT_YET_RETRY


class Busy(NotYet):
    """Prefect answered "busy" (503: its database was locked; 429): try again soon.

    Not a failed attempt: an outage refuses the connection or times out, and that takes the
    outbox's growing backoff. A random delay spreads the retries of many messages.
    """

    def retry_after(self) -> timedelta:
        return timedelta(seconds=random.uniform(*BUSY_RETRY_S))


class Held(NotYet):
    """A start held back: enough flow runs already wait for a worker (`start_backlog`).

    Prefect gives a worker its due runs oldest first, and a resumed run is due from the
    moment it resumes, so a burst of a thousand starts would put every resume of a case
    already under way behind all of them. Held starts stay in the outbox, in order, and are
    not failed attempts; resumes are never held.
    """

    def retry_after(self) -> timedelta:
        return timedelta(seconds=random.uniform(*HELD_RETRY_S))


@dataclass
class DispatchReport:
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _claim(msg: OutboxMessage) -> bool:
    with db() as session:
        res = session.exec(  # type: ignore[call-overload]
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == msg.id, col(OutboxMessage.status) == "pending",
                   col(OutboxMessage.attempts) == msg.attempts)
            .values(attempts=msg.attempts + 1, next_attempt_at=clock.now() + LEASE))
        return bool(res.rowcount == 1)


def _finish(msg: OutboxMessage, error: Exception | None) -> None:
    now = clock.now()
    with db() as session:
        row = session.get(OutboxMessage, msg.id)
        assert row is not None
        if error is None:
            row.status, row.delivered_at, row.last_error = "delivered", now, None
        else:
            row.last_error = str(error)[:500]
            if isinstance(error, NotYet):
                row.attempts -= 1  # waiting for the flow, or for Prefect, is not a failure
                row.next_attempt_at = now + error.retry_after()
            elif row.attempts >= get_settings().outbox_max_attempts:
                row.status = "dead"
                audit.record(session=session, at=now, actor="system", action="outbox.dead",
                             kind=row.kind, message_id=row.id)
            else:
                row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))
        session.add(row)


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def prefect_client() -> Any:
    """This process's Prefect client for its API address, opened once and kept open.

    A new client costs an SSL context (about 20 ms of CPU here, even for plain http) and a
    new connection; the dispatcher used to pay both for every message. httpx's client is
    safe to share between the dispatcher's threads.
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value())
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = get_client(sync_client=True, httpx_settings={
                "event_hooks": {"response": [_busy_at_once_without_retries]}})
            client.__enter__()
            _clients[url] = client
        return client


def _busy_at_once_without_retries(response: Any) -> None:
    """A busy answer (429, 503) is raised at once when no retry is asked for (`client_retries
    (0)`). Prefect 3.9's client sleeps after its last attempt too (2 s, before it hands the
    answer back), so without this even a client allowed no retry held its caller 2 s."""
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES

    if response.status_code in BUSY_STATUS and PREFECT_CLIENT_MAX_RETRIES.value() == 0:
        import httpx

        raise httpx.HTTPStatusError(f"Prefect is busy ({response.status_code})",
                                    request=response.request, response=response)


_retry_settings: dict[tuple[int, int], tuple[Any, Any]] = {}


@contextmanager
def client_retries(n: int) -> Iterator[None]:
    """Prefect's client retries a request at most `n` times inside this block.

    The client reads PREFECT_CLIENT_MAX_RETRIES from the current settings context at each
    request. Prefect's `temporary_settings` builds a new settings object on every entry
    (21 ms of CPU here, under the GIL that the executor's runs share); the object built for
    the current settings and `n` is kept and entered again instead.
    """
    from prefect.context import SettingsContext, get_settings_context
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES

    current = get_settings_context()
    key = (id(current.settings), n)
    base, settings = _retry_settings.get(key, (None, None))
    if base is not current.settings:  # not built yet, or built for settings since replaced
        base, settings = current.settings, current.settings.copy_with_update(
            updates={PREFECT_CLIENT_MAX_RETRIES: n})
        if len(_retry_settings) > 32:  # tests enter many settings; production one or two
            _retry_settings.clear()
        _retry_settings[key] = (base, settings)
    with SettingsContext(profile=current.profile, settings=settings):
        yield


_backlog: dict[str, float] = {}  # "count" and "at" (monotonic), shared by the threads
_backlog_lock = threading.Lock()


def backlog(*, fresh: bool = False) -> int:
    """Flow runs waiting in Prefect for a worker now: due and Scheduled (Late too), or Pending.

    Counted once per `BACKLOG_TTL_S` for the whole process; `fresh` counts again.
    """
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with _backlog_lock:
        if not fresh and time.monotonic() - _backlog.get("at", -1e9) < BACKLOG_TTL_S:
            return int(_backlog["count"])
        with client_retries(PREFECT_RETRIES):
            count = prefect_client().count_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType.SCHEDULED, StateType.PENDING])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=clock.now())))
        _backlog.update(count=count, at=time.monotonic())
        return int(count)


def _start(payload: dict[str, Any]) -> None:
    from prefect.deployments import run_deployment

    from flows.catalog import procedure

    limit = get_settings().start_backlog
    if limit > 0:
        waiting = backlog()
        if waiting >= limit:
            raise Held(f"held: {waiting} flow runs wait for a worker (limit {limit})")
        with _backlog_lock:  # this start joins the backlog until it is counted again
            _backlog["count"] = _backlog.get("count", 0) + 1
    with db() as session:
        run = session.get(ProcedureRun, payload["procedure_run_id"])
        assert run is not None
        case = session.get(Case, run.case_id)
        assert case is not None
        spec = procedure(run.code)
        name, tags = f"{case.case_no}-{run.code}-{run.id}", [case.case_no, run.code, spec.area]
    flow_run = run_deployment(
        spec.deployment, parameters={"procedure_run_id": run.id}, timeout=0,
        flow_run_name=name, tags=tags, idempotency_key=f"protect-run-{run.id}",
        as_subflow=False,  # a procedure started by another is its own run: it can suspend
        # Synchronous here even when called from inside an async flow's step (a procedure
        # starting another): Prefect would otherwise hand back a coroutine.
        _sync=True,
    )
    with db() as session:
        row = session.get(ProcedureRun, run.id)
        assert row is not None
        row.flow_run_id = str(flow_run.id)
        session.add(row)


def _resume(payload: dict[str, Any]) -> None:
    """Resume the run at its suspension `pause_key` with the decision as its run input.

    This makes the two writes of Prefect's resume endpoint — store the run input under the
    suspension's response key, then move the run from Suspended to Scheduled ("Resuming")
    through the orchestration rules — with the public client API. On a SQLite server the
    endpoint reads in a deferred transaction before it writes, so it fails with "database
    is locked" whenever another write lands in between, and the client then backs off for
    2, 4, 8 s; setting a state takes the write lock first and waits for it instead
    (docs/decisions.md). The input is checked against the step's decision model before it
    is queued, so the endpoint's schema check has nothing left to find.
    """
    with db() as session:
        run = session.get(ProcedureRun, payload["procedure_run_id"])
        assert run is not None
        flow_run_id = run.flow_run_id
    if flow_run_id is None:
        raise NotYet("the run has not started yet")
    key = payload["pause_key"]
    client = prefect_client()
    fr = client.read_flow_run(flow_run_id)
    state = fr.state
    paused_here = (state is not None and state.is_paused()
                   and state.state_details.pause_key == key)
    if not paused_here:
        if key in (fr.empirical_policy.pause_keys or set()):
            return  # resumed already: an earlier delivery went through
        if state is not None and state.is_final():
            raise DeliveryError(f"flow run is {state.type.value}; it cannot be resumed")
        raise NotYet("the run is not suspended at this step yet")
    resume_suspended(client, fr, payload.get("run_input"))


def resume_suspended(client: Any, flow_run: Any, run_input: dict[str, Any] | None) -> None:
    """Resume a suspended flow run with `run_input`: the two writes of Prefect's resume.

    Store the input under the suspension's response key, then move the run from Suspended
    to Scheduled ("Resuming") through the orchestration rules, which refuse it if the run
    has moved on meanwhile.
    """
    import httpx
    import orjson
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.states import Scheduled

    keyset = flow_run.state.state_details.run_input_keyset
    if not keyset:
        raise DeliveryError("the suspension waits for no input")
    try:
        client.create_flow_run_input(flow_run.id, key=keyset["response"],
                                     value=orjson.dumps(run_input or {}).decode())
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 409:
            raise
        # 409: stored by an earlier delivery that did not get to change the state
    response = client.set_flow_run_state(flow_run.id, Scheduled(name="Resuming"))
    if response.status != SetStateStatus.ACCEPT:
        raise DeliveryError(f"Prefect refused the resume: {response.details}")


def _notify(msg: OutboxMessage) -> None:
    settings = get_settings()
    agency_code = str(msg.payload.get("agency", "")).split("/", 1)[0]
    with db() as session:
        agency = session.get(Agency, agency_code)
        url = agency.webhook_url if agency else None
    if not url:
        return  # the agency reads its inbox; nothing to push
    post_signed(url, {"message_id": msg.id, **msg.payload}, secret=settings.webhook_secret,
                message_id=str(msg.id), timestamp=clock.now().isoformat(),
                timeout=settings.webhook_timeout_s)


def _recover(payload: dict[str, Any]) -> None:
    """Reschedule a crashed flow run, unless it has moved on since the crash was seen.

    The crashed state's id is the compare-and-set: a second delivery, or a run that another
    recovery already got going, finds another state and does nothing.
    """
    from prefect.states import Scheduled

    client = prefect_client()
    fr = client.read_flow_run(payload["flow_run_id"])
    if fr.state is None or str(fr.state.id) != payload["state_id"]:
        return
    client.set_flow_run_state(fr.id, Scheduled(name="Recovering"), force=True)


def deliver(msg: OutboxMessage, *, prefect_retries: int = PREFECT_RETRIES) -> None:
    if msg.kind in ("start", "resume", "recover"):
        import httpx

        # The outbox retries a failed delivery itself, on its own schedule. Left to its
        # default, Prefect's client would first retry a refused connection for about a
        # minute (2 + 4 + … + 32 s) and hold the dispatcher while Prefect is down. One
        # retry stays: a one-off delivery (`protect start`, the API) rides over a single
        # busy answer. After that a busy Prefect is asked again soon (`Busy`), not backed off.
        # A `Dispatcher` polls again within a second itself, and takes none (`prefect_retries`).
        try:
            with client_retries(prefect_retries):
                {"start": _start, "resume": _resume, "recover": _recover}[msg.kind](msg.payload)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in BUSY_STATUS:
                raise Busy(f"Prefect is busy ({exc.response.status_code})") from exc
            raise
    elif msg.kind == "notify":
        _notify(msg)
    elif msg.kind == "robot":
        from app.robots import deliver as deliver_to_robot

        deliver_to_robot(msg)
    elif msg.kind == "hotline":
        from app.hotline import deliver_feedback

        deliver_feedback(msg.payload, now=clock.now())
    else:
        raise DeliveryError(f"unknown message kind {msg.kind!r}")


def dispatch(
    *,
    ids: Iterable[int] | None = None,
    kinds: Iterable[str] | None = None,
    keys: Iterable[str] | None = None,
    limit: int = 500,
    workers: int = 1,
) -> DispatchReport:
    """Deliver pending messages that are due (or exactly `ids`), oldest first.

    With `workers` > 1 the claimed messages are delivered by that many threads at once: each
    delivery mostly waits on Prefect or a webhook, and one slow message no longer holds up
    the ones behind it. Each message is still delivered by one thread only (its claim).

    Retries follow the real clock, never an "as of" time: a sweep run as of a later date
    must not push deliveries into the future.
    """
    msgs = _pending(ids=ids, kinds=kinds, keys=keys, limit=limit)
    claimed = [msg for msg in msgs if _claim(msg)]
    report = DispatchReport()
    if workers > 1 and len(claimed) > 1:
        with ThreadPoolExecutor(min(workers, len(claimed)),
                                thread_name_prefix="dispatch") as pool:
            outcomes = list(pool.map(_deliver_one, claimed))
    else:
        outcomes = [_deliver_one(msg) for msg in claimed]
    for msg, error in zip(claimed, outcomes, strict=True):
        if error is None:
            report.delivered += 1
        else:
            report.failed += 1
            report.errors.append(f"{msg.kind} #{msg.id}: {error}")
    return report


def _pending(*, ids: Iterable[int] | None = None, kinds: Iterable[str] | None = None,
             keys: Iterable[str] | None = None, limit: int = 500,
             exclude: Iterable[str] = ()) -> list[OutboxMessage]:
    """Pending messages that are due (or exactly `ids`), oldest first."""
    with db() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.status == "pending")
        if exclude:
            stmt = stmt.where(col(OutboxMessage.kind).not_in(list(exclude)))
        if ids is not None:
            stmt = stmt.where(col(OutboxMessage.id).in_(list(ids)))
        else:
            stmt = stmt.where(col(OutboxMessage.next_attempt_at) <= clock.now())
        if kinds is not None:
            stmt = stmt.where(col(OutboxMessage.kind).in_(list(kinds)))
        if keys is not None:  # exactly these messages, e.g. the one a completion just wrote
            stmt = stmt.where(col(OutboxMessage.dedupe_key).in_(list(keys)))
        return list(session.exec(stmt.order_by(col(OutboxMessage.id)).limit(limit)).all())


class Dispatcher:
    """Delivers due messages continuously, each on a thread of its own pool.

    `dispatch()` delivers a batch and returns when the whole batch is done, so one slow
    delivery (a busy Prefect's client sleeps 2 s before it gives up) holds back every message
    that falls due meanwhile. The serving process polls this instead: each poll claims only as
    many due messages as there are free threads, hands each to a thread and returns at once.
    A claimed message is leased (`LEASE`), so the next poll does not see it again.
    """

    def __init__(self, *, workers: int, kinds: Iterable[str] | None = ("resume", "start")
                 ) -> None:
        self.workers = workers
        self.kinds = tuple(kinds) if kinds is not None else None  # None: every kind
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="dispatch")
        self.in_flight = 0
        self.lock = threading.Lock()
        self._count_again_at = 0.0  # monotonic; after Prefect failed to count the backlog

    def poll(self) -> int:
        """Claim what is due, up to the free threads, and start delivering it; how many."""
        with self.lock:
            free = self.workers - self.in_flight
        if free <= 0:
            return 0
        started = 0
        for msg in _pending(kinds=self.kinds, limit=free, exclude=self._held_kinds()):
            if not _claim(msg):
                continue  # another dispatcher has it
            with self.lock:
                self.in_flight += 1
            self.pool.submit(self._deliver, msg)
            started += 1
        return started

    def _held_kinds(self) -> tuple[str, ...]:
        """("start",) while starts are held (`Held`): they are left where they are, due and
        in order, instead of being claimed only to be put back."""
        limit = get_settings().start_backlog
        if limit <= 0 or (self.kinds is not None and "start" not in self.kinds):
            return ()
        if time.monotonic() < self._count_again_at:
            return ("start",)
        try:
            return ("start",) if backlog() >= limit else ()
        except Exception:  # noqa: BLE001 - Prefect down or busy: no start could go out now
            # Everything else is delivered meanwhile; the count is asked again in a while,
            # not on every poll.
            self._count_again_at = time.monotonic() + BACKLOG_UNREACHABLE_S
            return ("start",)

    def _deliver(self, msg: OutboxMessage) -> None:
        try:
            # A busy answer goes back to the outbox at once, to be asked again in 0.3–1.5 s
            # (`Busy`), instead of Prefect's client sleeping 2 s first: on SQLite, Prefect's
            # server refuses a new flow run whenever another write lands during its read.
            _deliver_one(msg, prefect_retries=0)
        finally:
            with self.lock:
                self.in_flight -= 1

    def close(self) -> None:
        """Wait for the deliveries under way; nothing else is queued (claims match threads)."""
        self.pool.shutdown(wait=True)


def _deliver_one(msg: OutboxMessage, *, prefect_retries: int = PREFECT_RETRIES
                 ) -> Exception | None:
    """Deliver one claimed message and record the outcome; the error, if any."""
    try:
        deliver(msg, prefect_retries=prefect_retries)
    except Exception as exc:  # noqa: BLE001 - any failure is retried, and reported
        (log.debug if isinstance(exc, NotYet) else log.warning)(
            "outbox message %s (%s) not delivered: %s", msg.id, msg.kind, type(exc).__name__)
        _finish(msg, exc)
        return exc
    _finish(msg, None)
    return None


def run_forever(*, poll_s: float = 0.2, workers: int = 8, stop: threading.Event | None = None
                ) -> None:
    """Deliver every kind of due message until stopped (the cluster's dispatcher).

    An outage of the case store or of Prefect is reported once when it begins and once when it
    ends, with the error's type; the loop keeps polling, so nothing waits for a restart.
    """
    stop = stop or threading.Event()
    dispatcher = Dispatcher(workers=workers, kinds=None)
    outage: str | None = None
    log.info("dispatcher polling every %.1f s", poll_s)
    try:
        while not stop.is_set():
            try:
                dispatcher.poll()
            except Exception as exc:  # noqa: BLE001 - the case store may be restarting
                if outage is None:
                    outage = type(exc).__name__
                    log.error("case store unreachable (%s): retrying every %.1f s; "
                              "no message is lost", outage, poll_s)
            else:
                if outage is not None:
                    log.warning("case store reachable again after %s", outage)
                    outage = None
            stop.wait(poll_s)
    finally:
        dispatcher.close()
