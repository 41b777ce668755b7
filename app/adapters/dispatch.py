"""Delivering the outbox: start runs and resume runs in Prefect (app/adapters/prefect.py),
notify agencies by webhook and in their group chats (app/adapters/robots.py), feed results back
to the hotline platform. The loop that keeps delivering is app/runtime/dispatcher.py.

Every message is claimed with a compare-and-set before delivery, so two dispatchers (two
sweeps, a sweep and a completion) never deliver the same message at once; each delivery is
itself idempotent, so a message delivered but not yet marked is harmless to deliver again.

An optional channel left unset (the hotline platform's address) is no failure: its messages are
not claimed at all, so they wait in the outbox, pending and never dead-lettered, without a
warning on every sweep, and go out once the setting is given and the process restarted. The
long-lived processes say so once when they start (app/runtime/dispatcher.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from app.adapters import audit, prefect
from app.adapters.notify import DeliveryError, backoff_seconds, post_signed
from app.adapters.prefect import PREFECT_RETRIES, NotYet
from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from models import Agency, OutboxMessage

log = logging.getLogger("protect.dispatch")
LEASE = timedelta(minutes=2)


@dataclass
class DispatchReport:
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# Outbox kinds whose channel is optional: the setting that turns it on, and what it sends.
OPTIONAL_CHANNELS = {"hotline": ("hotline_callback_url", "PROTECT_HOTLINE_CALLBACK_URL",
                                 "feedback to the hotline platform")}


def unconfigured_kinds() -> tuple[str, ...]:
    """The outbox kinds whose optional channel is not configured in this process."""
    s = get_settings()
    return tuple(kind for kind, (attr, _, _) in OPTIONAL_CHANNELS.items()
                 if not getattr(s, attr))


def unconfigured_channels() -> list[str]:
    """One line per optional channel that is not configured, naming the setting to set: what
    a process says once when it starts, instead of a failed delivery on every sweep."""
    return [f"{OPTIONAL_CHANNELS[kind][2]} is off: {OPTIONAL_CHANNELS[kind][1]} is not set; "
            f"its messages wait in the outbox until it is set and this process restarted"
            for kind in unconfigured_kinds()]


def claim(msg: OutboxMessage) -> bool:
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


def deliver(msg: OutboxMessage, *, prefect_retries: int = PREFECT_RETRIES) -> None:
    """Deliver one message by its kind: to Prefect, an agency's webhook, its group robot or
    the hotline platform."""
    if msg.kind in prefect.HANDLERS:
        prefect.deliver(msg.kind, msg.payload, prefect_retries=prefect_retries)
    elif msg.kind == "notify":
        _notify(msg)
    elif msg.kind == "robot":
        from app.adapters.robots import deliver as deliver_to_robot

        deliver_to_robot(msg)
    elif msg.kind == "hotline":
        from app.adapters.notify import deliver_hotline_feedback

        deliver_hotline_feedback(msg.payload, now=clock.now())
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
    msgs = pending(ids=ids, kinds=kinds, keys=keys, limit=limit)
    claimed = [msg for msg in msgs if claim(msg)]
    report = DispatchReport()
    if workers > 1 and len(claimed) > 1:
        with ThreadPoolExecutor(min(workers, len(claimed)),
                                thread_name_prefix="dispatch") as pool:
            outcomes = list(pool.map(deliver_claimed, claimed))
    else:
        outcomes = [deliver_claimed(msg) for msg in claimed]
    for msg, error in zip(claimed, outcomes, strict=True):
        if error is None:
            report.delivered += 1
        else:
            report.failed += 1
            report.errors.append(f"{msg.kind} #{msg.id}: {error}")
    return report


def pending(*, ids: Iterable[int] | None = None, kinds: Iterable[str] | None = None,
             keys: Iterable[str] | None = None, limit: int = 500,
             exclude: Iterable[str] = ()) -> list[OutboxMessage]:
    """Pending messages that are due (or exactly `ids`), oldest first; never those of an
    unconfigured channel (`unconfigured_kinds`), which wait, pending, until it is set."""
    kinds = None if kinds is None else list(kinds)
    exclude = [*exclude, *(k for k in unconfigured_kinds() if kinds is None or k in kinds)]
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


def deliver_claimed(msg: OutboxMessage, *, prefect_retries: int = PREFECT_RETRIES,
                    warn: bool = True) -> Exception | None:
    """Deliver one claimed message and record the outcome; the error, if any. A failure is
    a warning (`warn`), or a debug line when the caller has said so once already."""
    try:
        deliver(msg, prefect_retries=prefect_retries)
    except Exception as exc:  # noqa: BLE001 - any failure is retried, and reported
        (log.debug if isinstance(exc, NotYet) or not warn else log.warning)(
            "outbox message %s (%s) not delivered: %s", msg.id, msg.kind, type(exc).__name__)
        _finish(msg, exc)
        return exc
    _finish(msg, None)
    return None
