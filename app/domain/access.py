"""Who may do what: roles × actions, and the row rules (which tasks, which case fields).

One module for the API, the CLI and the web pages. Pure: no session, no Prefect. The use cases
(app/services/cases.py, tasks.py) apply the row rules when they read; the API checks the action
first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Role = Literal["coordinator", "worker", "supervisor", "manager", "judicial"]
ROLES: tuple[Role, ...] = ("coordinator", "worker", "supervisor", "manager", "judicial")

@dataclass(frozen=True)
class Principal:
    """Who is asking: a user of one agency with one or more roles."""

    username: str
    agency: str
    roles: frozenset[str]
    user_id: int | None = None

    @property
    def actor(self) -> str:
        """The audit trail's name for this user."""
        return f"user:{self.username}"

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


# Roles × actions. An action not listed for any of a user's roles is refused (403).
POLICY: dict[str, frozenset[str]] = {
    "procedures.list": frozenset(ROLES),
    "case.open": frozenset({"coordinator"}),
    "case.list": frozenset({"coordinator", "manager"}),
    # Workers and supervisors: only cases where their agency has a task, only the fields
    # those tasks need (case_fields_for); managers: the summary, no personal data.
    "case.read": frozenset({"coordinator", "manager", "worker", "supervisor"}),
    "case.timeline": frozenset({"coordinator", "manager"}),
    "case.family_found": frozenset({"coordinator"}),
    "procedure.start": frozenset({"coordinator"}),
    "procedure.runs": frozenset({"coordinator", "manager"}),
    "task.inbox": frozenset({"coordinator", "manager", "worker", "supervisor"}),
    "task.read": frozenset({"coordinator", "worker", "supervisor"}),
    "task.complete": frozenset({"coordinator", "worker", "supervisor"}),
    "sealed.read": frozenset({"judicial"}),
    "intake.receive": frozenset({"coordinator"}),
    # A community's workers send its own list (the route checks the community); coordinators
    # any community's.
    "screening.import": frozenset({"coordinator", "worker", "supervisor"}),
    "screening.review": frozenset({"coordinator"}),
    "indicators.read": frozenset({"coordinator", "manager", "supervisor"}),
}

# Roles that see every task and case without an agency rule.
UNRESTRICTED = frozenset({"coordinator"})
# Roles that see lists and summaries, never personal data.
NO_PERSONAL_DATA = frozenset({"manager"})


def allowed(principal: Principal, action: str) -> bool:
    """Whether any of the principal's roles may take `action` (unknown actions: never)."""
    return principal.has(*POLICY.get(action, frozenset()))


# --- the case fields a step needs ----------------------------------------------------------

# Everyone who may see a case sees at least its summary: no personal data.
SUMMARY_FIELDS = frozenset({"case", "id", "district", "status", "age_years", "categories"})
CHILD_IDENTITY = frozenset({"child.name", "child.sex", "child.birth_date", "child.id_number"})
CHILD_CONTACT = frozenset({"child.address", "guardians"})

# The steps that need more than the summary, by step name or procedure prefix ("r2.").
# A step not listed here sees the summary only.
STEP_CASE_FIELDS: dict[str, frozenset[str]] = {
    # Finding, identifying and tracing the family: the police need who the child is.
    "r1.finding": CHILD_IDENTITY,
    "r2.outreach": CHILD_IDENTITY,
    "r2.intake": CHILD_IDENTITY | CHILD_CONTACT,
    "r2.identity": CHILD_IDENTITY | CHILD_CONTACT,
    "j1.": CHILD_IDENTITY,
    "j2.registration": CHILD_IDENTITY,
    # Bringing the child home and visiting: who and where.
    "r3.": CHILD_IDENTITY | CHILD_CONTACT,
    "r4.": CHILD_IDENTITY | CHILD_CONTACT,
    # Enrolment, admission and payment need the child's identity (not the family's).
    "r1.admission": CHILD_IDENTITY,
    "r5.": CHILD_IDENTITY,
    "e1.": CHILD_IDENTITY,
    "m1.": CHILD_IDENTITY,
    "m2.": CHILD_IDENTITY,
    # Home visits and counselling: who and where.
    "p2.visit": CHILD_IDENTITY | CHILD_CONTACT,
    "r7.visit": CHILD_IDENTITY | CHILD_CONTACT,
}


def step_case_fields(step: str) -> frozenset[str]:
    """The case fields a task of `step` may show: the summary plus what the step declares."""
    extra: frozenset[str] = frozenset()
    for key, fields in STEP_CASE_FIELDS.items():
        if step == key or (key.endswith(".") and step.startswith(key)):
            extra |= fields
    return SUMMARY_FIELDS | extra


ALL_CASE_FIELDS = SUMMARY_FIELDS | CHILD_IDENTITY | CHILD_CONTACT | frozenset(
    {"child.hukou_district", "child.has_hukou", "opened_at", "source", "family_found_at"})


def personal(fields: frozenset[str]) -> bool:
    """Whether a set of case fields holds personal data (anything past the summary)."""
    return bool(fields - SUMMARY_FIELDS - {"opened_at", "source", "family_found_at"})


def age_years(birth: date, on: date) -> int:
    """Whole years of age on a day."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def shape_case(full: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """Keep only `fields` of a full case view ("child.name" keeps child → name)."""
    out: dict[str, Any] = {}
    for key, value in full.items():
        if key == "child" and isinstance(value, dict):
            child = {k: v for k, v in value.items() if f"child.{k}" in fields}
            if child:
                out["child"] = child
        elif key in fields:
            out[key] = value
    return out
