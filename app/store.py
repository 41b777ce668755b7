"""Sessions on the configured case store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session

from app.settings import get_settings
from models.db import session_scope


@contextmanager
def db() -> Iterator[Session]:
    """A unit of work on the case store named by PROTECT_DATABASE_URL."""
    with session_scope(get_settings().database_url) as session:
        yield session
