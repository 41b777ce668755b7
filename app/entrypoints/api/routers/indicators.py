"""The S3 indicators: the managers' figures, no personal data."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from app.adapters.store import db
from app.adapters.validation import iso_date
from app.domain import clock
from app.domain.access import Principal
from app.domain.errors import NotFound, ValidationFailed
from app.entrypoints.api.deps import allow
from app.services.indicators import Indicators, Scope, compute
from models import Agency

router = APIRouter(tags=["indicators"])


@router.get("/indicators", response_model=Indicators)
def indicators(who: Annotated[Principal, allow("indicators.read")],
               since: Annotated[date | None, BeforeValidator(iso_date("开始日期")), Query(
                   description="First day (Beijing time), YYYY-MM-DD.")] = None,
               until: Annotated[date | None, BeforeValidator(iso_date("结束日期")), Query(
                   description="Last day, included, YYYY-MM-DD.")] = None,
               district: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z0-9_-]+$",
                                                     description="A district code.")] = None,
               ) -> Indicators:
    """The whole indicator set for a period (default: everything) and one district or all.

    Dates are YYYY-MM-DD (anything else is a 422). A period whose last day comes before its
    first is refused (422, `until.before_since`); an unknown district is a 404."""
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
