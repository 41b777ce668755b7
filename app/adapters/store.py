"""Sessions on the configured case store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session

from app.config.settings import get_settings
from app.domain.agencies import reference_agencies
from models import Agency
from models.db import session_scope


@contextmanager
def db() -> Iterator[Session]:
    """A unit of work on the case store named by PROTECT_DATABASE_URL."""
    with session_scope(get_settings().database_url) as session:
        yield session


def seed_agencies(*, session: Session) -> int:
    """Insert the agencies that are missing; keeps operator changes (e.g. webhook URLs)."""
    added = 0
    for row in reference_agencies():
        if session.get(Agency, row.code) is None:
            session.add(Agency(**row.fields()))
            session.flush()
            added += 1
    return added
