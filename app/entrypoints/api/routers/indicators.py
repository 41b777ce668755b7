"""The S3 indicators: the managers' figures, no personal data."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from app.adapters.store import db
from app.domain import clock
from app.domain.access import Principal
from app.domain.errors import NotFound, ValidationFailed
from app.entrypoints.api.deps import allow
from app.services.indicators import Indicators, Scope, compute
from models import Agency

router = APIRouter(tags=["indicators"])


@router.get("/indicators", response_model=Indicators)
def indicators(who: Annotated[Principal, allow("indicators.read")],
               since: Annotated[date | None, Query(description="First day (Beijing time).")] = None,
               until: Annotated[date | None, Query(description="Last day, included.")] = None,
               district: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z0-9_-]+$",
                                                     description="A district code.")] = None,
               ) -> Indicators:
    """The whole indicator set for a period (default: everything) and one district or all."""
    from expectations.runner import FieldError

    try:
        scope = Scope.make(now=clock.now(), since=since, until=until, district=district)
    except ValueError as exc:
        raise ValidationFailed([FieldError(field="until", code="until.before_since",
                                           message=str(exc),
                                           message_zh="结束日期早于开始日期")]) from None
    with db() as session:
        if district and session.get(Agency, f"district:{district}") is None:
            raise NotFound(f"no district {district!r}")
        return compute(session=session, scope=scope)
