"""Sealed criminal records (J3): judicial roles only; every read, allowed or not, audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app import clock, services
from app.access import Principal
from app.api.deps import allow
from app.api.schemas import SealedOut
from app.store import db

router = APIRouter(prefix="/sealed-records", tags=["sealed records"])

# The reader role app/services.py:read_sealed_record knows for each judicial agency.
READER_ROLE = {agency: role for role, agency in services.JUDICIAL_READERS.items()}


@router.get("/{record_id}", response_model=SealedOut)
def read(record_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
         who: Annotated[Principal, allow("sealed.read")]) -> SealedOut:
    """A sealed record, for a user with the judicial role at the court, the procuratorate
    or the police."""
    with db() as session:
        r = services.read_sealed_record(session=session, record_id=record_id,
                                        agency=who.agency,
                                        role=READER_ROLE.get(who.agency, "judicial"),
                                        actor=who.actor, now=clock.now())
        return SealedOut(id=int(r.id or 0), case_id=r.case_id, record_no=r.record_no,
                         authority=r.authority, sealed_on=r.sealed_on, content=dict(r.content))
