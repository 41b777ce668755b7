"""Hotline reports (S1): the 12355 / 12345 platform hands a report in; we triage and route it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from app.domain.access import Principal
from app.entrypoints.api.deps import allow, no_nul

router = APIRouter(tags=["intake"])


class IntakeOut(BaseModel):
    """What the intake did: codes and ids only."""

    report_id: int
    source: str
    reference: str
    case: str
    case_opened: bool
    categories: list[str]
    routed: list[dict[str, Any]]  # agency, procedure_run
    started: list[dict[str, Any]]  # code, procedure_run, new
    created: bool  # False: the same report came before, nothing new was written
    queued: bool  # True: Prefect was not reachable; the starts wait in the outbox


@router.post("/intake", response_model=IntakeOut)
def intake(who: Annotated[Principal, allow("intake.receive")],
           report: Annotated[dict[str, Any], Body(
               description="A hotline report (docs/examples/hotline-report.json), checked by "
                           "the hotline_report suite.")]) -> IntakeOut:
    """Take in a hotline report: check, triage, route to the agencies, start procedures.

    Sending the same report again (same source and reference, same content) writes nothing
    and answers as the first time, with `created: false`."""
    from app.services.hotline import receive_report
    from app.services.procedures import commit_and_start

    no_nul(report)
    starts = commit_and_start(
        lambda session, now: receive_report(session=session, data=report, actor=who.actor,
                                            now=now),
        lambda receipt: receipt.run_ids if receipt.created else [])
    return IntakeOut(**starts.result.to_dict(), queued=starts.queued)
