"""The web and Prefect-auth settings: placeholders refused in production, one auth string
generated once under the home folder and shared by every process."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config.settings import PREFECT_AUTH_FILE, Settings

REAL = "r" * 32  # a secret of the shortest length production takes
HOTLINE = {"hotline_callback_url": "http://127.0.0.1:9/feedback", "hotline_secret": REAL}


def test_production_refuses_the_placeholder_session_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PROTECT_SESSION_KEY"):
        Settings(env="production", home=tmp_path, webhook_secret=REAL, **HOTLINE)
    Settings(env="production", home=tmp_path, webhook_secret=REAL, session_key="s" * 32,
             **HOTLINE)


@pytest.mark.parametrize("short", ["webhook_secret", "session_key", "hotline_secret"])
def test_production_refuses_short_secrets(tmp_path: Path, short: str) -> None:
    secrets = {"webhook_secret": REAL, "session_key": REAL, **HOTLINE, short: "k"}
    with pytest.raises(ValueError, match=f"PROTECT_{short.upper()} must be at least 32"):
        Settings(env="production", home=tmp_path, **secrets)
    Settings(env="local", home=tmp_path, **secrets)  # a short one is fine on a laptop


def test_the_environment_is_one_of_three_words_in_any_case(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PROTECT_SESSION_KEY"):  # the checks apply
        Settings(env=" Production ", home=tmp_path, webhook_secret=REAL, **HOTLINE)
    assert Settings(env="TEST", home=tmp_path).env == "test"
    with pytest.raises(ValueError, match="local|production"):
        Settings(env="prod", home=tmp_path)


def test_the_prefect_auth_string_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(home=tmp_path).prefect_auth_string()
    assert first.startswith("protect:") and len(first) > 30
    assert Settings(home=tmp_path).prefect_auth_string() == first
    assert (tmp_path / PREFECT_AUTH_FILE).stat().st_mode & 0o077 == 0
    assert Settings(home=tmp_path, prefect_auth="ops:secret").prefect_auth_string() == \
        "ops:secret"
