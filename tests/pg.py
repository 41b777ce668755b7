"""PostgreSQL for tests: a fresh database per test session on the machine's server; and case
stores of a test's own, copied from one migrated and seeded store of each kind."""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("PROTECT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def fresh_database(prefix: str, *, template: str | None = None) -> str:
    """Create a database, empty or a copy of the database `template`, and return its
    SQLAlchemy URL."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'
                          + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


_templates: dict[str, str] = {}


def _template(kind: str) -> str:
    """The URL of this session's migrated and seeded case store of `kind`, made at first use.

    Migrating takes about half a second a store; a copy of the migrated database (SQLite's
    backup) or a database made from it as a template (PostgreSQL) takes a few milliseconds."""
    if kind not in _templates:
        from app.adapters.store import seed_agencies
        from models.db import engine_for, migrate, session_scope

        if kind == "sqlite":
            folder = tempfile.mkdtemp(prefix="protect-template-")
            atexit.register(shutil.rmtree, folder, True)
            url = f"sqlite:///{Path(folder) / 'store.db'}"
        else:
            url = fresh_database("protect_template")
            atexit.register(drop_database, url)
        migrate(url)
        with session_scope(url) as session:
            seed_agencies(session=session)
        engine_for(url).dispose()  # PostgreSQL copies a template no session is on
        _templates[kind] = url
    return _templates[kind]


@contextmanager
def own_store(kind: str, tmp_path: Path, prefix: str, monkeypatch: Any) -> Iterator[str]:
    """A fresh, migrated case store seeded with the agencies, made the configured one
    (PROTECT_DATABASE_URL) for the test: SQLite under tmp_path, or a PostgreSQL database of
    its own, dropped after."""
    from app.config.settings import get_settings
    from models.db import engine_for

    template = _template(kind)
    if kind == "sqlite":
        path = tmp_path / "store.db"
        with closing(sqlite3.connect(template.removeprefix("sqlite:///"))) as source, \
                closing(sqlite3.connect(path)) as copy:
            source.backup(copy)
        url = f"sqlite:///{path}"
    else:
        url = fresh_database(prefix, template=template.rsplit("/", 1)[1])
    monkeypatch.setenv("PROTECT_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        engine_for(url).dispose()
        get_settings.cache_clear()
        if kind == "postgres":
            drop_database(url)
