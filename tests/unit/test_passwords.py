"""What a password must be (app/domain/passwords.py), with the list of common passwords the
project ships (app/config/common-passwords.txt)."""

from __future__ import annotations

import pytest

from app.config.passwords import common_passwords
from app.domain.passwords import password_problem


def problem(password: str, username: str = "chen") -> str | None:
    return password_problem(password, username=username, common=common_passwords())


@pytest.mark.parametrize(("password", "code"), [
    ("password", "common"), ("12345678", "common"), ("Password", "common"),
    (" password1 ", "common"), ("woaini1314", "common"), ("qq123456", "common"),
    ("1qaz2wsx", "common"), ("zzzzzzzzzz", "common"),
    (" " * 8, "blank"), ("\t" * 8, "blank"), (" \u3000 \n    ", "blank"),
    ("short", "length"), ("", "length"), ("x" * 1025, "length"),
    ("chen.wei.2026", "username"), (" Chen.Wei.2026", "username"),
])
def test_refused(password: str, code: str) -> None:
    assert problem(password, username="chen.wei.2026") == code


@pytest.mark.parametrize("password", [
    "a long password", "correct horse battery staple", "银川市未保中心2026", "x9!Tq#4v",
    "y" * 7 + "z", "p" * 1023 + "q",
])
def test_accepted(password: str) -> None:
    assert problem(password) is None


def test_the_list_is_small_lower_case_and_of_passwords_the_length_rule_lets_through() -> None:
    common = common_passwords()
    assert 5000 < len(common) < 20000
    assert all(p == p.casefold() and len(p) >= 8 and not p.startswith("#") for p in common)
    assert {"password", "12345678", "iloveyou", "qwertyuiop"} <= common
