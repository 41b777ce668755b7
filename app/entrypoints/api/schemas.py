"""What the API answers: one model per kind of answer (requests are the service's forms)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.adapters.validation import typed_text

Short = Annotated[str, Field(max_length=64)]


class LoginIn(BaseModel):
    """A username and password, exchanged for a new API token."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    """The caller: safe to show (no personal data of children)."""

    username: str
    agency: str
    roles: list[str]


class TokenOut(Me):
    """A new token: shown once, kept only hashed; it works until `expires_at`."""

    token: str
    token_id: int
    expires_at: datetime


class ProcedureOut(BaseModel):
    code: str
    area: str
    title: str
    steps: list[str]


class CaseOpened(BaseModel):
    case: str
    id: int
    district: str


# Display fields: beside a code, the name a person reads (app/config/vocabulary.py), in the language
# of `?lang=` or Accept-Language (zh by default). The codes stay; a client keys on them.
Name = Annotated[str, Field(description="The code's name for a person (zh, or en with "
                                        "?lang=en / Accept-Language: en).")]


class CaseRow(BaseModel):
    """A case in a list: no personal data."""

    case: str
    id: int
    district: str
    status: str
    opened_at: datetime
    district_name: Name = ""
    status_name: Name = ""


class ChildView(BaseModel):
    """The child's fields a reader may see (absent: not for this reader)."""

    name: str | None = None
    sex: str | None = None
    birth_date: date | None = None
    id_number: str | None = None
    has_hukou: bool | None = None
    hukou_district: str | None = None
    address: str | None = None


class GuardianView(BaseModel):
    name: str
    relation: str
    phone: str | None = None
    address: str | None = None
    id_number: str | None = None


class CaseView(BaseModel):
    """A case as its reader may see it: the summary, and personal data only where allowed."""

    case: str
    id: int | None = None
    district: str | None = None
    status: str | None = None
    source: str | None = None
    opened_at: datetime | None = None
    family_found_at: datetime | None = None
    age_years: int | None = None
    categories: list[str] | None = None
    child: ChildView | None = None
    guardians: list[GuardianView] | None = None
    district_name: str | None = None
    status_name: str | None = None
    source_name: str | None = None
    category_names: list[str] | None = None


def case_names(view: dict[str, Any], lang: str) -> dict[str, Any]:
    """A case view (services.read_case's) with the names of the codes it holds, beside them."""
    from app.config.vocabulary import Vocabulary

    w, named = Vocabulary(lang), dict(view)
    if view.get("district"):
        named["district_name"] = w.district(view["district"])
    if view.get("status"):
        named["status_name"] = w.status("case", view["status"])
    if view.get("source"):
        named["source_name"] = w.source(view["source"])
    if view.get("categories") is not None:
        named["category_names"] = [w.category(c) for c in view["categories"]]
    return named


class RunOut(BaseModel):
    """One procedure run of a case (one Prefect flow run)."""

    procedure_run: int
    code: str
    case: str
    status: str
    outcome: str | None = None
    flow_run_id: str | None = None
    parent_run_id: int | None = None
    started_at: datetime
    ended_at: datetime | None = None
    procedure_name: Name = ""
    status_name: Name = ""
    outcome_name: Name = ""


class StartIn(BaseModel):
    """Start a procedure for a case; parameters are codes and dates only, those the procedure
    declares. A procedure already running on the case is started again only with `again`
    and a `reason` (kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[A-Za-z][0-9]$", examples=["R2"])  # "r2" is R2
    params: dict[Short, Short] = Field(default_factory=dict, max_length=20)
    again: bool = False
    reason: Annotated[str | None, BeforeValidator(typed_text("原因"))] = Field(
        default=None, max_length=200)


class StartOut(BaseModel):
    procedure_run: int
    code: str
    case: str
    flow_run_id: str | None = None
    queued: bool


class FamilyFoundOut(BaseModel):
    case: str
    timers_cancelled: list[int]


class TimelineEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    procedure_run_id: int | None = None
    task_id: int | None = None
    detail: dict[str, Any]
    sentence: str = Field("", description="The event as a person reads it, in Beijing time: "
                                          "\"2026-12-04 20:46 市公安局 完成 身份核查与寻亲："
                                          "已查找到亲属\" (app/config/vocabulary.py).")


class Timeline(BaseModel):
    """A case's history: its runs (store and Prefect) and its audit events (codes, ids)."""

    case: str
    status: str
    procedures: list[dict[str, Any]]
    events: list[TimelineEvent]
    flow_runs: list[dict[str, Any]]
    prefect_error: str | None = None


class TaskRow(BaseModel):
    """A task in an inbox: no personal data."""

    id: int
    case: str
    step: str
    title: str
    owner: str
    owner_role: str
    rung: int
    status: str
    due_at: datetime
    step_name: Name = ""
    procedure_name: Name = ""
    owner_name: Name = ""
    rung_name: Name = ""
    status_name: Name = ""
    working_days_left: int
    due_provisional: bool = Field(
        False, description="A day up to the due time lies in a year without official calendar "
                           "data: counted on weekends and fixed public holidays only, it may "
                           "still move (docs/engine.md, \"Working days and the calendar file\").")
    overdue: bool


class TaskDetail(TaskRow):
    """A task with the case fields its step needs, its form's schema and, once done, its
    record."""

    ladder: list[str]
    completed_at: datetime | None = None
    completed_by: str | None = None
    decision: dict[str, Any]
    record: dict[str, Any]
    form_schema: dict[str, Any]
    case_view: CaseView


class Completed(BaseModel):
    task: int
    status: str
    resumed: bool


class SealedOut(BaseModel):
    id: int
    case_id: int
    record_no: str
    authority: str
    sealed_on: date
    content: dict[str, Any]
