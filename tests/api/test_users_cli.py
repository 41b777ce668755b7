"""`protect user add/token/list`: users of an agency with roles, tokens printed once."""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import Any

from tests.helpers import protect, protect_json


def _protect_stdin(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_a_user_added_with_a_password_from_stdin_can_log_in(store: str, client: Any) -> None:
    name = f"coord-{secrets.token_hex(3)}"
    added = _protect_stdin("a long password\n", "user", "add", name, "--agency", "center",
                           "--role", "coordinator", "--role", "manager", "--json")
    assert added.returncode == 0, added.stderr
    token = protect_json("user", "token", name)["token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"username": name, "agency": "center", "roles": ["coordinator", "manager"]}
    login = client.post("/api/v1/auth/login",
                        json={"username": name, "password": "a long password"})
    assert login.status_code == 200
    listed = {u["username"]: u for u in protect_json("user", "list")}
    assert listed[name]["tokens"] == 2 and listed[name]["roles"] == ["coordinator", "manager"]


def test_bad_input_exits_2_naming_the_fields(store: str) -> None:
    bad = _protect_stdin("", "user", "add", "Bad Name", "--agency", "nowhere", "--role",
                         "boss")
    assert bad.returncode == 2
    for field in ("username:", "agency:", "role:"):
        assert field in bad.stderr
    missing = protect("user", "token", "no-such-user", check=False)
    assert missing.returncode == 2 and "no user no-such-user" in missing.stderr
