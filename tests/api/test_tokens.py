"""Tokens end, are of a kind, and an operator can revoke them or deactivate their user:
`expires_at` (API tokens after PROTECT_API_TOKEN_DAYS, a page session's with its cookie),
"api" tokens refused by the pages and "web" ones by the API, `protect user tokens / revoke /
deactivate / reactivate`, at most MAX_LOGIN_TOKENS login tokens per user, and the migration
that gave the tokens already there an expiry."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from app.services import users as auth
from models import ApiToken, AuditEvent, User
from tests.helpers import protect, protect_json


@pytest.fixture(scope="module")
def app(store: str) -> Any:
    from app.entrypoints.api import create_app

    return create_app()


def client(app: Any) -> Any:
    """A client of its own address: logins are counted by address (test_login_throttle.py),
    and the session's clients share "testclient"."""
    from fastapi.testclient import TestClient

    address = f"10.1.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    return TestClient(app, client=(address, 50000), raise_server_exceptions=False)


def new_user(role: str = "coordinator", agency: str = "center") -> tuple[str, str]:
    name, password = f"tok-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with db() as session:
        auth.add_user(session=session, username=name, agency=agency, roles=[role],
                      password=password, actor="test", now=clock.now())
    return name, password


def api_login(c: Any, who: tuple[str, str]) -> dict[str, Any]:
    r = c.post("/api/v1/auth/login", json={"username": who[0], "password": who[1]})
    assert r.status_code == 200, r.text
    return dict(r.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_login(c: Any, who: tuple[str, str]) -> str:
    """Sign in on the login page; the token the session cookie holds."""
    c.cookies.clear()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert csrf
    r = c.post("/login", data={"username": who[0], "password": who[1], "next": "/cases",
                               "csrf_token": csrf.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    # The cookie is signed, not encrypted: base64 of the session's JSON, a timestamp, a MAC.
    signed = c.cookies.get("protect_session")
    return str(json.loads(base64.b64decode(signed.split(".")[0]))["token"])


def row_of(token: str) -> ApiToken:
    with db() as session:
        row = session.exec(select(ApiToken).where(ApiToken.lookup == token[:12])).one()
        session.expunge(row)
        return row


def set_expiry(token_id: int, when: Any) -> None:
    with db() as session:
        row = session.get(ApiToken, token_id)
        row.expires_at = when
        session.add(row)


def test_an_api_token_ends_after_its_lifetime(app: Any) -> None:
    c, who = client(app), new_user()
    before = clock.now()
    answer = api_login(c, who)
    expires = clock.parse_instant(answer["expires_at"])
    days = get_settings().api_token_days
    assert before + timedelta(days=days) <= expires <= clock.now() + timedelta(days=days)
    row = row_of(answer["token"])
    assert (row.kind, row.name, row.expires_at) == ("api", "login", expires)
    me = c.get("/api/v1/auth/me", headers=bearer(answer["token"]))
    assert me.status_code == 200  # verified once: this process now skips argon2 for it
    set_expiry(answer["token_id"], clock.now() - timedelta(seconds=1))
    ended = c.get("/api/v1/auth/me", headers=bearer(answer["token"]))
    assert ended.status_code == 401 and ended.json()["error"]["code"] == "unauthorized"
    assert "expired" in ended.json()["error"]["message"]


def test_the_api_lifetime_is_a_setting_and_the_cli_can_choose_another(
        app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    who = new_user()
    monkeypatch.setenv("PROTECT_API_TOKEN_DAYS", "7")
    get_settings.cache_clear()
    try:
        answer = api_login(client(app), who)
        issued = protect_json("user", "token", who[0])
        chosen = protect_json("user", "token", who[0], "--days", "2")
    finally:
        monkeypatch.delenv("PROTECT_API_TOKEN_DAYS")
        get_settings.cache_clear()
    now = clock.now()
    for expires, days in ((answer["expires_at"], 7), (issued["expires_at"], 7),
                          (chosen["expires_at"], 2)):
        left = clock.parse_instant(expires) - now
        assert timedelta(days=days) - timedelta(minutes=1) < left <= timedelta(days=days)
    refused = protect("user", "token", who[0], "--days", "0", check=False)
    assert refused.returncode == 2


def test_a_page_sessions_token_ends_with_the_session_and_is_no_bearer_token(app: Any) -> None:
    c, who = client(app), new_user()
    token = page_login(c, who)
    row = row_of(token)
    assert (row.kind, row.name) == ("web", "web")
    session_s = get_settings().session_max_age_s
    assert row.expires_at - row.created_at == timedelta(seconds=session_s)
    assert c.get("/cases").status_code == 200
    # The cookie's token, taken out of the cookie, is refused by the API…
    r = c.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    # … and an API token is refused by the pages.
    api_token = api_login(c, who)["token"]
    with db() as session:
        with pytest.raises(auth.Unauthorized):
            auth.authenticate(session=session, token=api_token, now=clock.now(), kind="web")
        assert auth.authenticate(session=session, token=token, now=clock.now(),
                                 kind="web")[1] == row.id
    # When the session's time is up, its token is too, whatever the cookie says.
    set_expiry(int(row.id or 0), clock.now() - timedelta(seconds=1))
    gone = c.get("/cases", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")


def test_signing_out_of_the_pages_revokes_the_sessions_token(app: Any) -> None:
    c, who = client(app), new_user()
    token = page_login(c, who)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/cases").text)
    assert csrf
    assert c.post("/logout", data={"csrf_token": csrf.group(1)},
                  follow_redirects=False).status_code == 303
    assert row_of(token).revoked_at is not None


def test_an_operator_revokes_one_token_or_all_of_them(app: Any) -> None:
    c, who = client(app), new_user()
    first, second, third = (api_login(c, who) for _ in range(3))
    listed = protect_json("user", "tokens", who[0])
    assert [t["id"] for t in listed] == [third["token_id"], second["token_id"],
                                         first["token_id"]]
    assert {t["state"] for t in listed} == {"active"} and listed[0]["kind"] == "api"

    one = protect_json("user", "revoke", who[0], "--token", str(first["token_id"]))
    assert one == {"username": who[0], "revoked": [first["token_id"]]}
    assert c.get("/api/v1/auth/me", headers=bearer(first["token"])).status_code == 401
    assert c.get("/api/v1/auth/me", headers=bearer(second["token"])).status_code == 200

    every = protect_json("user", "revoke", who[0], "--all")
    assert sorted(every["revoked"]) == sorted([second["token_id"], third["token_id"]])
    for t in (second, third):
        assert c.get("/api/v1/auth/me", headers=bearer(t["token"])).status_code == 401
    assert {t["state"] for t in protect_json("user", "tokens", who[0])} == {"revoked"}
    with db() as session:
        events = session.exec(select(AuditEvent).where(
            AuditEvent.action == "token.revoked", AuditEvent.actor == "cli",
            col(AuditEvent.id) > 0).order_by(col(AuditEvent.id).desc()).limit(3)).all()
    assert sorted(e.detail["token_id"] for e in events) == sorted(
        t["token_id"] for t in (first, second, third))
    assert {e.detail["reason"] for e in events} == {"operator"}


def test_revoking_asks_which_and_only_touches_the_named_users_tokens(app: Any) -> None:
    c, who, other = client(app), new_user(), new_user()
    theirs = api_login(c, other)
    neither = protect("user", "revoke", who[0], check=False)
    assert neither.returncode == 2 and "--token ID or --all" in neither.stderr
    both = protect("user", "revoke", who[0], "--all", "--token", "1", check=False)
    assert both.returncode == 2
    wrong = protect("user", "revoke", who[0], "--token", str(theirs["token_id"]), check=False)
    assert wrong.returncode == 2 and f"no token {theirs['token_id']} of user" in wrong.stderr
    assert c.get("/api/v1/auth/me", headers=bearer(theirs["token"])).status_code == 200
    assert protect("user", "revoke", "no-such-user", "--all", check=False).returncode == 2


def test_a_deactivated_user_can_neither_log_in_nor_use_a_token_until_reactivated(
        app: Any) -> None:
    c, who = client(app), new_user()
    issued = protect_json("user", "token", who[0])["token"]
    logged = api_login(c, who)["token"]
    web = page_login(client(app), who)
    out = protect_json("user", "deactivate", who[0])
    assert out["active"] is False and len(out["revoked"]) == 3
    for token in (issued, logged):
        assert c.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert row_of(web).revoked_at is not None
    refused = c.post("/api/v1/auth/login", json={"username": who[0], "password": who[1]})
    assert refused.status_code == 401
    listed = {u["username"]: u for u in protect_json("user", "list")}
    assert listed[who[0]]["active"] is False and listed[who[0]]["tokens"] == 0

    assert protect_json("user", "reactivate", who[0]) == {"username": who[0], "active": True}
    fresh = api_login(c, who)["token"]
    assert c.get("/api/v1/auth/me", headers=bearer(fresh)).status_code == 200
    assert c.get("/api/v1/auth/me", headers=bearer(logged)).status_code == 401  # stays revoked
    with db() as session:
        user = session.exec(select(User).where(User.username == who[0])).one()
        actions = [e.action for e in session.exec(select(AuditEvent).where(
            col(AuditEvent.action).in_(("user.deactivated", "user.reactivated")),
            AuditEvent.actor == "cli").order_by(col(AuditEvent.id)))
            if e.detail.get("user_id") == user.id]
        failed = session.exec(select(AuditEvent).where(
            AuditEvent.action == "login.failed")).all()
    assert actions == ["user.deactivated", "user.reactivated"]
    assert [e.detail["reason"] for e in failed if e.detail["username"] == who[0]] == ["inactive"]


def test_logins_keep_at_most_ten_tokens_a_user_the_oldest_revoked(app: Any) -> None:
    c, who = client(app), new_user()
    kept_by_operator = protect_json("user", "token", who[0], "--name", "crm")["token"]
    answers = [api_login(c, who) for _ in range(auth.MAX_LOGIN_TOKENS + 2)]
    alive = [c.get("/api/v1/auth/me", headers=bearer(a["token"])).status_code == 200
             for a in answers]
    assert alive == [False, False] + [True] * auth.MAX_LOGIN_TOKENS
    # A token the operator issued is not a login's: logins do not push it out.
    assert c.get("/api/v1/auth/me", headers=bearer(kept_by_operator)).status_code == 200
    states = [t["state"] for t in protect_json("user", "tokens", who[0])]
    assert states.count("active") == auth.MAX_LOGIN_TOKENS + 1
    with db() as session:
        capped = [e.detail["token_id"] for e in session.exec(select(AuditEvent).where(
            AuditEvent.action == "token.revoked", AuditEvent.actor == f"user:{who[0]}"))
            if e.detail.get("reason") == "login_limit"]
    assert capped == [answers[0]["token_id"], answers[1]["token_id"]]


@pytest.fixture()
def empty_store(tmp_path: Path) -> Iterator[str]:
    """A database of the suite's kind with no tables yet."""
    from models.db import engine_for
    from tests.conftest import TEST_DATABASE
    from tests.pg import drop_database, fresh_database

    url = fresh_database("protect_tokmig") if TEST_DATABASE == "postgres" \
        else f"sqlite:///{tmp_path / 'store.db'}"
    try:
        yield url
    finally:
        engine_for(url).dispose()
        if TEST_DATABASE == "postgres":
            drop_database(url)


def test_the_migration_gives_the_tokens_already_there_an_expiry_and_a_kind(
        empty_store: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from models.db import alembic_config, engine_for, migrate, session_scope

    command.upgrade(alembic_config(empty_store), "0007")
    created = clock.now().replace(microsecond=0) - timedelta(days=100)
    recent = clock.now().replace(microsecond=0) - timedelta(days=1)
    with engine_for(empty_store).begin() as conn:
        conn.execute(text("INSERT INTO agency (code, name_zh, name_en, level) "
                          "VALUES ('a', 'a', 'a', 'office')"))
        conn.execute(text("INSERT INTO \"user\" (username, agency_code, roles, active) "
                          "VALUES ('u', 'a', '[]', true)"))
        for lookup, name, when in (("a" * 12, "web", recent), ("b" * 12, "login", created),
                                   ("c" * 12, "crm", recent)):
            conn.execute(text(
                "INSERT INTO apitoken (user_id, lookup, secret_hash, name, created_at) "
                "SELECT id, :lookup, 'h', :name, :when FROM \"user\""),
                {"lookup": lookup, "name": name, "when": when.replace(tzinfo=None)})
    migrate(empty_store)
    with session_scope(empty_store) as session:
        rows = {t.name: t for t in session.exec(select(ApiToken))}
    assert rows["web"].kind == "web"
    assert rows["web"].expires_at == recent + timedelta(hours=8)  # long over
    assert rows["login"].kind == "api"
    assert rows["login"].expires_at == created + timedelta(days=90)  # over: it was 100 days old
    assert rows["crm"].expires_at == recent + timedelta(days=90)  # still works


def test_a_token_is_checked_by_argon2_once_and_never_when_its_own_process_issued_it(
        monkeypatch: pytest.MonkeyPatch, store: str) -> None:
    """The process that issues a token knows it, so its first request costs no argon2 check
    (about 50 ms); a token with the same lookup and another secret is still checked, and
    refused; a token issued elsewhere is checked once, then known."""
    checks: list[str] = []
    real = auth.verify_secret

    def counting(stored: str | None, secret: str) -> bool:
        checks.append(secret)
        return real(stored, secret)

    monkeypatch.setattr(auth, "verify_secret", counting)
    who = new_user()
    with db() as session:
        user = auth.find_user(session=session, username=who[0])
        row, token = auth.issue_token(session=session, user=user, name="t", actor="test",
                                      now=clock.now())
        token_id = int(row.id or 0)
    for _ in range(2):
        with db() as session:
            assert auth.authenticate(session=session, token=token, now=clock.now())[1] == \
                token_id
    assert checks == []

    lookup = token.split(".", 1)[0]
    forged = f"{lookup}.{secrets.token_urlsafe(32)}"
    with db() as session, pytest.raises(auth.Unauthorized):
        auth.authenticate(session=session, token=forged, now=clock.now())
    assert checks == [forged.split(".", 1)[1]]

    auth._verified.pop(token_id)  # as in another process of the API
    for _ in range(2):
        with db() as session:
            auth.authenticate(session=session, token=token, now=clock.now())
    assert checks == [forged.split(".", 1)[1], token.split(".", 1)[1]]
