"""Prefect, as the outbox's deliveries use it: start a procedure's flow run from its deployment,
resume a suspended run (with a task's id or a timer's outcome), reschedule a crashed run; one
kept-open client per process, Prefect's own retries bounded, and a busy Prefect told apart
from a down one.

Each call is idempotent: a start carries its idempotency key, a resume finds the run already
resumed, a recovery compares the crashed state's id.

A case's flow runs, for its history, are read over Prefect's REST API without its client
(`flow_runs_tagged`): importing the client costs a short command about 1.3 s of CPU.
Prefect is imported inside the functions that use it, never at this module's import.
"""

from __future__ import annotations

import base64
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from models import Case, ProcedureRun

NOT_YET_RETRY = timedelta(seconds=0.2)
BUSY_RETRY_S = (0.3, 1.5)  # a busy Prefect: try again after a random delay in this range
PREFECT_RETRIES = 1  # per delivery attempt, inside Prefect's client
BUSY_STATUS = frozenset({429, 503})
HELD_RETRY_S = (1.0, 3.0)  # a start held back by the backlog: look again after this long
# A start Prefect's SQLite answered "locked" (`_create_from_deployment`): asked again after a
# random pause in this range, this many times in all, before it goes back to the outbox.
LOCKED_AGAIN_S = (0.02, 0.1)
LOCKED_TRIES = 5
BACKLOG_TTL_S = 1.0  # one count of the backlog serves every start for this long


# How each NotYet begins: an outbox message's last error that begins so is retried within
# seconds by the dispatchers, not after the outbox's backoff (`retried_soon`).
BUSY_SAYS = "Prefect is busy"
HELD_SAYS = "held:"
NOT_STARTED_SAYS = "the run has not started yet"
NOT_SUSPENDED_SAYS = "the run is not suspended at this step yet"


class NotYet(Exception):
    """The run has not reached the suspension this message is for; try again soon."""

    def retry_after(self) -> timedelta:
        return NOT_YET_RETRY


def retried_soon(last_error: str | None) -> bool:
    """Whether an outbox message's last error was a `NotYet` (Prefect busy, a start held back,
    a run not yet at its step), which is asked again within seconds, rather than a failed
    attempt (Prefect not answering, an error), which waits for the outbox's backoff."""
    return bool(last_error) and str(last_error).startswith(
        (BUSY_SAYS, HELD_SAYS, NOT_STARTED_SAYS, NOT_SUSPENDED_SAYS))


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
            _connect_once(client)
            client.__enter__()
            _clients[url] = client
        return client


def _connect_once(client: Any) -> None:
    """A refused connection is answered at once: the outbox is what tries again.

    Prefect's client makes its connection pool retry a failed connect 3 times, sleeping 0.5 s
    and 1 s between: 1.5 s per message while Prefect is down, so a command that queued three
    starts held its user 4.5 s before saying so. Prefect sets that count on the pool after it
    builds the client (SyncPrefectClient.__init__); it is set back here the same way."""
    import httpcore
    import httpx

    transport_for_url = getattr(client._client, "_transport_for_url", None)
    if callable(transport_for_url):
        transport = transport_for_url(httpx.URL(str(client.api_url)))
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.ConnectionPool):
            pool._retries = 0


def _busy_at_once_without_retries(response: Any) -> None:
    """A busy answer (429, 503) is raised at once when no retry is asked for (`client_retries
    (0)`). Prefect 3.9's client sleeps after its last attempt too (2 s, before it hands the
    answer back), so without this even a client allowed no retry held its caller 2 s."""
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES

    if response.status_code in BUSY_STATUS and PREFECT_CLIENT_MAX_RETRIES.value() == 0:
        import httpx

        raise httpx.HTTPStatusError(f"{BUSY_SAYS} ({response.status_code})",
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
    if PREFECT_CLIENT_MAX_RETRIES.value_from(current.settings) == n:
        yield  # already so (a process that set PREFECT_CLIENT_MAX_RETRIES): nothing to build
        return
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


def start_run(payload: dict[str, Any]) -> None:
    from app.config.procedures import procedure

    limit = get_settings().start_backlog
    if limit > 0:
        waiting = backlog()
        if waiting >= limit:
            raise Held(f"{HELD_SAYS} {waiting} flow runs wait for a worker (limit {limit})")
        with _backlog_lock:  # this start joins the backlog until it is counted again
            _backlog["count"] = _backlog.get("count", 0) + 1
    with db() as session:
        run = session.get(ProcedureRun, payload["procedure_run_id"])
        assert run is not None
        case = session.get(Case, run.case_id)
        assert case is not None
        spec = procedure(run.code)
        name, tags = f"{case.case_no}-{run.code}-{run.id}", [case.case_no, run.code, spec.area]
    flow_run = _run_deployment(spec.deployment, parameters={"procedure_run_id": run.id},
                               name=name, tags=tags, idempotency_key=f"protect-run-{run.id}")
    with db() as session:
        row = session.get(ProcedureRun, run.id)
        assert row is not None
        row.flow_run_id = str(flow_run.id)
        session.add(row)


def _run_deployment(deployment: str, *, parameters: dict[str, Any], name: str,
                    tags: list[str], idempotency_key: str) -> Any:
    """A flow run of `deployment`, scheduled now, as Prefect's `run_deployment(..., timeout=0,
    as_subflow=False)` makes it, with this process's kept client (`prefect_client`).

    `run_deployment` opens a client of its own for each call: a new connection and SSL
    context per start, Prefect's connect retries, and none of the busy answer's handling
    above. A procedure started by another is its own run (not a subflow): it can suspend.
    Synchronous even when called from inside an async flow's step.
    """
    from prefect.context import FlowRunContext
    from prefect.states import Scheduled
    from prefect.telemetry.run_telemetry import LABELS_TRACEPARENT_KEY

    client = prefect_client()
    found = client.read_deployment_by_name(deployment)
    parent = FlowRunContext.get()
    traceparent = parent.flow_run.labels.get(LABELS_TRACEPARENT_KEY) \
        if parent and parent.flow_run else None
    return _create_from_deployment(
        client, found.id, parameters=parameters, state=Scheduled(), name=name, tags=tags,
        idempotency_key=idempotency_key,
        labels={LABELS_TRACEPARENT_KEY: traceparent} if traceparent else {})


def _create_from_deployment(client: Any, deployment_id: Any, **run: Any) -> Any:
    """Prefect's `create_flow_run_from_deployment`, asked again at once when Prefect's SQLite
    was locked.

    The endpoint reads the deployment in a deferred transaction and then inserts the run:
    when any other write lands in between (the task-run states and logs that Prefect records
    as a flow runs, a start's own step among them), SQLite refuses the insert at once, and
    Prefect answers 503. Its client then waits 2 s before it asks again: every procedure
    started from inside another's flow run held that run 2 s. The race is lost for a moment,
    not a busy server, so it is asked again after a few tens of milliseconds, a few times;
    the idempotency key makes each attempt the same start. After that, a busy Prefect goes
    back to the caller as before (`Busy`, the outbox asks again soon)."""
    import httpx

    for attempt in range(1, LOCKED_TRIES + 1):
        try:
            with client_retries(0):
                return client.create_flow_run_from_deployment(deployment_id, **run)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 503 or attempt == LOCKED_TRIES:
                raise
        time.sleep(random.uniform(*LOCKED_AGAIN_S))
    raise AssertionError("unreachable")


def resume_run(payload: dict[str, Any]) -> None:
    """Resume the run at its suspension `pause_key` with the message's run input: a task's id
    (its decision stays in the case store, where the flow reads it) or a timer's outcome.

    This makes the two writes of Prefect's resume endpoint — store the run input under the
    suspension's response key, then move the run from Suspended to Scheduled ("Resuming")
    through the orchestration rules — with the public client API. On a SQLite server the
    endpoint reads in a deferred transaction before it writes, so it fails with "database
    is locked" whenever another write lands in between, and the client then backs off for
    2, 4, 8 s; setting a state takes the write lock first and waits for it instead
    (docs/decisions.md). The input has the shape the suspension waits for (flows/steps.py),
    so the endpoint's schema check has nothing left to find.
    """
    with db() as session:
        run = session.get(ProcedureRun, payload["procedure_run_id"])
        assert run is not None
        flow_run_id = run.flow_run_id
    if flow_run_id is None:
        raise NotYet(NOT_STARTED_SAYS)
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
            from app.adapters.notify import DeliveryError

            raise DeliveryError(f"flow run is {state.type.value}; it cannot be resumed")
        raise NotYet(NOT_SUSPENDED_SAYS)
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

    from app.adapters.notify import DeliveryError

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


def recover_run(payload: dict[str, Any]) -> None:
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


def deliver(kind: str, payload: dict[str, Any], *, prefect_retries: int = PREFECT_RETRIES) -> None:
    """Deliver one start, resume or recover message; a busy Prefect raises `Busy`.

    The outbox retries a failed delivery itself, on its own schedule. Left to its default,
    Prefect's client would first retry a refused connection for about a minute (2 + 4 + … +
    32 s) and hold the dispatcher while Prefect is down. One retry stays: a one-off delivery
    (`protect start`, the API) rides over a single busy answer. After that a busy Prefect is
    asked again soon (`Busy`), not backed off. A `Dispatcher` polls again within a second
    itself, and takes none (`prefect_retries`).
    """
    import httpx

    try:
        with client_retries(prefect_retries):
            HANDLERS[kind](payload)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code in BUSY_STATUS:
            raise Busy(f"{BUSY_SAYS} ({exc.response.status_code})") from exc
        raise


HANDLERS = {"start": start_run, "resume": resume_run, "recover": recover_run}


def flow_runs_tagged(tag: str, *, limit: int = 200, timeout_s: float = 10.0
                     ) -> list[dict[str, Any]]:
    """The flow runs tagged `tag` (a case number), oldest start first, each as Prefect's REST
    API gives it with its flow's name added (`flow_name`): two requests, with the address,
    auth and TLS settings Prefect's client would use (configure_prefect_env sets them)."""
    import requests

    api = os.environ["PREFECT_API_URL"].rstrip("/")
    headers = {}
    if os.environ.get("PREFECT_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['PREFECT_API_KEY']}"
    elif os.environ.get("PREFECT_API_AUTH_STRING"):
        token = base64.b64encode(os.environ["PREFECT_API_AUTH_STRING"].encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    verify: bool | str = os.environ.get("PREFECT_API_SSL_CERT_FILE") or True
    if os.environ.get("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", "").lower() in ("1", "true"):
        verify = False

    def post(path: str, body: dict[str, Any]) -> Any:
        response = requests.post(f"{api}{path}", json=body, headers=headers, timeout=timeout_s,
                                 verify=verify)
        response.raise_for_status()
        return response.json()

    runs = post("/flow_runs/filter", {"flow_runs": {"tags": {"all_": [tag]}},
                                      "sort": "START_TIME_ASC", "limit": limit})
    flow_ids = sorted({r["flow_id"] for r in runs})
    flows = post("/flows/filter", {"flows": {"id": {"any_": flow_ids}}}) if flow_ids else []
    names = {f["id"]: f["name"] for f in flows}
    return [{**r, "flow_name": names.get(r["flow_id"], "")} for r in runs]
