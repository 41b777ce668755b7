"""What a password must be: 8 to 1024 characters, not blank, not a common password, not the
username. Pure: the list of common passwords is given (app/config/passwords.py reads it)."""

from __future__ import annotations

from collections.abc import Container

MIN_LENGTH, MAX_LENGTH = 8, 1024


def password_problem(password: str, *, username: str, common: Container[str]) -> str | None:
    """The first rule `password` breaks, as a code ("length", "blank", "common",
    "username"), or None. Common passwords and the username are compared without case and
    surrounding spaces, so "Password " is as common as "password"."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return "length"
    if not password.strip():
        return "blank"
    folded = password.strip().casefold()
    if folded == username.strip().casefold():
        return "username"
    if folded in common or len(set(folded)) == 1:
        return "common"
    return None
