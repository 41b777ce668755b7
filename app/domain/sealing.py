"""Sealed records (J3): once a run's record is sealed, what it holds is for the judicial readers.

A procedure run is *sealed* when the store holds a sealed record for it (models.SealedRecord,
written by app/services/engine.py:seal_record at the end of J3; any procedure that seals its
record the same way is covered by the same rule). From then on, wherever the run's steps
appear — a task's `decision` and `record`, the audit events of the run (`detail`, and the
sentences made of them), the earlier steps on a task page — their *content* is shown only to
a judicial reader; everyone else sees the sealed marker in its place.

What is content: everything an agency decided or recorded in the run's steps (every decision
field: `offence_confirmed`, `measure`, `outcome`, `sentence`, `judged_on`, `sealed_on`; every
form field: notes, dates, the record number, the sealing authority), and what the sealed
record itself holds (its number `record_no`, `authority`, `sealed_on`, `content`).

What is not: what happened and who did it — the step, the agency that held or completed it,
the times, escalations, the run's code, status and outcome ("sealed"), the case fields a read
covered (names of fields, not values) — and the sealed record's id, a pointer that opens
nothing by itself (every attempt to read it is audited). These stay for everyone who may see
the case or the task, as before.

Pure: the use cases (app/services/) find which runs are sealed and apply these functions; the
entry points show what they are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain import access
from app.domain.access import Principal

# Who may read a sealed record: a user with the judicial role (access: `sealed.read`) at one of
# these agencies; agency → its reader role, as the audit trail names it.
READER_ROLE: Mapping[str, str] = {"court": "court", "procuratorate": "procuratorate",
                                  "psb": "police"}
# The reader role → its agency (the command line names a role and an agency).
JUDICIAL_READERS: Mapping[str, str] = {role: agency for agency, role in READER_ROLE.items()}

# The marker that takes the place of sealed content: `{"sealed": true, "sealed_record_id": 7}`.
MARK = "sealed"

# The details of an audit event of a sealed run that say what happened, not what was decided:
# kept for every reader. Every other detail (`decision`, `authority`, `problems`, `reason`, …)
# is content, and a detail added later is sealed until it is listed here.
KEPT_DETAIL = frozenset({
    "step", "agency", "owner", "to", "rung", "due_at", "code", "parent_run_id", "outcome",
    "sealed_record_id", "fields", "event", "recovery", "timer", "role", "roles", "allowed",
    "again", "report_id", "sealed_shown",
})


def may_read(viewer: Principal | None) -> bool:
    """Whether the viewer reads sealed content: the judicial role at the court, the
    procuratorate or the police. No viewer (a caller that names nobody): never."""
    return (viewer is not None and access.allowed(viewer, "sealed.read")
            and viewer.agency in READER_ROLE)


def reader_role(agency: str) -> str:
    """The role a judicial user of `agency` reads as ("police" at psb; "judicial" elsewhere,
    which reads nothing)."""
    return READER_ROLE.get(agency, "judicial")


def allowed_reader(agency: str, role: str) -> bool:
    """Whether `role` at `agency` is a sealed-record reader (the command line's check)."""
    return JUDICIAL_READERS.get(role) == agency


def marker(record_id: int | None) -> dict[str, Any]:
    """What a non-judicial reader sees in place of sealed content."""
    return {MARK: True} if record_id is None else {MARK: True, "sealed_record_id": record_id}


def is_marker(value: Any) -> bool:
    """Whether a value is the sealed marker (a redacted decision, record or detail)."""
    return isinstance(value, Mapping) and value.get(MARK) is True


def shown_step(decision: Mapping[str, Any] | None, record: Mapping[str, Any] | None, *,
               sealed_record_id: int | None, viewer: Principal | None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A step's decision and record as the viewer may see them: as they are for a run that is
    not sealed (`sealed_record_id` None) or for a judicial reader; else the marker, twice."""
    if sealed_record_id is None or may_read(viewer):
        return dict(decision or {}), dict(record or {})
    return marker(sealed_record_id), marker(sealed_record_id)


def shown_detail(detail: Mapping[str, Any] | None, *, sealed_record_id: int | None,
                 viewer: Principal | None) -> dict[str, Any]:
    """An audit event's detail as the viewer may see it: for an event of a sealed run and a
    reader who is not judicial, each detail outside KEPT_DETAIL replaced by the marker."""
    detail = dict(detail or {})
    if sealed_record_id is None or may_read(viewer):
        return detail
    return {k: v if k in KEPT_DETAIL else marker(sealed_record_id) for k, v in detail.items()}
