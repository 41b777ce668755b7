"""The one clock seam: everything that needs the time asks here or takes `now` as a parameter."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is read as Beijing time (the city's clock)."""
    from app.domain.workdays import TZ

    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=TZ)
    return value.astimezone(UTC)
