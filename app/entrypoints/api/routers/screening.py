"""Screening lists (S2): import a community's list, resolve duplicates, confirm proposals."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from app.adapters.store import db
from app.domain import clock
from app.domain.access import Principal
from app.domain.errors import Forbidden
from app.entrypoints.api.deps import allow

router = APIRouter(tags=["screening"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The largest list taken: the guard (app/entrypoints/api/guard.py) refuses a larger body with
# 413 as its bytes arrive, before the route reads it (create_app gives it this path's limit).
MAX_FILE_BYTES = 50 * 2**20


class ImportOut(BaseModel):
    """What an import did: counts, ids and codes; the rejects file to correct and send again."""

    batch: int
    community: str
    file: str
    format: str
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    created: int
    unchanged: int
    proposals: int
    already_imported: bool
    rejected_rows: list[dict[str, Any]]  # row number and reason codes
    rejects_file: str | None = Field(
        None, description="The rejected rows as sent, with their row numbers and reasons, in "
                          "the format of the list (base64); None when nothing was rejected.")


class Resolution(BaseModel):
    decision: Literal["merge", "keep_apart"]


class Confirmation(BaseModel):
    codes: list[Annotated[str, Field(pattern=r"^[A-Za-z][0-9]$")]] = Field(
        default_factory=list, max_length=30,
        description="The procedures to start; empty: every proposed one.")


@router.post("/imports", response_model=ImportOut, openapi_extra={"requestBody": {
    "required": True, "description": "The list itself: a .csv or .xlsx file's bytes.",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def import_list(request: Request, who: Annotated[Principal, allow("screening.import")],
                      community: Annotated[str, Query(max_length=64,
                                                      pattern=r"^community:[a-z0-9_-]+$")],
                      file_name: Annotated[str, Query(max_length=200,
                                                      pattern=r"^[^/\\\x00]+\.(csv|xlsx)$")],
                      ) -> ImportOut:
    """Import a community's screening list (docs/screening.md). A community's own workers may
    send its list; coordinators any community's. The same file twice creates nothing new."""
    from starlette.concurrency import run_in_threadpool

    if not who.has("coordinator") and who.agency != community:
        raise Forbidden(f"{who.agency} may send its own list only, not {community}'s")
    data = await request.body()
    if len(data) > MAX_FILE_BYTES:  # only without the guard in front
        from app.services.screening import ScreeningFileError

        raise ScreeningFileError(f"{file_name}: larger than {MAX_FILE_BYTES // 2**20} MB")
    return await run_in_threadpool(_import, data, file_name, community, who.actor)


def _import(data: bytes, file_name: str, community: str, actor: str) -> ImportOut:
    from app.services.screening import import_screening

    with db() as session:
        result = import_screening(session=session, data=data, file_name=file_name,
                                  community=community, actor=actor, now=clock.now())
    rejects = base64.b64encode(result.rejects).decode() if result.rejects is not None else None
    return ImportOut(**result.to_dict(), rejects_file=rejects)


@router.get("/screening/duplicates")
def duplicates(who: Annotated[Principal, allow("screening.review")],
               status: Literal["pending", "merged", "kept_apart"] = "pending",
               ) -> list[dict[str, Any]]:
    """Possible duplicates with both sides, for a person to compare (audited; ID numbers
    masked)."""
    from app.services.screening import list_duplicates

    with db() as session:
        return list_duplicates(session=session, actor=who.actor, now=clock.now(), status=status)


@router.post("/screening/duplicates/{candidate_id}/resolve")
def resolve(candidate_id: Id, body: Resolution,
            who: Annotated[Principal, allow("screening.review")]) -> dict[str, Any]:
    """Merge the row into the child on file, or keep it apart as another child (audited)."""
    from app.services.screening import resolve_duplicate

    with db() as session:
        return resolve_duplicate(session=session, candidate_id=candidate_id,
                                 merge=body.decision == "merge", actor=who.actor, now=clock.now())


@router.get("/screening/proposals")
def proposals(who: Annotated[Principal, allow("screening.review")],
              dossier: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
              status: Literal["proposed", "confirmed"] | None = "proposed",
              ) -> list[dict[str, Any]]:
    """The procedures the risk rules propose, by dossier (ids and codes only)."""
    from app.services.screening import list_proposals

    with db() as session:
        return list_proposals(session=session, dossier_id=dossier, status=status)


@router.post("/screening/dossiers/{dossier_id}/confirm")
def confirm(dossier_id: Id, body: Confirmation,
            who: Annotated[Principal, allow("screening.review")]) -> list[dict[str, Any]]:
    """Confirm a dossier's proposals: open a case if needed and start the procedures."""
    from app.services.procedures import commit_and_start
    from app.services.screening import confirm as confirm_proposals

    return commit_and_start(
        lambda session, now: confirm_proposals(session=session, dossier_id=dossier_id,
                                               codes=body.codes, actor=who.actor, now=now),
        lambda confirmed: [s["procedure_run"] for s in confirmed]).result
