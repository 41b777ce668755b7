"""The API against its own OpenAPI document (schemathesis, every check on), as each role.

Each role's token (coordinator, worker, supervisor, manager, judicial) runs every operation of
the document, in-process, through schemathesis' examples, coverage and fuzzing phases, with
all of its checks: no 5xx; statuses, content types, headers and bodies as documented; data the
document calls valid is accepted and data it calls invalid refused; a method the path does
not take is a 405 with an `Allow` that lists what it does; no operation answers without a
token. Three in four valid path parameters are the ids of seeded rows (a case, open tasks, a
sealed record, a duplicate candidate, a dossier), and half the valid bodies that depend on a
row are made for it (a task's step's form, a user's password, a community's list), so the
handlers are reached, not only their 404 (a test marked `last` checks every operation
answered a 2xx). The coordinator runs everything; the other roles skip the operations that
take no token and three in four of the coverage phase's cases (about 55 s in all here).
Whatever an accepted intake form or report held in a child's or a person's fields goes to
PERSONAL, for tests/test_personal_data.py to look for in the logs and in Prefect.

What JSON Schema cannot say is said beside it: a body that the document calls valid may still
be refused for a check across fields that the operation's description lists (an ID number's
check digit, a birth date after the intake date, a street of another district, another
step's form for the task, a procedure's own parameters, a file that is no screening list).
`refused_only_beyond_the_schema` holds those refusals to exactly those codes, so a refusal the
document should have foreseen still fails the test.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from app.adapters.store import db
from app.domain import clock
from app.entrypoints.api import create_app
from app.services import cases as services
from expectations.runner import without_great_expectations
from tests.api.conftest import add_sealed_record, add_task
from tests.conftest import HOME, worker_homes
from tests.helpers import PERSONAL, open_case, token_headers

# Every role, with the agency of its token (the coordinator reaches most of the API, the
# other roles mostly its refusals; the police's workers and supervisors hold the tasks).
ROLES: dict[str, str] = {"coordinator": "center", "worker": "psb", "supervisor": "psb",
                         "manager": "office", "judicial": "court"}
MAX_EXAMPLES = 3  # fuzzed examples per operation and role, beside the examples and coverage
STEPS = ("r2.identity", "r3.assessment", "m2.approval")  # the seeded open tasks' steps
# The operations whose bodies carry checks JSON Schema cannot state: a valid-looking body
# may be refused there (422), and the custom check says by which codes.
BEYOND_THE_SCHEMA = [("GET", "/api/v1/indicators"),
                     ("POST", "/api/v1/cases"), ("POST", "/api/v1/intake"),
                     ("POST", "/api/v1/tasks/{task_id}/complete"),
                     ("POST", "/api/v1/cases/{case_ref}/procedures")]
IMPORTS = ("POST", "/api/v1/imports")  # bytes: 400 when they are no CSV or XLSX list
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"  # a valid form per step
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis' own


AIMED = "X-Test-Aimed"  # a request this test aimed at a seeded row, not schemathesis' own


def own_address(app: Any) -> Any:
    """The app, with every request from an address of the run's own: its wrong logins lock
    that address out (tests/api/test_login_throttle.py), not the other tests' clients'; the
    logins this test aims at its own user come from another, never locked out."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            aimed = any(k.decode().lower() == AIMED.lower() for k, _ in scope["headers"])
            scope = {**scope, "client": ("192.0.2.97" if aimed else "192.0.2.98", 50000)}
        await app(scope, receive, send)

    return asgi


def config() -> SchemathesisConfig:
    """Every check, schemathesis' defaults; a 422 (a 400 for a file) is a valid answer to
    valid-looking data only where `refused_only_beyond_the_schema` then judges it."""
    beyond = [{"include-path": path, "include-method": method, "checks": {
        "positive_data_acceptance": {"expected-statuses": [*POSITIVE, "422"]}}}
        for method, path in BEYOND_THE_SCHEMA]
    beyond.append({"include-path": IMPORTS[1], "include-method": IMPORTS[0], "checks": {
        "positive_data_acceptance": {"expected-statuses": [*POSITIVE, "400"]}}})
    # Any step's form: the coverage phase would send thousands (every field of 90 forms).
    beyond.append({"include-path": "/api/v1/tasks/{task_id}/complete",
                   "phases": {"coverage": {"enabled": False}}})
    return SchemathesisConfig.from_dict({
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        "operations": beyond,
    })


schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", own_address(create_app()),
                                        config=config())


@dataclass(frozen=True)
class Seeded:
    """The rows the path parameters point at, half the time, and what a valid body for them
    is (a task's step's form, a user's password, a screening list)."""

    values: dict[str, list[str]]  # path parameter → the seeded rows' references
    steps: dict[str, str]  # task id → its step
    login: dict[str, str]  # a user's username and password
    screening_list: bytes  # a community's list, already imported once


@pytest.fixture(scope="module")
def seeded(store: str) -> Seeded:
    """A case with open tasks of three steps at the police (psb), a sealed record, a
    screening list imported twice over (a dossier, a duplicate candidate), a user with a
    password."""
    from sqlmodel import select

    from app.services import users
    from models import Dossier, DuplicateCandidate
    from tests.test_screening import People, csv_bytes, do_import

    case_no = open_case()
    with db() as session:
        case_id = int(services.get_case(session=session, case_ref=case_no).id or 0)
    tasks = {str(add_task(case_no, step=step)): step for step in STEPS for _ in range(2)}
    people = People()
    rows = [people.row() for _ in range(2)]
    listed = csv_bytes(rows)
    with without_great_expectations():  # the screening suite in plain Python: no GE import
        first = do_import(listed)
        again = do_import(csv_bytes([[f"{rows[0][0]}乙", *rows[0][1:]]]))  # the same ID number
    login = {"username": f"sx-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(16)}
    with db() as session:
        dossier = session.exec(select(Dossier.id).where(Dossier.batch_id == first.batch)).first()
        candidate = session.exec(select(DuplicateCandidate.id).where(
            DuplicateCandidate.batch_id == again.batch)).one()
        users.add_user(session=session, agency="center", roles=["coordinator"], actor="test",
                       now=clock.now(), **login)
    return Seeded(values={"case_ref": [case_no, str(case_id)], "task_id": list(tasks),
                          "record_id": [str(add_sealed_record(case_no))],
                          "candidate_id": [str(candidate)], "dossier_id": [str(dossier)]},
                  steps=tasks, login=login, screening_list=listed)


@pytest.fixture(scope="module")
def tokens(store: str) -> dict[str, dict[str, str]]:
    """Each role's token, and one more each for logging out."""
    out = {role: token_headers(agency, role) for role, agency in ROLES.items()}
    return out | {f"{role}:logout": token_headers(agency, role) for role, agency in ROLES.items()}


# The fields of a child's, a guardian's or a reporter's personal data in the bodies the API
# takes; what an accepted body held there is looked for in every log and in Prefect by
# tests/test_personal_data.py (PERSONAL), as the other tests' children are.
PERSONAL_FIELDS = {"name", "id_number", "address", "phone", "description"}


def keep_personal(case: Any, response: Any) -> None:
    if response.status_code >= 300 or case.operation.path not in ("/api/v1/cases",
                                                                  "/api/v1/intake"):
        return

    def texts(value: Any, key: str = "") -> list[str]:
        if isinstance(value, dict):
            return [t for k, v in value.items() for t in texts(v, k)]
        if isinstance(value, list):
            return [t for v in value for t in texts(v, key)]
        return [value.strip()] if key in PERSONAL_FIELDS and isinstance(value, str) else []

    # Long and varied enough to be this body's own, not a run of zeros or a word of a log.
    PERSONAL.extend(t for t in texts(case.body) if len(t) >= 8 and len(set(t)) >= 5
                    and not re.fullmatch(r"[a-z_]+", t))  # a code's shape: also in logs


def _pick(value: Any, *, of: int) -> int | None:
    """None for one value in `of` (which, the value decides, so that a run is repeatable),
    else a number to pick a seeded row with."""
    choice = zlib.crc32(repr(value).encode())
    return None if choice % of == 0 else choice // of


def aim_at_seeded_rows(case: Any, seeded: Seeded) -> None:
    """Three in four cases whose path parameters are valid: the seeded rows' instead; and
    half the cases whose body is valid, for an operation whose body depends on a row (a
    task's step, a user, a community's list, a case's running procedures): a valid one."""
    from schemathesis.core.parameters import ParameterLocation

    meta = case.meta
    if meta is None:
        return

    def positive(location: Any) -> bool:
        component = meta.components.get(location)
        return component is None or component.mode.is_positive

    pick = _pick(sorted(case.path_parameters.items()), of=4) if case.path_parameters else None
    if pick is not None and positive(ParameterLocation.PATH):
        for name in list(case.path_parameters):
            if name in seeded.values:
                values = seeded.values[name]
                case.path_parameters[name] = values[pick % len(values)]
    body = case.body if not isinstance(case.body, bytes) else case.body[:64]
    if case.method.upper() != "POST" or not meta.generation.mode.is_positive or _pick(
            (body, sorted((case.query or {}).items())), of=2) is None:
        return
    path = case.operation.path
    step = seeded.steps.get(str(case.path_parameters.get("task_id")))
    if path == "/api/v1/tasks/{task_id}/complete" and step is not None:
        case.body = json.loads((EXAMPLES / f"{step}.json").read_text(encoding="utf-8"))
    elif path == "/api/v1/auth/login":
        case.body = dict(seeded.login)
        case.headers = {**(case.headers or {}), AIMED: "1"}
    elif path == "/api/v1/imports":
        case.body = seeded.screening_list
        case.query = {**(case.query or {}), "community": "community:xingqing-fenghuang",
                      "file_name": "list.csv"}
    elif path == "/api/v1/cases/{case_ref}/procedures":
        case.body = {"code": "R5"}  # by hand, no parameter: a 201, then a 409 (running)


# --- what the document says beside JSON Schema --------------------------------------------------


def listed_codes(description: str) -> set[str]:
    """The codes a description lists as checked beyond its schema (form_schema.CROSS_TITLE:
    one "- `field` code, code: message" line each)."""
    return {code for line in description.splitlines() if line.startswith("- `")
            for code in re.findall(r"\b[a-z_]+\.[a-z_]+\b",
                                   re.sub(r"`[^`]*`", "", line.split(":", 1)[0]))}


@functools.cache
def _document() -> dict[str, Any]:
    return dict(create_app().openapi())


def _body_description(path: str) -> str:
    schema = _document()["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return str(schema["schema"].get("description", ""))


def _task_step(task_id: Any) -> str | None:
    from models import HumanTask

    with db() as session:
        task = session.get(HumanTask, int(task_id))
        return task.step if task is not None else None


def _allowed(case: Any, fields: list[dict[str, Any]]) -> bool:
    """Whether a refusal of a body the document calls valid names only checks the document
    lists beside its schema (the body's, or the operation's, description)."""
    method, path = case.method.upper(), case.operation.path
    codes = {f["code"] for f in fields}
    if path == "/api/v1/indicators":  # a period that ends before it starts
        return "until.before_since" in _document()["paths"][path]["get"]["description"] and (
            codes <= {"until.before_since"})
    if path in ("/api/v1/cases", "/api/v1/intake"):
        return codes <= listed_codes(_body_description(path))
    if path == "/api/v1/cases/{case_ref}/procedures":  # the procedure's own parameters
        return all(f["field"].startswith("params") or f["code"] in (
            "code.not_by_hand", "reason.required") for f in fields)
    if path == "/api/v1/tasks/{task_id}/complete":
        from app.entrypoints.api.routers.tasks import described_form

        step = _task_step(case.path_parameters["task_id"])
        assert step is not None, "a task that does not exist is a 404, not a 422"
        schema = described_form(step)
        if not jsonschema.Draft202012Validator(
                schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).is_valid(case.body):
            return True  # another step's form: refused as the task's own form refuses it
        listed = listed_codes(schema.get("description", ""))
        return all(f["field"] == "form" or f["code"] in listed
                   or f["code"].endswith((".value_error", ".assertion_error")) for f in fields)
    raise AssertionError(f"{method} {path} takes no body with checks beyond its schema")


def refused_only_beyond_the_schema(ctx: Any, response: Any, case: Any) -> bool | None:
    """A body the document calls valid, refused: only by the checks listed beside the schema
    (422), or as a file that is no screening list (400)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    op = (case.method.upper(), case.operation.path)
    if response.status_code == 400 and op == IMPORTS:
        assert response.json()["error"]["code"] == "invalid_screening_file", response.text
    if response.status_code != 422 or op not in BEYOND_THE_SCHEMA:
        return None
    fields = response.json()["error"]["fields"]
    assert _allowed(case, fields), (
        f"{op[0]} {op[1]}: a body the document calls valid was refused for "
        f"{sorted(f['code'] for f in fields)}, which the document does not list")
    return None


def skipped_for_other_roles(case: Any) -> bool:
    """What the coordinator's run alone does: the operations without a token (the same for
    every role), and three in four of the coverage phase's cases (its boundary values of
    every parameter; for the other roles, mostly refused by the access rules anyway)."""
    from schemathesis.generation.meta import CoveragePhaseData

    if not case.operation.definition.raw.get("security"):
        return True
    return case.meta is not None and isinstance(case.meta.phase.data, CoveragePhaseData) and (
        _pick((case.method, case.path_parameters, case.query, repr(case.body)[:200]), of=4)
        is not None)


@pytest.mark.parametrize("role", sorted(ROLES))
@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_is_what_its_document_says(case: Any, role: str, seeded: Seeded,
                                          tokens: dict[str, dict[str, str]]) -> None:
    from schemathesis.core.parameters import ParameterLocation

    if role != "coordinator" and skipped_for_other_roles(case):
        return
    aim_at_seeded_rows(case, seeded)
    # The role's token, unless the case is about the token itself (sent without one, or a
    # wrong one): schemathesis' own header then. Logging out revokes the token it is sent
    # with: a token of its own, revoked by the first call (a 401 for the others).
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    headers = None
    if header is None or header.mode.is_positive:
        logout = case.operation.path == "/api/v1/auth/logout"
        headers = tokens[f"{role}:logout" if logout else role]
    response = case.call_and_validate(headers=headers,
                                      additional_checks=[refused_only_beyond_the_schema])
    keep_personal(case, response)
    note_reached(case, role, response.status_code)


# --- every operation reached -------------------------------------------------------------------

REACHED = "schemathesis-reached.json"  # in each session's home: operation → role → statuses
_reached: dict[str, dict[str, list[int]]] = {}


def note_reached(case: Any, role: str, status: int) -> None:
    """Keep which statuses each operation gave each role, in this session's home (a test
    marked `last` reads every session's, under pytest-xdist too)."""
    if case.method.upper() != case.operation.method.upper():
        return  # a method the path does not take (the coverage phase's)
    seen = _reached.setdefault(f"{case.method.upper()} {case.operation.path}", {}).setdefault(
        role, [])
    if status not in seen:
        seen.append(status)
        (HOME / REACHED).write_text(json.dumps(_reached))


@pytest.mark.last
def test_every_operation_was_reached_by_a_role_that_may_call_it() -> None:
    """Every operation that every role ran answered a 2xx to one of them at least: the seeded
    rows and the tokens took the run past the access rules and the 404s, to the handlers."""
    runs: dict[str, dict[str, set[int]]] = {}
    for home in worker_homes():
        path = home.home / REACHED
        if path.exists():
            for op, by_role in json.loads(path.read_text()).items():
                for role, statuses in by_role.items():
                    runs.setdefault(op, {}).setdefault(role, set()).update(statuses)
    if not runs:
        pytest.skip("the schemathesis run was not part of this session")
    secured = {f"{r.ok().method.upper()} {r.ok().path}": bool(
        r.ok().definition.raw.get("security")) for r in schema.get_all_operations()}
    complete = {op: by_role for op, by_role in runs.items()
                if set(by_role) == (set(ROLES) if secured.get(op) else {"coordinator"})}
    unreached = sorted(op for op, by_role in complete.items()
                       if not any(200 <= s < 300 for st in by_role.values() for s in st))
    assert not unreached, "never answered 2xx: " + "; ".join(
        f"{op} {sorted((r, sorted(st)) for r, st in complete[op].items())}" for op in unreached)
    if set(complete) != set(secured):
        pytest.skip(f"a part of the run only ({len(complete)} of {len(secured)} operations)")
