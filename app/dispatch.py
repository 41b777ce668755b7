"""Delivering the outbox: start runs and resume runs in Prefect, notify agencies by webhook.

Every message is claimed with a compare-and-set before delivery, so two dispatchers (two
sweeps, a sweep and a completion) never deliver the same message at once; each delivery is
itself idempotent, so a message delivered but not yet marked is harmless to deliver again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
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


class NotYet(Exception):
    """The run has not reached the suspension this message is for; try again soon."""


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
                row.attempts -= 1  # waiting for the flow is not a failed attempt
                row.next_attempt_at = now + NOT_YET_RETRY
            elif row.attempts >= get_settings().outbox_max_attempts:
                row.status = "dead"
                audit.record(session=session, at=now, actor="system", action="outbox.dead",
                             kind=row.kind, message_id=row.id)
            else:
                row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))
        session.add(row)


def _start(payload: dict[str, Any]) -> None:
    from prefect.deployments import run_deployment

    from flows.catalog import procedure

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
    )
    with db() as session:
        row = session.get(ProcedureRun, run.id)
        assert row is not None
        row.flow_run_id = str(flow_run.id)
        session.add(row)


def _resume(payload: dict[str, Any]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.responses import SetStateStatus

    with db() as session:
        run = session.get(ProcedureRun, payload["procedure_run_id"])
        assert run is not None
        flow_run_id = run.flow_run_id
    if flow_run_id is None:
        raise NotYet("the run has not started yet")
    key = payload["pause_key"]
    with get_client(sync_client=True) as client:
        fr = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
        state = fr.state
        paused_here = (state is not None and state.is_paused()
                       and state.state_details.pause_key == key)
        if not paused_here:
            if key in (fr.empirical_policy.pause_keys or set()):
                return  # resumed already: an earlier delivery went through
            if state is not None and state.is_final():
                raise DeliveryError(f"flow run is {state.type.value}; it cannot be resumed")
            raise NotYet("the run is not suspended at this step yet")
        response = client.resume_flow_run(fr.id, run_input=payload.get("run_input"))
        reason = str(getattr(response.details, "reason", "") or "")
        if response.status == SetStateStatus.ABORT and "schema not found" in reason:
            # The flow is suspended but has not yet saved its input schema (it does so
            # right after the state change): a moment too early, not a failure.
            raise NotYet("the run is still suspending")
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


def deliver(msg: OutboxMessage) -> None:
    if msg.kind == "start":
        _start(msg.payload)
    elif msg.kind == "resume":
        _resume(msg.payload)
    elif msg.kind == "notify":
        _notify(msg)
    else:
        raise DeliveryError(f"unknown message kind {msg.kind!r}")


def dispatch(
    *,
    ids: Iterable[int] | None = None,
    kinds: Iterable[str] | None = None,
    keys: Iterable[str] | None = None,
    limit: int = 500,
) -> DispatchReport:
    """Deliver pending messages that are due (or exactly `ids`), oldest first.

    Retries follow the real clock, never an "as of" time: a sweep run as of a later date
    must not push deliveries into the future.
    """
    now = clock.now()
    with db() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.status == "pending")
        if ids is not None:
            stmt = stmt.where(col(OutboxMessage.id).in_(list(ids)))
        else:
            stmt = stmt.where(col(OutboxMessage.next_attempt_at) <= now)
        if kinds is not None:
            stmt = stmt.where(col(OutboxMessage.kind).in_(list(kinds)))
        if keys is not None:  # exactly these messages, e.g. the one a completion just wrote
            stmt = stmt.where(col(OutboxMessage.dedupe_key).in_(list(keys)))
        msgs = list(session.exec(stmt.order_by(col(OutboxMessage.id)).limit(limit)).all())
    report = DispatchReport()
    for msg in msgs:
        if not _claim(msg):
            continue
        try:
            deliver(msg)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, and reported
            (log.debug if isinstance(exc, NotYet) else log.warning)(
                "outbox message %s (%s) not delivered: %s", msg.id, msg.kind,
                type(exc).__name__)
            report.failed += 1
            report.errors.append(f"{msg.kind} #{msg.id}: {exc}")
            _finish(msg, exc)
        else:
            report.delivered += 1
            _finish(msg, None)
    return report
