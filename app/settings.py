"""One settings class for the whole system, read from PROTECT_* environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-local-only"
# The procedure settings the project ships: every deadline and wait at its default.
SHIPPED_PROCEDURES = Path(__file__).resolve().parent.parent / "procedures.toml"
# The risk-assessment rules the project ships (screening, S2).
SHIPPED_RISK = Path(__file__).resolve().parent.parent / "risk.toml"


class Settings(BaseSettings):
    """Where the system keeps its data and how it reaches Prefect and other agencies."""

    model_config = SettingsConfigDict(env_prefix="PROTECT_", extra="ignore")

    env: str = Field("local", description="'local', 'test' or 'production'.")
    home: Path = Field(Path("var"), description="Folder for the SQLite files and Prefect's home.")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite under home.")
    prefect_host: str = "127.0.0.1"
    prefect_port: int = 4200
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, description="The REST API's port (`protect up`, `protect api`).")
    webhook_secret: str = PLACEHOLDER_SECRET
    webhook_timeout_s: float = 5.0
    timezone: str = "Asia/Shanghai"
    outbox_max_attempts: int = 50
    # Flow runs executing at once in one serving process. Prefect's server on SQLite takes
    # one writer at a time: more concurrent runs only contend for its lock.
    executor_concurrency: int = 8
    reports_dir: Path | None = Field(
        None, description="Where the monthly report files go; default: reports/ under home.")
    procedures_file: Path | None = Field(
        None, description="The procedure settings (deadlines, waits, ladders), checked at "
                          "start-up; default: the shipped procedures.toml, else the code's.")
    # `protect cluster up` (make cluster): the PostgreSQL server, the Redis database and the
    # first of three ports (the proxy; the API processes take the next two).
    cluster_postgres: str = "postgresql://postgres@127.0.0.1:5432"
    cluster_redis_url: str = "redis://127.0.0.1:6379/7"
    cluster_port: int = 4300
    risk_file: Path = Field(SHIPPED_RISK, description="The risk-assessment rules that propose "
                                                      "procedures for screened children.")

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if self.reports_dir is not None:
            self.reports_dir = self.reports_dir.expanduser().resolve()
        if self.procedures_file is not None:
            self.procedures_file = self.procedures_file.expanduser().resolve()
        elif SHIPPED_PROCEDURES.exists():
            self.procedures_file = SHIPPED_PROCEDURES
        self.risk_file = self.risk_file.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'protect.db'}"
        if self.env == "production" and self.webhook_secret == PLACEHOLDER_SECRET:
            raise ValueError("PROTECT_WEBHOOK_SECRET must be set to a real secret in production")
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
    def prefect_ui_url(self) -> str:
        return self.prefect_api_url.removesuffix("/api")


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
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if os.environ["PREFECT_API_URL"].startswith("http://"):
        # Prefect builds a TLS context for every client it creates, even for plain http:
        # with the default bundle (about 150 roots) that costs about 17 ms of CPU, and the
        # serving process creates a client for every flow run it executes. Over http no
        # certificate is ever checked; this bundle holds one self-signed certificate whose
        # key was discarded, so nothing could be trusted through it (0.5 ms).
        os.environ.setdefault("PREFECT_API_SSL_CERT_FILE", str(NO_TRUST_BUNDLE))
