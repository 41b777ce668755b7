"""Sealed criminal records (J3): judicial roles only; every read, allowed or not, audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.adapters.store import db
from app.domain import clock
from app.domain.access import Principal
from app.entrypoints.api.deps import caller
from app.entrypoints.api.schemas import SealedOut
from app.services import cases

router = APIRouter(prefix="/sealed-records", tags=["sealed records"])


@router.get("/{record_id}", response_model=SealedOut)
def read(record_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
         who: Annotated[Principal, Depends(caller)]) -> SealedOut:
    """A sealed record, for a user with the judicial role at the court, the procuratorate
    or the police (`sealed.read`). Every read, allowed or refused (403), is audited: the
    service decides, so a refusal by role is recorded as well as one by agency."""
    with db() as session:
        r = cases.read_sealed_record_as(session=session, record_id=record_id, viewer=who,
                                        now=clock.now())
        return SealedOut(id=int(r.id or 0), case_id=r.case_id, record_no=r.record_no,
                         authority=r.authority, sealed_on=r.sealed_on, content=dict(r.content))
