"""Passwords are real: blank, common and username-equal ones are refused when a user is added
(`protect user add`, app/services/users.py:add_user), field by field in English and Chinese."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import ValidationFailed
from app.services import users as auth


def add(username: str, password: str | None) -> None:
    with db() as session:
        auth.add_user(session=session, username=username, agency="center",
                      roles=["coordinator"], password=password, actor="test", now=clock.now())


@pytest.mark.parametrize(("password", "code", "zh"), [
    ("password", "password.common", "密码过于常见，请另选"),
    ("12345678", "password.common", "密码过于常见，请另选"),
    (" " * 8, "password.blank", "密码不能为空白"),
    ("short", "password.length", "密码长度须为 8–1024"),
    ("{name}", "password.username", "密码不能与用户名相同"),
])
def test_a_weak_password_is_refused_and_no_user_is_added(store: str, password: str, code: str,
                                                         zh: str) -> None:
    name = f"pw-{secrets.token_hex(4)}"
    with pytest.raises(ValidationFailed) as refused:
        add(name, password.format(name=name))
    [problem] = refused.value.errors
    assert (problem.field, problem.code, problem.message_zh) == ("password", code, zh)
    with db() as session, pytest.raises(auth.NotFound):
        auth.find_user(session=session, username=name)
    add(name, "a long password")  # the same name with a real password is fine
    add(f"pw-{secrets.token_hex(4)}", None)  # and no password at all: tokens only


def test_protect_user_add_refuses_a_common_password_from_stdin(store: str) -> None:
    name = f"pw-{secrets.token_hex(4)}"
    added = subprocess.run([sys.executable, "-m", "app", "user", "add", name, "--agency",
                            "center", "--role", "worker"], input="12345678\n",
                           capture_output=True, text=True, timeout=120)
    assert added.returncode == 2, added.stderr
    assert "password: too common" in added.stderr
