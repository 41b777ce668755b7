"""Writing to the outbox: messages that must reach Prefect or an agency, delivered later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models import OutboxMessage


def start_message_key(procedure_run_id: int) -> str:
    """The outbox key of a procedure run's start."""
    return f"start:run:{procedure_run_id}"


def resume_message_key(task_id: int) -> str:
    """The outbox key of the resume that a task's completion sends."""
    return f"resume:task:{task_id}"


def timer_message_key(timer_id: int) -> str:
    """The outbox key of the resume that a timer's firing (or cancelling) sends."""
    return f"resume:timer:{timer_id}"


def enqueue(
    *, session: Session, kind: str, dedupe_key: str, payload: dict[str, Any], now: datetime
) -> OutboxMessage:
    """Add a message unless one with the same key exists (idempotent under replay)."""
    existing = session.exec(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
    ).first()
    if existing is not None:
        return existing
    msg = OutboxMessage(kind=kind, dedupe_key=dedupe_key, payload=payload, created_at=now,
                        next_attempt_at=now)
    session.add(msg)
    session.flush()
    return msg
