"""The tables of the case store, in schema families (Base → table → Create/Public)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _json(**kw: Any) -> Any:
    return Field(default_factory=kw.pop("default_factory", dict), sa_column=Column(JSON, **kw))


# --- reference data -------------------------------------------------------------------------


class Agency(SQLModel, table=True):
    """A responsible agency (责任部门): bureau, district, street office, community, hospital…"""

    code: str = Field(primary_key=True, max_length=64)
    name_zh: str
    name_en: str
    level: str = Field(max_length=16)  # office|municipal|district|street|community|hospital
    parent_code: str | None = Field(default=None, foreign_key="agency.code", max_length=64)
    district: str | None = Field(default=None, max_length=16)
    bureau: str | None = Field(default=None, max_length=32)  # responsible municipal bureau
    webhook_url: str | None = None


class AgencyRobot(SQLModel, table=True):
    """An agency's group robot (WeCom 企业微信 or DingTalk 钉钉 群机器人): where its task-opened
    and task-escalated messages also go, in Chinese (app/adapters/robots.py).

    A table of its own, not columns of Agency: the URL holds the robot's key and the secret
    signs for it, and neither belongs in what reads or lists agencies.
    """

    agency_code: str = Field(primary_key=True, foreign_key="agency.code", max_length=64)
    kind: str = Field(max_length=16)  # wecom|dingtalk
    url: str  # carries the robot's key (WeCom) or access token (DingTalk): never printed
    secret: str | None = None  # DingTalk's 加签 secret; None: no signing
    updated_at: datetime = _ts(nullable=False)


class User(SQLModel, table=True):
    """A person who works in the system, always for one agency (roles: app/domain/access.py)."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    agency_code: str = Field(foreign_key="agency.code", max_length=64)
    roles: list[str] = _json(default_factory=list)
    password_hash: str | None = None  # argon2id; None: API tokens only
    active: bool = True
    created_at: datetime | None = _ts(nullable=True)


class ApiToken(SQLModel, table=True):
    """A user's API token: the secret is shown once and only its argon2id hash is kept.

    The token reads `<lookup>.<secret>`: `lookup` finds the row, the secret is verified
    against `secret_hash`. Revoked and expired tokens stay, for the audit trail.

    `kind`: "api", a bearer token for the REST API (`protect user token`, POST /auth/login),
    or "web", a web page session's (its cookie holds it): each is refused by the other.
    Every token ends at `expires_at` (app/services/users.py sets it from the settings).
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    lookup: str = Field(unique=True, max_length=16)
    secret_hash: str
    name: str = Field(max_length=64)
    kind: str = Field(default="api", max_length=8)  # api|web
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False)
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


# --- the child and the case -----------------------------------------------------------------


class ChildBase(SQLModel):
    """Fields of a child's record: personal data, never sent to Prefect."""

    name: str = Field(max_length=64)
    sex: str = Field(max_length=1)  # M|F
    birth_date: date
    id_number: str | None = Field(default=None, max_length=18, index=True)
    has_hukou: bool = False
    hukou_district: str | None = Field(default=None, max_length=16)
    district: str = Field(max_length=16)  # where the child lives or was found
    address: str | None = None
    categories: list[str] = _json(default_factory=list)


class Child(ChildBase, table=True):
    """A protected child (the table)."""

    # Screening imports look children up by name, birth date and district (duplicates).
    __table_args__ = (Index("ix_child_identity", "birth_date", "name", "district"),)

    id: int | None = Field(default=None, primary_key=True)


class GuardianBase(SQLModel):
    """A parent or guardian of a child: personal data."""

    name: str = Field(max_length=64)
    relation: str = Field(max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = None
    id_number: str | None = Field(default=None, max_length=18)


class Guardian(GuardianBase, table=True):
    """A guardian (the table)."""

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="child.id", index=True)


class Case(SQLModel, table=True):
    """A protection case: one child, many procedures. Its number is safe to show anywhere."""

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(unique=True, max_length=32)
    child_id: int = Field(foreign_key="child.id", index=True)
    district: str = Field(max_length=16)
    source: str = Field(default="coordinator", max_length=32)
    status: str = Field(default="open", max_length=16)
    opened_at: datetime = _ts(nullable=False)
    closed_at: datetime | None = _ts(nullable=True)
    placed_at: date | None = None  # placement without family: J2's clock starts here
    family_found_at: datetime | None = _ts(nullable=True)


# --- the engine's state ---------------------------------------------------------------------


class ProcedureRun(SQLModel, table=True):
    """One procedure instance for a case = one Prefect flow run."""

    __table_args__ = (UniqueConstraint("case_id", "start_key"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    code: str = Field(max_length=8)
    start_key: str = Field(max_length=128)  # idempotency: who started it and why
    parent_run_id: int | None = Field(default=None, foreign_key="procedurerun.id")
    params: dict[str, Any] = _json(default_factory=dict)  # codes and dates only: go to Prefect
    status: str = Field(default="starting", max_length=16)  # starting|running|completed|failed
    flow_run_id: str | None = Field(default=None, max_length=36, index=True)
    outcome: str | None = Field(default=None, max_length=64)
    started_at: datetime = _ts(nullable=False)
    ended_at: datetime | None = _ts(nullable=True)


class HumanTask(SQLModel, table=True):
    """A human step: an agency must decide before `due_at`, or the task climbs its ladder."""

    __table_args__ = (
        UniqueConstraint("procedure_run_id", "step_key"),
        Index("ix_task_open_due", "status", "due_at"),
        Index("ix_task_escalate", "status", "escalate_at"),
        Index("ix_task_owner", "owner", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    procedure_run_id: int = Field(foreign_key="procedurerun.id")
    case_id: int = Field(foreign_key="case.id", index=True)
    step_key: str = Field(max_length=64)
    step: str = Field(max_length=64)  # the step definition's name, e.g. "r2.outreach"
    title: str
    owner: str = Field(max_length=64)  # current rung: agency code
    owner_role: str = Field(default="worker", max_length=16)  # worker|supervisor
    first_owner: str = Field(max_length=64)
    ladder: list[str] = _json(default_factory=list)  # rungs "agency" or "agency/supervisor"
    rung: int = 0
    deadline: str = Field(max_length=16)  # e.g. "5wd", "24h"
    rung_deadline: str = Field(max_length=16)
    status: str = Field(default="open", max_length=16)  # open|done|cancelled
    created_at: datetime = _ts(nullable=False)
    due_at: datetime = _ts(nullable=False)
    escalate_at: datetime | None = _ts(nullable=True)  # null at the top of the ladder
    completed_at: datetime | None = _ts(nullable=True)
    completed_by: str | None = Field(default=None, max_length=64)
    decision: dict[str, Any] = _json(default_factory=dict)  # codes and dates; the flow reads it
    record: dict[str, Any] = _json(default_factory=dict)  # the full form: stays here


class Timer(SQLModel, table=True):
    """A durable timer: the sweep resumes the run when it is due, unless it is cancelled."""

    __table_args__ = (
        UniqueConstraint("procedure_run_id", "key"),
        Index("ix_timer_pending_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    procedure_run_id: int = Field(foreign_key="procedurerun.id")
    case_id: int = Field(foreign_key="case.id", index=True)
    key: str = Field(max_length=64)
    due_at: datetime = _ts(nullable=False)
    status: str = Field(default="pending", max_length=16)  # pending|fired|cancelled
    fired_at: datetime | None = _ts(nullable=True)


class StepJournal(SQLModel, table=True):
    """The result of one of a procedure run's steps, kept for its replays.

    After a resume Prefect runs the flow function again from the top. Each finished step
    (open a task, notify, start another procedure, …) is idempotent and its Prefect task
    result is persisted, but replaying it through Prefect costs a task run with its states
    on the server for every finished step, on every resume. A flow reads its run's journal
    once when it begins and takes finished steps' results from it instead
    (flows/steps.py); ids, codes, dates and booleans only, as in Prefect.
    """

    __table_args__ = (UniqueConstraint("procedure_run_id", "op", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    procedure_run_id: int = Field(foreign_key="procedurerun.id")
    op: str = Field(max_length=32)
    key: str = Field(max_length=64)  # a digest of the step's inputs
    result: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts(nullable=False)


class AuditEvent(SQLModel, table=True):
    """Who did what, when: every change and every read of personal data."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64, index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    procedure_run_id: int | None = Field(default=None, foreign_key="procedurerun.id")
    task_id: int | None = Field(default=None, foreign_key="humantask.id")
    detail: dict[str, Any] = _json(default_factory=dict)


class OutboxMessage(SQLModel, table=True):
    """A message to deliver: resume a run, start a run, or notify an agency."""

    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # resume|start|notify|robot|hotline|recover
    dedupe_key: str = Field(unique=True, max_length=160)
    payload: dict[str, Any] = _json(default_factory=dict)
    status: str = Field(default="pending", max_length=16)  # pending|delivered|dead
    attempts: int = 0
    created_at: datetime = _ts(nullable=False)
    next_attempt_at: datetime = _ts(nullable=False)
    delivered_at: datetime | None = _ts(nullable=True)
    last_error: str | None = None


# --- sealed records (J3) --------------------------------------------------------------------


class SealedRecord(SQLModel, table=True):
    """A minor's sealed criminal record (J3): only judicial roles may read it, and every read,
    allowed or refused, is in the audit trail (app/services/cases.py:read_sealed_record)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    procedure_run_id: int = Field(foreign_key="procedurerun.id", unique=True)
    record_no: str = Field(max_length=40)
    authority: str = Field(max_length=16)  # court|procuratorate: who sealed it
    sealed_on: date
    content: dict[str, Any] = _json(default_factory=dict)  # the J3 steps' records, by step key
    created_at: datetime = _ts(nullable=False)


# --- screening and dossiers (S2) ------------------------------------------------------------


class ScreeningBatch(SQLModel, table=True):
    """One screening list a community sent: the same file twice is the same batch.

    Counts only: the rows themselves become children and dossiers, duplicate candidates, or
    lines of the rejects file that goes back to the community.
    """

    __table_args__ = (UniqueConstraint("community", "file_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    community: str = Field(foreign_key="agency.code", max_length=64, index=True)
    file_hash: str = Field(max_length=64)  # sha256 of the file's bytes
    file_name: str = Field(max_length=255)
    file_format: str = Field(max_length=8)  # csv|xlsx
    rows: int = 0  # data rows read (blank rows skipped)
    accepted: int = 0  # created + duplicates + unchanged
    rejected: int = 0
    duplicates: int = 0  # new duplicate candidates for a person to resolve
    created: int = 0  # new children, each with a dossier
    unchanged: int = 0  # rows already on file from an earlier list
    proposals: int = 0  # procedures proposed for the new dossiers
    imported_at: datetime = _ts(nullable=False)
    actor: str = Field(max_length=64)


class Dossier(SQLModel, table=True):
    """The special dossier (专项档案) of a child in difficulty: its categories and origin."""

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="child.id", unique=True)
    community: str = Field(foreign_key="agency.code", max_length=64)
    batch_id: int = Field(foreign_key="screeningbatch.id", index=True)  # the screening it came from
    row_key: str = Field(max_length=40, index=True)  # the row's natural key (a digest)
    categories: list[str] = _json(default_factory=list)
    risks: list[str] = _json(default_factory=list)  # what the screening worker saw (codes)
    case_id: int | None = Field(default=None, foreign_key="case.id")  # once a procedure starts
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class DuplicateCandidate(SQLModel, table=True):
    """A screening row that may be a child already on file: a person merges or keeps apart."""

    __table_args__ = (
        UniqueConstraint("match_child_id", "row_key"),
        Index("ix_duplicate_status", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="screeningbatch.id", index=True)
    row_no: int  # the row in the file the community sent
    community: str = Field(max_length=64)
    reason: str = Field(max_length=32)  # id_number|name_birth_district
    match_child_id: int = Field(foreign_key="child.id")
    row_key: str = Field(max_length=40)
    record: dict[str, Any] = _json(default_factory=dict)  # the row as read: personal data
    status: str = Field(default="pending", max_length=16)  # pending|merged|kept_apart
    result_child_id: int | None = Field(default=None, foreign_key="child.id")
    created_at: datetime = _ts(nullable=False)
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=64)


class RiskProposal(SQLModel, table=True):
    """A procedure the risk rules propose for a child; a coordinator confirms it."""

    __table_args__ = (UniqueConstraint("dossier_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossier.id", index=True)
    child_id: int = Field(foreign_key="child.id")
    code: str = Field(max_length=8)  # a procedure code
    rule: str = Field(max_length=64)  # the rule of risk.toml that proposed it
    status: str = Field(default="proposed", max_length=16)  # proposed|confirmed
    procedure_run_id: int | None = Field(default=None, foreign_key="procedurerun.id")
    proposed_at: datetime = _ts(nullable=False)
    decided_at: datetime | None = _ts(nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
# --- hotline reports (S1) -------------------------------------------------------------------


class HotlineReport(SQLModel, table=True):
    """A report from the 12355 or 12345 hotline, kept with what triage made of it.

    `content` is the report as the platform sent it (the reporter's contact, the description,
    the child's details): personal data, case store only. The codes beside it (source,
    reference, categories, agencies, procedures) are what the procedures and the platform see.
    """

    __table_args__ = (UniqueConstraint("source", "reference"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=8)  # 12355|12345
    reference: str = Field(max_length=64)  # the platform's own number for the report
    received_on: date
    case_id: int = Field(foreign_key="case.id", index=True)
    categories: list[str] = _json(default_factory=list)
    agencies: list[str] = _json(default_factory=list)  # routed to, one S1 run each
    procedures: list[str] = _json(default_factory=list)  # started for the case
    digest: str = Field(max_length=64)  # of the report as sent: a re-submission must match
    content: dict[str, Any] = _json(default_factory=dict)  # the report: stays here
    created_at: datetime = _ts(nullable=False)
