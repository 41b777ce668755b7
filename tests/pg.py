"""PostgreSQL for tests: a fresh database per test session on the machine's server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("PROTECT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def fresh_database(prefix: str) -> str:
    """Create an empty database and return its SQLAlchemy URL."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def own_store(kind: str, tmp_path: Path, prefix: str, monkeypatch: Any) -> Iterator[str]:
    """A fresh, migrated case store seeded with the agencies, made the configured one
    (PROTECT_DATABASE_URL) for the test: SQLite under tmp_path, or a PostgreSQL database of
    its own, dropped after."""
    from app.adapters.store import db, seed_agencies
    from app.config.settings import get_settings
    from models.db import engine_for, migrate

    url = (f"sqlite:///{tmp_path / 'store.db'}" if kind == "sqlite"
           else fresh_database(prefix))
    monkeypatch.setenv("PROTECT_DATABASE_URL", url)
    get_settings.cache_clear()
    migrate(url)
    with db() as session:
        seed_agencies(session=session)
    try:
        yield url
    finally:
        engine_for(url).dispose()
        get_settings.cache_clear()
        if kind == "postgres":
            drop_database(url)
