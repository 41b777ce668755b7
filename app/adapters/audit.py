"""The audit trail: one helper so every change is recorded the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from models import AuditEvent


def record(
    *,
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    case_id: int | None = None,
    procedure_run_id: int | None = None,
    task_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append an audit event. `detail` carries codes and ids, never personal data."""
    event = AuditEvent(at=at, actor=actor, action=action, case_id=case_id,
                       procedure_run_id=procedure_run_id, task_id=task_id, detail=detail)
    session.add(event)
    return event
