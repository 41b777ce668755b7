"""The access rules as a table: every role × every endpoint → allowed or refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from app.adapters.store import db
from models import AuditEvent
from tests.api.conftest import add_sealed_record, add_task
from tests.helpers import intake_form

# Who asks: (agency, roles). The task below is owned by the police (psb).
PEOPLE: dict[str, tuple[str, ...]] = {
    "coordinator": ("center", "coordinator"),
    "worker": ("psb", "worker"),
    "supervisor": ("psb", "supervisor"),
    "manager": ("office", "manager"),
    "judicial": ("court", "judicial"),
    "worker of another agency": ("community:xingqing-fenghuang", "worker"),
}

# Each endpoint as it is called. For a refused caller the answer is 403 (or 401); for an
# allowed one anything else. Start and complete send what the service refuses after the
# access check (an unknown procedure, an empty form), so no Prefect run is started here.
ENDPOINTS: dict[str, tuple[str, str, Any]] = {
    "me": ("GET", "/api/v1/auth/me", None),
    "procedures": ("GET", "/api/v1/procedures", None),
    "open case": ("POST", "/api/v1/cases", "intake"),
    "list cases": ("GET", "/api/v1/cases", None),
    "read case": ("GET", "/api/v1/cases/{case}", None),
    "timeline": ("GET", "/api/v1/cases/{case}/timeline", None),
    "family found": ("POST", "/api/v1/cases/{case}/family-found", None),
    "start procedure": ("POST", "/api/v1/cases/{case}/procedures", {"code": "Z9"}),
    "list runs": ("GET", "/api/v1/cases/{case}/procedures", None),
    "inbox": ("GET", "/api/v1/tasks", None),
    "read task": ("GET", "/api/v1/tasks/{task}", None),
    "complete task": ("POST", "/api/v1/tasks/{task}/complete", {}),
    "sealed record": ("GET", "/api/v1/sealed-records/{sealed}", None),
    "hotline intake": ("POST", "/api/v1/intake", {}),
    # An empty list: refused as a file (400) once the caller may send it.
    "import list": ("POST", "/api/v1/imports?community=community:xingqing-fenghuang"
                            "&file_name=list.csv", None),
    "duplicates": ("GET", "/api/v1/screening/duplicates", None),
    "resolve duplicate": ("POST", "/api/v1/screening/duplicates/{missing}/resolve",
                          {"decision": "merge"}),
    "proposals": ("GET", "/api/v1/screening/proposals", None),
    "confirm proposals": ("POST", "/api/v1/screening/dossiers/{missing}/confirm", {}),
    "indicators": ("GET", "/api/v1/indicators", None),
}

Y, N = True, False
# role:            coord  worker  superv  manager  judicial  other-worker
TABLE: dict[str, tuple[bool, ...]] = {
    "me":              (Y,    Y,      Y,      Y,       Y,        Y),
    "procedures":      (Y,    Y,      Y,      Y,       Y,        Y),
    "open case":       (Y,    N,      N,      N,       N,        N),
    "list cases":      (Y,    N,      N,      Y,       N,        N),
    "read case":       (Y,    Y,      Y,      Y,       N,        N),
    "timeline":        (Y,    N,      N,      Y,       N,        N),
    "family found":    (Y,    N,      N,      N,       N,        N),
    "start procedure": (Y,    N,      N,      N,       N,        N),
    "list runs":       (Y,    N,      N,      Y,       N,        N),
    "inbox":           (Y,    Y,      Y,      Y,       N,        Y),
    "read task":       (Y,    Y,      Y,      N,       N,        N),
    # The coordinator's agency (center) never held this police task: the row rule refuses.
    "complete task":   (N,    Y,      Y,      N,       N,        N),
    "sealed record":   (N,    N,      N,      N,       Y,        N),
    "hotline intake":  (Y,    N,      N,      N,       N,        N),
    # The other worker is the community's own: it may send its list; the police may not.
    "import list":     (Y,    N,      N,      N,       N,        Y),
    "duplicates":      (Y,    N,      N,      N,       N,        N),
    "resolve duplicate": (Y,  N,      N,      N,       N,        N),
    "proposals":       (Y,    N,      N,      N,       N,        N),
    "confirm proposals": (Y,  N,      N,      N,       N,        N),
    "indicators":      (Y,    N,      Y,      Y,       N,        N),
}
CASES = [(endpoint, person, allowed)
         for endpoint, row in TABLE.items()
         for person, allowed in zip(PEOPLE, row, strict=True)]


@pytest.fixture(scope="module")
def world(store: str, login: Any) -> dict[str, Any]:
    from tests.helpers import open_case

    case = open_case()
    return {"case": case, "task": add_task(case), "sealed": add_sealed_record(case),
            "missing": 2**31 - 1,
            "headers": {p: login(*spec) for p, spec in PEOPLE.items()}}


def test_the_table_names_every_endpoint_of_the_api(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    operations = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    operations -= {("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login"),
                   ("POST", "/api/v1/auth/logout")}  # open to all, or to any token holder
    tabled = {(m, p.split("?")[0].replace("{case}", "{case_ref}").replace("{task}", "{task_id}")
               .replace("{sealed}", "{record_id}")
               .replace("duplicates/{missing}", "duplicates/{candidate_id}")
               .replace("dossiers/{missing}", "dossiers/{dossier_id}"))
              for m, p, _ in ENDPOINTS.values()}
    assert operations == tabled
    assert set(TABLE) == set(ENDPOINTS)


@pytest.mark.parametrize(("endpoint", "person", "allowed"), CASES,
                         ids=[f"{e}-{p}" for e, p, _ in CASES])
def test_access(client: Any, world: dict[str, Any], endpoint: str, person: str,
                allowed: bool) -> None:
    method, path, body = ENDPOINTS[endpoint]
    path = path.format(**world)
    if body == "intake":
        body = intake_form()
    r = client.request(method, path, json=body, headers=world["headers"][person])
    assert r.headers["content-type"].startswith("application/json")
    if allowed:
        assert r.status_code not in (401, 403, 500), r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"


def test_without_a_token_every_endpoint_answers_401(client: Any, world: dict[str, Any]
                                                    ) -> None:
    for method, path, body in ENDPOINTS.values():
        r = client.request(method, path.format(**world), json=body if body != "intake" else {})
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"


def test_a_manager_sees_the_summary_and_no_personal_data(client: Any, world: dict[str, Any]
                                                         ) -> None:
    r = client.get(f"/api/v1/cases/{world['case']}", headers=world["headers"]["manager"])
    view = r.json()
    assert view["case"] == world["case"] and "age_years" in view and "categories" in view
    assert "child" not in view and "guardians" not in view


def test_a_worker_sees_the_fields_the_step_needs_and_only_those(
        client: Any, world: dict[str, Any], login: Any) -> None:
    from tests.helpers import open_case

    identity = client.get(f"/api/v1/tasks/{world['task']}",
                          headers=world["headers"]["worker"]).json()
    assert identity["case_view"]["child"]["name"].startswith("测试童")  # r2.identity: who
    assert identity["form_schema"]["type"] == "object"

    other = open_case()
    task = add_task(other, step="r6.dibao", owner="mca", ladder=("mca", "mca/supervisor"))
    mca = login("mca", "worker")
    view = client.get(f"/api/v1/tasks/{task}", headers=mca).json()["case_view"]
    assert set(view) == {"case", "id", "district", "status", "age_years", "categories"}
    case_view = client.get(f"/api/v1/cases/{other}", headers=mca).json()
    assert "child" not in case_view
    # The police worker has no task on this case.
    assert client.get(f"/api/v1/cases/{other}",
                      headers=world["headers"]["worker"]).status_code == 403


def test_an_agency_inbox_holds_its_own_tasks_only(client: Any, world: dict[str, Any]) -> None:
    own = client.get("/api/v1/tasks", params={"case": world["case"]},
                     headers=world["headers"]["worker"]).json()
    assert [t["id"] for t in own] == [world["task"]]
    other = client.get("/api/v1/tasks", params={"case": world["case"]},
                       headers=world["headers"]["worker of another agency"]).json()
    assert other == []
    refused = client.get("/api/v1/tasks", params={"agency": "psb"},
                         headers=world["headers"]["worker of another agency"])
    assert refused.status_code == 403


def test_reads_of_personal_data_are_audited_with_who_and_when(
        client: Any, world: dict[str, Any]) -> None:
    from tests.helpers import open_case

    case = open_case()
    for person in ("coordinator", "manager"):
        assert client.get(f"/api/v1/cases/{case}",
                          headers=world["headers"][person]).status_code == 200
    with db() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "case.read")
                              .order_by(AuditEvent.id)).all()
        mine = [e for e in events if e.case_id is not None and e.detail.get("agency")]
        actors = {e.actor for e in mine if e.detail["agency"] == "center"}
    assert any(a.startswith("user:coordinator-") for a in actors)
    # The manager's read held no personal data: no event with the office as reader.
    assert not [e for e in mine if e.detail["agency"] == "office"]
    assert all(e.at is not None for e in mine)


def test_a_refused_sealed_read_is_audited_too(client: Any, world: dict[str, Any],
                                              login: Any) -> None:
    police_clerk = login("psb", "worker", "judicial")
    assert client.get(f"/api/v1/sealed-records/{world['sealed']}",
                      headers=police_clerk).status_code == 200
    community = login("community:xingqing-fenghuang", "judicial")
    r = client.get(f"/api/v1/sealed-records/{world['sealed']}", headers=community)
    assert r.status_code == 403
    with db() as session:
        reads = session.exec(select(AuditEvent).where(
            AuditEvent.action == "sealed_record.read")).all()
    outcomes = {(e.detail["agency"], e.detail["allowed"]) for e in reads
                if e.detail.get("sealed_record_id") == world["sealed"]}
    assert ("psb", True) in outcomes and ("community:xingqing-fenghuang", False) in outcomes
