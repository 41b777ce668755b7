"""The web and Prefect-auth settings: placeholders refused in production, one auth string
generated once under the home folder and shared by every process."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config.settings import PREFECT_AUTH_FILE, Settings


def test_production_refuses_the_placeholder_session_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PROTECT_SESSION_KEY"):
        Settings(env="production", home=tmp_path, webhook_secret="a real one")
    Settings(env="production", home=tmp_path, webhook_secret="a real one",
             session_key="another real one")


def test_the_prefect_auth_string_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(home=tmp_path).prefect_auth_string()
    assert first.startswith("protect:") and len(first) > 30
    assert Settings(home=tmp_path).prefect_auth_string() == first
    assert (tmp_path / PREFECT_AUTH_FILE).stat().st_mode & 0o077 == 0
    assert Settings(home=tmp_path, prefect_auth="ops:secret").prefect_auth_string() == \
        "ops:secret"
