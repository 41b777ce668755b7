"""Every refusal is a JSON error with a stable code; malformed input is a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import add_task
from tests.helpers import intake_form


@pytest.fixture(scope="module")
def coordinator(login: Any) -> dict[str, str]:
    return login("center", "coordinator")


def _error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code and body["message"]
    return dict(body)


def test_malformed_json_is_a_400(client: Any, coordinator: dict[str, str]) -> None:
    r = client.post("/api/v1/cases", content=b'{"child": {', headers={
        **coordinator, "content-type": "application/json"})
    _error(r, 400, "malformed_json")


def test_a_body_of_the_wrong_type_is_a_422_naming_the_body(
        client: Any, coordinator: dict[str, str]) -> None:
    body = _error(client.post("/api/v1/cases", json=[1, 2], headers=coordinator),
                  422, "invalid_request")
    assert body["fields"][0]["field"] == "body"


def test_an_intake_form_with_wrong_types_is_refused_field_by_field(
        client: Any, coordinator: dict[str, str]) -> None:
    form = intake_form()
    form["child"]["birth_date"] = 12
    form["child"]["sex"] = "X"
    body = _error(client.post("/api/v1/cases", json=form, headers=coordinator),
                  422, "validation_failed")
    assert {"child.birth_date", "child.sex"} <= {f["field"] for f in body["fields"]}
    assert all(f["message_zh"] for f in body["fields"])


def test_nul_characters_are_refused_before_the_database(
        client: Any, coordinator: dict[str, str]) -> None:
    form = intake_form()
    form["child"]["address"] = "a\x00b"
    body = _error(client.post("/api/v1/cases", json=form, headers=coordinator),
                  422, "validation_failed")
    assert body["fields"][0]["field"] == "child.address"


def test_path_and_query_parameters_of_the_wrong_form_are_422(
        client: Any, coordinator: dict[str, str]) -> None:
    _error(client.get("/api/v1/tasks/abc", headers=coordinator), 422, "invalid_request")
    _error(client.get("/api/v1/tasks/99999999999", headers=coordinator), 422,
           "invalid_request")
    _error(client.get("/api/v1/cases/not-a-case", headers=coordinator), 422, "invalid_request")
    body = _error(client.get("/api/v1/tasks", params={"limit": "many"}, headers=coordinator),
                  422, "invalid_request")
    assert body["fields"][0]["field"] == "query.limit"


def test_unknown_things_are_404_and_unknown_routes_too(
        client: Any, coordinator: dict[str, str]) -> None:
    _error(client.get("/api/v1/cases/C2026-999999", headers=coordinator), 404, "not_found")
    _error(client.get("/api/v1/tasks/2000000000", headers=coordinator), 404, "not_found")
    _error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    _error(client.delete("/api/v1/cases", headers=coordinator), 405, "method_not_allowed")


def test_a_duplicate_child_is_a_409(client: Any, coordinator: dict[str, str]) -> None:
    form = intake_form()
    assert client.post("/api/v1/cases", json=form, headers=coordinator).status_code == 201
    _error(client.post("/api/v1/cases", json=form, headers=coordinator), 409, "conflict")


def test_completing_a_task_twice_is_one_completion_and_a_409(
        client: Any, login: Any) -> None:
    from tests.helpers import open_case

    case = open_case()
    task = add_task(case, step="r2.outreach", owner="center", ladder=("center", "office"))
    worker = login("center", "worker")
    form = {"outcome": "refused", "location": "路口"}
    first = client.post(f"/api/v1/tasks/{task}/complete", json=form, headers=worker)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "done"
    _error(client.post(f"/api/v1/tasks/{task}/complete", json=form, headers=worker), 409,
           "conflict")
    done = client.get(f"/api/v1/tasks/{task}", headers=worker).json()
    assert done["status"] == "done" and done["completed_by"] == "center"
    assert done["record"]["location"] == "路口"


def test_login_gives_a_working_token_and_logout_revokes_it(client: Any, store: str) -> None:
    from app.adapters.store import db
    from app.domain import clock
    from app.services import users as auth

    with db() as session:
        auth.add_user(session=session, username="login-test", agency="center",
                      roles=["coordinator"], password="long enough pass", actor="test",
                      now=clock.now())
    _error(client.post("/api/v1/auth/login",
                       json={"username": "login-test", "password": "wrong one!"}),
           401, "unauthorized")
    _error(client.post("/api/v1/auth/login",
                       json={"username": "nobody", "password": "long enough pass"}),
           401, "unauthorized")
    r = client.post("/api/v1/auth/login",
                    json={"username": "login-test", "password": "long enough pass"})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/auth/me", headers=headers).json()["username"] == "login-test"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    _error(client.get("/api/v1/auth/me", headers=headers), 401, "unauthorized")


def test_tokens_and_passwords_are_stored_as_argon2id_hashes(client: Any, login: Any) -> None:
    from sqlmodel import select

    from app.adapters.store import db
    from models import ApiToken, User

    headers = login("center", "worker")
    token = headers["Authorization"].split()[1]
    with db() as session:
        hashes = [t.secret_hash for t in session.exec(select(ApiToken))]
        passwords = [u.password_hash for u in session.exec(select(User)) if u.password_hash]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes + passwords)
    assert not any(token.split(".")[1] in h for h in hashes)
