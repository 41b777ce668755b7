"""Cases: open, list, read (by the access rules), timeline, family found."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query

from app.adapters.form_schema import form_schema
from app.adapters.store import db
from app.adapters.validation import body_problems, refuse_with
from app.config.vocabulary import Vocabulary
from app.domain import clock
from app.domain.access import Principal
from app.entrypoints.api.deps import CaseRef, DisplayLang, allow, no_nul
from app.entrypoints.api.schemas import (
    CaseOpened,
    CaseRow,
    CaseView,
    Documented,
    FamilyFoundOut,
    Timeline,
    case_names,
    intake_form_after,
)
from app.services import cases
from expectations.runner import without_great_expectations
from flows.forms import District

router = APIRouter(prefix="/cases", tags=["cases"])


@functools.cache
def intake_schema() -> dict[str, Any]:
    """The intake form's JSON schema, self-contained (for its JSON types)."""
    return form_schema(cases.CaseOpen)


@router.post("", response_model=CaseOpened, status_code=201)
def open_case(who: Annotated[Principal, allow("case.open")],
              form: Annotated[dict[str, Any], Body(),
                              Documented(cases.CaseOpen, after=intake_form_after)]
              ) -> CaseOpened:
    """Open a case for a child from an intake form (its schema below: the fields, and the
    checks across fields with their codes). A child whose ID number is already recorded is
    a 409: a person decides whether it is the same child."""
    no_nul(form)
    with without_great_expectations():  # the suite in plain Python: no 4 s import of GE
        refuse_with(body_problems(intake_schema(), form), lambda: cases.check_intake(form))
        with db() as session:
            case = cases.open_case(session=session, data=form, actor=who.actor,
                                   now=clock.now())
            return CaseOpened(case=case.case_no, id=int(case.id or 0), district=case.district)


@router.get("", response_model=list[CaseRow])
def list_cases(who: Annotated[Principal, allow("case.list")],
               status: Literal["open", "closed"] | None = None,
               district: District | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
               lang: DisplayLang = "zh") -> list[CaseRow]:
    """Cases, newest first: numbers, districts and states (no personal data), with the
    districts' and states' names (`?lang=`)."""
    w = Vocabulary(lang)
    with db() as session:
        return [CaseRow(case=c.case_no, id=int(c.id or 0), district=c.district, status=c.status,
                        opened_at=c.opened_at, district_name=w.district(c.district),
                        status_name=w.status("case", c.status))
                for c in cases.list_cases(session=session, limit=limit, offset=offset,
                                          status=status, district=district)]


@router.get("/{case_ref}", response_model=CaseView, response_model_exclude_unset=True)
def read_case(case_ref: CaseRef, who: Annotated[Principal, allow("case.read")],
              lang: DisplayLang) -> Any:
    """A case as the caller may see it: everything for coordinators, the summary for
    managers, for an agency the fields its tasks on the case need. Audited. The codes'
    names beside them (`district_name`, …, `?lang=`)."""
    with db() as session:
        return case_names(cases.read_case(session=session, case_ref=case_ref, viewer=who,
                                          now=clock.now()), lang)


@router.get("/{case_ref}/timeline", response_model=Timeline)
def timeline(case_ref: CaseRef, who: Annotated[Principal, allow("case.timeline")],
             lang: DisplayLang) -> Any:
    """The case's procedure runs (store and Prefect) and its audit events, each event also
    as a `sentence` in Beijing time and each run with its names (`?lang=`)."""
    from app.services.history import case_history

    return case_history(case_ref, lang=lang, viewer=who)


@router.post("/{case_ref}/family-found", response_model=FamilyFoundOut)
def family_found(case_ref: CaseRef, who: Annotated[Principal, allow("case.family_found")]
                 ) -> FamilyFoundOut:
    """Record that the child's family is found: waiting clocks (J2) stop."""
    found = cases.family_found_and_resume(case_ref=case_ref, actor=who.actor)
    return FamilyFoundOut(case=case_ref, timers_cancelled=found.timers_cancelled)
