"""One settings class for the whole system, read from PROTECT_* environment variables."""

from __future__ import annotations

import os
import secrets
import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-local-only"
# The web pages' session-signing key until an operator sets one (refused in production).
PLACEHOLDER_SESSION_KEY = "change-me-local-session-key"
# Where the generated Prefect auth string is kept under PROTECT_HOME when none is set.
PREFECT_AUTH_FILE = "prefect-auth"
# The procedure settings the project ships: every deadline and wait at its default.
SHIPPED_PROCEDURES = Path(__file__).resolve().parents[2] / "procedures.toml"
# The risk-assessment rules the project ships (screening, S2).
SHIPPED_RISK = Path(__file__).resolve().parents[2] / "risk.toml"
# The hotline's triage rules the project ships (docs/hotline.md).
SHIPPED_HOTLINE = Path(__file__).resolve().parents[2] / "hotline.toml"
# The operator's calendar file the project ships: the format, and no year yet.
SHIPPED_CALENDAR = Path(__file__).resolve().parents[2] / "calendar.toml"
# In production every secret (webhook, hotline, session key) is at least this long.
MIN_SECRET_LENGTH = 32
Env = Literal["local", "test", "production"]


class Settings(BaseSettings):
    """Where the system keeps its data and how it reaches Prefect and other agencies."""

    model_config = SettingsConfigDict(env_prefix="PROTECT_", extra="ignore")

    env: Env = Field("local", description="'local', 'test' or 'production' (any case); "
                     "anything else is refused.")
    home: Path = Field(Path("var"), description="Folder for the SQLite files and Prefect's home.")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite under home.")
    prefect_host: str = "127.0.0.1"
    prefect_port: int = 4200
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, description="The REST API's port (`protect up`, `protect api`).")
    webhook_secret: str = PLACEHOLDER_SECRET
    session_key: str = Field(PLACEHOLDER_SESSION_KEY, description="Signs the web pages' "
                             "session cookies; refused at its placeholder in production.")
    session_max_age_s: int = Field(8 * 3600, description="A web session's lifetime.")
    api_token_days: int = Field(90, ge=1, le=3650, description="An API token's lifetime "
                                "(`protect user token`, POST /api/v1/auth/login).")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="The largest request body "
                                "the API and pages take (413 above); imports have their own.")
    login_max_failures: int = Field(5, ge=1, description="Wrong passwords in a row, per user "
                                    "and per address, before logins are refused (429).")
    login_lockout_s: int = Field(900, ge=1, description="How long logins stay refused after "
                                 "login_max_failures wrong passwords.")
    prefect_ui: str = Field("", description="The Prefect UI's address for the web pages' "
                            "links; default: the local server's.")
    prefect_auth: str = Field("", description="`user:password` for Prefect's own basic "
                              "auth (server and clients); default: generated into "
                              "PROTECT_HOME/prefect-auth on first start.")
    webhook_timeout_s: float = 5.0
    public_url: str = Field("", description="The web pages' address as the agencies reach it, "
                            "for the links in group-robot messages (`{base}/tasks/{id}`); "
                            "default: the API's own, http://127.0.0.1:8000.")
    timezone: str = "Asia/Shanghai"
    outbox_max_attempts: int = 50
    # Flow runs executing at once in one serving process. Prefect's server on SQLite takes
    # one writer at a time: more concurrent runs only contend for its lock.
    executor_concurrency: int = 8
    executor_poll_s: float = Field(
        2.0, description="How often `protect serve` asks Prefect for due runs while Prefect's "
                         "event stream is up (runs are taken when their event arrives); "
                         "every 0.25 s while it is down.")
    start_backlog: int = Field(
        0, description="Hold procedure starts in the outbox while this many flow runs already "
                       "wait in Prefect for a worker (due and Scheduled, or Pending), so a "
                       "burst of starts does not queue ahead of the cases under way; 0 holds "
                       "none. `protect cluster up` sets it to its workers' slots.")
    reports_dir: Path | None = Field(
        None, description="Where the monthly report files go; default: reports/ under home.")
    procedures_file: Path | None = Field(
        None, description="The procedure settings (deadlines, waits, ladders), checked at "
                          "start-up; default: the shipped procedures.toml, else the code's.")
    calendar_file: Path | None = Field(
        None, description="The State Council's holiday arrangements the operator entered "
                          "(docs/engine.md), checked at start-up; default: the shipped "
                          "calendar.toml, else chinese-calendar's data only.")
    # `protect cluster up` (make cluster): the PostgreSQL server, the Redis database and the
    # first of three ports (the proxy; the API processes take the next two).
    cluster_postgres: str = "postgresql://postgres@127.0.0.1:5432"
    cluster_redis_url: str = "redis://127.0.0.1:6379/7"
    cluster_port: int = 4300
    cluster_web_port: int = Field(8300, description="The cluster's REST API and pages.")
    risk_file: Path = Field(SHIPPED_RISK, description="The risk-assessment rules that propose "
                                                      "procedures for screened children.")

    hotline_file: Path = Field(SHIPPED_HOTLINE, description="The hotline's triage rules.")
    hotline_callback_url: str = Field(
        "", description="Where the hotline platform takes our feedback (signed JSON POSTs).")
    hotline_secret: str = PLACEHOLDER_SECRET
    hotline_timeout_s: float = 5.0

    @field_validator("env", mode="before")
    @classmethod
    def _env_word(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if self.reports_dir is not None:
            self.reports_dir = self.reports_dir.expanduser().resolve()
        if self.procedures_file is not None:
            self.procedures_file = self.procedures_file.expanduser().resolve()
        elif SHIPPED_PROCEDURES.exists():
            self.procedures_file = SHIPPED_PROCEDURES
        if self.calendar_file is not None:
            self.calendar_file = self.calendar_file.expanduser().resolve()
        elif SHIPPED_CALENDAR.exists():
            self.calendar_file = SHIPPED_CALENDAR
        self.risk_file = self.risk_file.expanduser().resolve()
        self.hotline_file = self.hotline_file.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'protect.db'}"
        if self.env == "production" and self.webhook_secret == PLACEHOLDER_SECRET:
            raise ValueError("PROTECT_WEBHOOK_SECRET must be set to a real secret in production")
        if (self.env == "production" and self.hotline_callback_url
                and self.hotline_secret == PLACEHOLDER_SECRET):
            raise ValueError("PROTECT_HOTLINE_SECRET must be set to a real secret in production")
        if self.env == "production" and self.session_key == PLACEHOLDER_SESSION_KEY:
            raise ValueError("PROTECT_SESSION_KEY must be set to a real secret in production")
        if self.env == "production":
            for name in ("webhook_secret", "session_key", "hotline_secret"):
                if name == "hotline_secret" and not self.hotline_callback_url:
                    continue
                if len(getattr(self, name)) < MIN_SECRET_LENGTH:
                    raise ValueError(f"PROTECT_{name.upper()} must be at least "
                                     f"{MIN_SECRET_LENGTH} characters in production")
        return self

    @property
    def prefect_api_url(self) -> str:
        return os.environ.get(
            "PREFECT_API_URL", f"http://{self.prefect_host}:{self.prefect_port}/api"
        )

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def public_base_url(self) -> str:
        """Where a person opens the web pages: PROTECT_PUBLIC_URL, else the API's address."""
        return (self.public_url or self.api_url).rstrip("/")

    @property
    def prefect_ui_url(self) -> str:
        return (self.prefect_ui or self.prefect_api_url.removesuffix("/api")).rstrip("/")

    def prefect_auth_string(self) -> str:
        """Prefect's basic-auth `user:password`: the setting, else the one kept under home
        (created on first use, readable by its owner only)."""
        if self.prefect_auth:
            return self.prefect_auth
        path = self.home / PREFECT_AUTH_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):  # another process may be writing it this instant
                text = path.read_text(encoding="utf-8").strip()
                if text:
                    return text
                time.sleep(0.02)
            raise RuntimeError(f"{path} is empty: delete it to generate a new one") from None
        value = f"protect:{secrets.token_urlsafe(24)}"
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(value + "\n")
        return value


NO_TRUST_BUNDLE = Path(__file__).with_name("no-trust.pem")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def configure_prefect_env(settings: Settings | None = None) -> None:
    """Point Prefect at our home folder and server. Call before Prefect is imported.

    Only sets what the operator has not set, so every value can be overridden.
    """
    s = settings or get_settings()
    prefect_home = s.home / "prefect"
    defaults = {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": f"http://{s.prefect_host}:{s.prefect_port}/api",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(prefect_home / "storage"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LOG_PRINTS": "false",
        # The runner's poll is the resume latency: 10 s by default, 2 s here.
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        # Absolute so that runner subprocesses agree with the CLI whatever their cwd.
        "PROTECT_HOME": str(s.home),
        "PROTECT_DATABASE_URL": s.database_url,
    }
    if s.procedures_file is not None:
        defaults["PROTECT_PROCEDURES_FILE"] = str(s.procedures_file)
    defaults["PROTECT_HOTLINE_FILE"] = str(s.hotline_file)
    if s.calendar_file is not None:
        defaults["PROTECT_CALENDAR_FILE"] = str(s.calendar_file)
    if "PREFECT_API_AUTH_STRING" not in os.environ:
        # Prefect's own auth: the server asks every client (and the UI) for this string, so
        # every process of ours sends it; the server started by `protect up` requires it.
        auth = s.prefect_auth_string()
        defaults["PREFECT_API_AUTH_STRING"] = auth
        defaults["PREFECT_SERVER_API_AUTH_STRING"] = auth
    if os.environ.get("PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED", "").lower() not in (
            "1", "true"):
        # Prefect's server takes no CSRF token unless told to (off by default, and in our
        # set-ups); a client that supports them asks for one anyway (GET /csrf-token, refused)
        # before its first write, and Prefect builds a new client for each procedure start.
        defaults["PREFECT_CLIENT_CSRF_SUPPORT_ENABLED"] = "false"
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if os.environ["PREFECT_API_URL"].startswith("http://"):
        # Prefect builds a TLS context for every client it creates, even for plain http:
        # with the default bundle (about 150 roots) that costs about 17 ms of CPU, and the
        # serving process creates a client for every flow run it executes. Over http no
        # certificate is ever checked; this bundle holds one self-signed certificate whose
        # key was discarded, so nothing could be trusted through it (0.5 ms).
        os.environ.setdefault("PREFECT_API_SSL_CERT_FILE", str(NO_TRUST_BUNDLE))
