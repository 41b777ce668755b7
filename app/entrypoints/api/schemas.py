"""What the API answers: one model per kind of answer (requests are the service's forms)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler

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

    model_config = ConfigDict(extra="forbid", json_schema_extra=lambda schema, model: (
        _start_described(schema, model)))
    code: str = Field(pattern=r"^[A-Za-z][0-9]$", examples=["R2"])  # "r2" is R2
    params: dict[Short, Short] = Field(default_factory=dict, max_length=20)
    again: bool = False
    reason: Annotated[str | None, BeforeValidator(typed_text("原因"))] = Field(
        default=None, max_length=200)


def _start_described(schema: dict[str, Any], model: Any) -> None:
    """StartIn as the service checks it: the reason a typed text (form_schema.describe); the
    parameters by name among those the procedures declare; what depends on the code, in
    words."""
    from app.adapters.form_schema import CROSS_TITLE, describe
    from flows.catalog import base_procedures

    describe(schema, model, resolve=lambda node: node)
    names = sorted({p.name for spec in base_procedures().values() for p in spec.params})
    schema["properties"]["params"]["propertyNames"] = {"enum": names}
    doc = inspect.cleandoc(model.__doc__ or "")
    schema["description"] = "\n\n".join((doc, CROSS_TITLE + "\n" + (
        "- `params.<name>` params.unknown, <name>.date, <name>.district, <name>.choice, "
        "<name>.agency, <name>.not_text: the parameters the procedure of `code` declares "
        "(`protect procedures show CODE`), each of its kind\n"
        "- `code` code.not_by_hand: a procedure the system starts itself\n"
        "- `reason` reason.required: `again` needs a reason")))


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


# --- what the API takes: request bodies and dates as the gate checks them ---------------------
#
# The intake form, the hotline report and a step's form are taken as JSON objects and checked
# by the service's gate (a suite, then a typed model: app/adapters/validation.py), which keeps
# its codes and messages. The document still gives each body's real schema: `Documented`
# puts a model's schema, as app/adapters/form_schema.py describes it, in place of the
# parameter's `dict[str, Any]`, its models among the document's components.

class Documented:
    """`Annotated[dict[str, Any], Body(), Documented(Model)]`: the body is documented as
    `Model` (described: form_schema.describe, with its `suites`), and still taken as the JSON
    object it is; with several models, as any one of them (`anyOf`), each one's description
    saying what it is for (`notes`). `after` edits a described model's schema further.
    `lazy` gives (models, suites, notes) when the document is made, not at import."""

    def __init__(self, *models: type[BaseModel],
                 suites: dict[type[BaseModel], str | None] | None = None,
                 notes: dict[type[BaseModel], str] | None = None,
                 after: Callable[[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]],
                                 None] | None = None,
                 lazy: Callable[[], tuple[list[type[BaseModel]],
                                          dict[type[BaseModel], str | None],
                                          dict[type[BaseModel], str]]] | None = None) -> None:
        self.models, self.suites, self.notes = list(models), suites or {}, notes or {}
        self.after, self.lazy = after, lazy

    def __get_pydantic_json_schema__(self, _core: Any, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        from pydantic_core import core_schema

        from app.adapters.form_schema import describe

        models, suites, notes = self.lazy() if self.lazy else (self.models, self.suites,
                                                               self.notes)

        def resolve(node: dict[str, Any]) -> dict[str, Any]:
            return handler.resolve_ref_schema(node) if "$ref" in node else node

        schemas = [m.__pydantic_core_schema__ for m in models]
        top = handler(schemas[0] if len(schemas) == 1 else core_schema.union_schema(schemas))
        nodes = [top] if len(models) == 1 else top["anyOf"]
        for model, node in zip(models, nodes, strict=True):
            target = resolve(node)
            describe(target, model, resolve=resolve, suite=suites.get(model))
            if model in notes:
                target["description"] = "\n\n".join(
                    p for p in (notes[model], target.get("description", "")) if p)
            if self.after is not None:
                self.after(target, resolve)
        return top


def _child_and_guardians(node: dict[str, Any], resolve: Any) -> None:
    """The intake form's ID numbers as the gate reads them (normalised, then checked)."""
    from app.adapters.validation import id_number_pattern

    child = resolve(node["properties"]["child"])
    child["properties"]["id_number"] = {
        "anyOf": [{"type": "string", "pattern": id_number_pattern(optional=True)},
                  {"type": "null"}], "default": None,
        "description": "18 characters: 17 digits and a check digit or X (GB 11643-1999); a "
                       "lower-case x is read as X, surrounding spaces are trimmed; blank or "
                       "null: unknown."}
    if "guardians" in node["properties"]:
        guardian = resolve(node["properties"]["guardians"]["items"])
        guardian["properties"]["id_number"] = {
            "anyOf": [{"type": "string", "pattern": id_number_pattern(optional=False)},
                      {"type": "null"}], "default": None,
            "description": "As the child's, checked the same way; null: unknown."}


# The checks of an intake form JSON Schema cannot state, beside child_intake's own.
INTAKE_CROSS = ["- `guardians.N.id_number` id_number.check_digit, "
                "id_number.birth_date_invalid: a guardian's ID number is checked as the "
                "child's."]
REPORT_CROSS = ["- `street` street.unknown: the street office must be one of the child's "
                "district (`protect agency list`)."]


def intake_form_after(node: dict[str, Any], resolve: Any) -> None:
    from app.adapters.form_schema import CROSS_TITLE
    from expectations.described import suite_rules

    _child_and_guardians(node, resolve)
    lines = [f"- `child.{c.field}` {c.code}: {c.message}".replace("child.intake_date",
                                                                 "intake_date")
             for c in suite_rules("child_intake").cross] + INTAKE_CROSS
    node["description"] = "\n\n".join(p for p in (
        "The intake form that opens a case (docs/examples/case-open.json), checked by the "
        "child_intake suite and the typed model.", CROSS_TITLE + "\n" + "\n".join(lines)) if p)


def hotline_report_after(node: dict[str, Any], resolve: Any) -> None:
    from app.adapters.form_schema import CROSS_TITLE
    from app.adapters.validation import or_blank
    from app.domain.agencies import STREETS
    from expectations.described import suite_rules

    _child_and_guardians(node, resolve)
    props = node["properties"]
    props["description"]["maxLength"] = 2000  # the hotline_report suite counts it as sent
    reporter = resolve(props["reporter"])
    # the hotline_report suite's pattern, as sent; the model's 20 characters
    reporter["properties"]["phone"] = {
        "anyOf": [{"type": "string", "pattern": or_blank(r"\+[0-9][0-9-]{4,18}|[0-9][0-9-]{4,19}")},
                  {"type": "null"}],
        "default": None, "description": "Digits and dashes, an optional leading +, at most "
                                        "20 characters; blank or null: none."}
    props["street"] = {
        "anyOf": [{"type": "string", "enum": [f"{d}-{s}" for d, rows in STREETS.items()
                                              for s, _, _ in rows]}, {"type": "null"}],
        "default": None, "description": "The street office where the child is "
                                        "(`<district>-<street>`), one of the child's district."}
    lines = [f"- `{c.field}` {c.code}: {c.message}" for c in suite_rules("hotline_report").cross]
    lines += [f"- `child.{c.field}` {c.code}: {c.message}".replace("child.intake_date",
                                                                   "received_on")
              for c in suite_rules("child_intake").cross] + REPORT_CROSS
    node["description"] = "\n\n".join(p for p in (
        "A hotline report as the platform sends it (docs/examples/hotline-report.json), "
        "checked by the hotline_report and child_intake suites and the typed model.",
        CROSS_TITLE + "\n" + "\n".join(lines)) if p)
