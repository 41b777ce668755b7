"""Hotline reports (S1): the 12355 / 12345 platform hands a report in; we triage and route it."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from app.adapters.validation import body_problems, refuse_with
from app.domain.access import Principal
from app.entrypoints.api.deps import allow, no_nul
from app.entrypoints.api.schemas import Documented, hotline_report_after
from app.services.hotline import HotlineReportIn
from expectations.runner import without_great_expectations

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
    queued: bool = Field(description="True: not every start was in Prefect when the answer "
                                     "was given; they wait in the outbox (`waiting` says why) "
                                     "and the running system delivers them.")
    waiting: Literal["delivering", "busy", "unreachable"] | None = Field(
        None, description="Why a start is not in Prefect yet: `delivering` (the running "
                          "system's dispatcher is creating the flow runs, within seconds), "
                          "`busy` (Prefect asked to wait; delivered within seconds), "
                          "`unreachable` (Prefect did not answer; the sweep delivers them).")


@functools.cache
def report_schema() -> dict[str, Any]:
    """The hotline report's JSON schema, self-contained (for its JSON types)."""
    from app.adapters.form_schema import form_schema

    return form_schema(HotlineReportIn)


@router.post("/intake", response_model=IntakeOut)
def intake(who: Annotated[Principal, allow("intake.receive")],
           report: Annotated[dict[str, Any], Body(),
                             Documented(HotlineReportIn, after=hotline_report_after)]
           ) -> IntakeOut:
    """Take in a hotline report: check, triage, route to the agencies, start procedures.

    Sending the same report again (same source and reference, same content) writes nothing
    and answers as the first time, with `created: false`; the same reference with other
    content is a 409."""
    from app.services.hotline import check_report, receive_report
    from app.services.procedures import commit_and_start

    no_nul(report)
    with without_great_expectations():  # the suites in plain Python: no 4 s import of GE
        refuse_with(body_problems(report_schema(), report), lambda: check_report(report))
        # A report starts up to five procedures: the running system's dispatcher delivers
        # them (one Prefect round trip each, about a second on a loaded server), and the
        # answer waits for them at most app/services/delivery.py's SETTLE_S.
        starts = commit_and_start(
            lambda session, now: receive_report(session=session, data=report, actor=who.actor,
                                                now=now),
            lambda receipt: receipt.run_ids if receipt.created else [], handover=True)
    return IntakeOut(**starts.result.to_dict(), queued=starts.queued,
                     waiting=starts.waiting)
