"""Logins are throttled: after `login_max_failures` wrong passwords for a username, or from an
address, within `login_lockout_s`, POST /api/v1/auth/login and the login page answer 429
with Retry-After, until the oldest of them leaves the window; a right password resets the
username's count. The count is the audit trail's (every API process sees the same), and
every failed login is audited with the username as typed and the address, never the
password. At most HASH_SLOTS argon2 computations run at once."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, delete, select

from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from app.services import users as auth
from models import AuditEvent

LOGIN = "/api/v1/auth/login"


@pytest.fixture(scope="module")
def app(store: str) -> Any:
    from app.entrypoints.api import create_app

    return create_app()


_addresses = itertools.count(1)


def address() -> str:
    """An address no other client of the session has."""
    n = next(_addresses)
    return f"10.2.{n // 250}.{n % 250}"


def client(app: Any, at: str | None = None) -> Any:
    """A client at an address of its own (the session's clients share "testclient", which
    this file's failures must not lock out)."""
    from fastapi.testclient import TestClient

    return TestClient(app, client=(at or address(), 50000), raise_server_exceptions=False)


def new_user() -> tuple[str, str]:
    name, password = f"thr-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with db() as session:
        auth.add_user(session=session, username=name, agency="center", roles=["worker"],
                      password=password, actor="test", now=clock.now())
    return name, password


def attempt(c: Any, username: str, password: str) -> Any:
    return c.post(LOGIN, json={"username": username, "password": password})


def events(action: str, **detail: str) -> list[AuditEvent]:
    with db() as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == action)
                            .order_by(col(AuditEvent.id))).all()
    return [e for e in rows if all(e.detail.get(k) == v for k, v in detail.items())]


def test_the_sixth_wrong_password_in_a_row_is_refused_with_429_and_retry_after(
        app: Any) -> None:
    most, window = get_settings().login_max_failures, get_settings().login_lockout_s
    (name, password), at = new_user(), address()
    c = client(app, at)
    wrong = [attempt(c, name, f"wrong password {i}") for i in range(most)]
    assert [r.status_code for r in wrong] == [401] * most
    locked = attempt(c, name, password)  # even the right password now waits
    assert locked.status_code == 429, locked.text
    body = locked.json()["error"]
    assert body["code"] == "too_many_attempts" and "try again in" in body["message"]
    assert 0 < int(locked.headers["Retry-After"]) <= window
    assert locked.headers["Retry-After"] in body["message"]

    failed = events("login.failed", username=name)
    assert len(failed) == most
    assert all(e.detail["address"] == at and e.detail["reason"] == "wrong_password"
               and e.actor == "anonymous" for e in failed)
    assert not any("wrong password" in str(e.detail) or password in str(e.detail)
                   for e in failed)  # never the password
    throttled = events("login.throttled", username=name)
    assert len(throttled) == 1 and throttled[0].detail["address"] == at
    assert throttled[0].detail["retry_after"] == int(locked.headers["Retry-After"])


def test_the_lock_holds_for_the_username_from_anywhere_and_for_the_address(app: Any) -> None:
    most = get_settings().login_max_failures
    (name, password), (other, other_password), at = new_user(), new_user(), address()
    for _ in range(most):
        assert attempt(client(app, at), name, "not the password").status_code == 401
    # The username, from another address: locked.
    assert attempt(client(app), name, password).status_code == 429
    # The address, for another username: locked too (password spraying).
    assert attempt(client(app, at), other, other_password).status_code == 429
    # Another username from another address: untouched.
    assert attempt(client(app), other, other_password).status_code == 200


def test_an_unknown_username_is_throttled_like_a_known_one(app: Any) -> None:
    most, ghost = get_settings().login_max_failures, f"ghost-{secrets.token_hex(4)}"
    answers = [attempt(client(app), ghost, "some password").status_code
               for _ in range(most + 1)]
    assert answers == [401] * most + [429]  # no telling which names exist
    assert {e.detail["reason"] for e in events("login.failed", username=ghost)} == \
        {"unknown_user"}


def test_a_right_password_resets_the_usernames_count(app: Any) -> None:
    most = get_settings().login_max_failures
    name, password = new_user()

    def wrong() -> int:  # each from an address of its own: only the username's count grows
        return int(attempt(client(app), name, "not the password").status_code)

    assert [wrong() for _ in range(most - 1)] == [401] * (most - 1)
    assert attempt(client(app), name, password).status_code == 200
    assert [wrong() for _ in range(most)] == [401] * most  # counted from zero again
    assert attempt(client(app), name, password).status_code == 429


def test_failures_leave_the_window_and_retry_after_says_when(app: Any) -> None:
    most, window = get_settings().login_max_failures, get_settings().login_lockout_s
    name, password = new_user()
    for _ in range(most):
        assert attempt(client(app), name, "not the password").status_code == 401
    failed = events("login.failed", username=name)
    # As if the oldest had been 30 s from leaving the window, and the others younger.
    oldest = clock.now() - timedelta(seconds=window - 30)
    with db() as session:
        for i, e in enumerate(failed):
            row = session.get(AuditEvent, e.id)
            row.at = oldest + timedelta(seconds=i)
            session.add(row)
    locked = attempt(client(app), name, password)
    assert locked.status_code == 429
    assert 25 <= int(locked.headers["Retry-After"]) <= 31
    with db() as session:  # … and now 1 s past the window
        row = session.get(AuditEvent, failed[0].id)
        row.at = clock.now() - timedelta(seconds=window + 1)
        session.add(row)
    assert attempt(client(app), name, password).status_code == 200


def test_the_count_is_the_databases_not_a_process_memory(app: Any) -> None:
    """What another API process recorded counts here: the failures are written straight to
    the audit trail, as that process would, and this app, which saw none, refuses."""
    from app.adapters import audit
    from app.entrypoints.api import create_app

    most = get_settings().login_max_failures
    name, password = new_user()
    now = clock.now()
    with db() as session:
        for i in range(most):
            audit.record(session=session, at=now - timedelta(seconds=i), actor="anonymous",
                         action="login.failed", username=name, address="192.0.2.7",
                         kind="api", reason="wrong_password")
    fresh = client(create_app())
    assert attempt(fresh, name, password).status_code == 429
    with db() as session:
        session.exec(delete(AuditEvent).where(  # type: ignore[call-overload]
            col(AuditEvent.id).in_([e.id for e in events("login.failed", username=name)])))
    assert attempt(fresh, name, password).status_code == 200


def _page_login(c: Any, name: str, password: str, lang: str = "") -> Any:
    form = c.get(f"/login{lang}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf
    return c.post(f"/login{lang}", data={"username": name, "password": password,
                                         "csrf_token": csrf.group(1), "next": "/"},
                  follow_redirects=False)


def test_the_login_page_follows_the_same_rule_in_chinese_and_english(app: Any) -> None:
    most = get_settings().login_max_failures
    (name, password), c = new_user(), client(app)
    for _ in range(most):
        r = _page_login(c, name, "not the password")
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    locked = _page_login(c, name, password)
    assert locked.status_code == 429
    assert c.get("/cases", follow_redirects=False).status_code == 303  # not signed in
    minutes = -(-int(locked.headers["Retry-After"]) // 60)
    assert f"登录失败次数过多，请 {minutes} 分钟后再试。" in locked.text
    english = _page_login(c, name, password, "?lang=en")
    assert english.status_code == 429
    assert "Too many failed sign-ins. Try again in" in english.text
    pages = [e for e in events("login.failed", username=name) if e.detail["kind"] == "web"]
    assert len(pages) == most
    assert len(events("login.throttled", username=name)) == 2
    # The API shares the count: the same username is locked there too.
    assert attempt(client(app), name, password).status_code == 429


def test_argon2_runs_at_most_hash_slots_at_once(app: Any, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    """With every slot taken, a login waits its turn (HASH_WAIT_S), then is refused (429,
    Retry-After: 1); it goes through once a slot is free."""
    name, password = new_user()
    monkeypatch.setattr(auth, "HASH_WAIT_S", 0.3)
    taken = [auth._slots.acquire(timeout=5) for _ in range(auth.HASH_SLOTS)]
    assert all(taken)
    try:
        busy = attempt(client(app), name, password)
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert "at once" in busy.json()["error"]["message"]
        waiting: list[int] = []
        monkeypatch.setattr(auth, "HASH_WAIT_S", 30.0)
        t = threading.Thread(target=lambda: waiting.append(
            attempt(client(app), name, password).status_code))
        t.start()
        t.join(1.0)
        assert t.is_alive() and not waiting  # it waits for a slot…
    finally:
        for _ in taken:
            auth._slots.release()
    t.join(30)
    assert waiting == [200]  # … and gets one
