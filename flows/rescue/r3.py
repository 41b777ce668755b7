"""R3 return home and follow-up visits (四(一)3–4)."""

from __future__ import annotations

from prefect import flow

from app.rules.workdays import due_after
from flows.rescue.spec import R3, SCHOOL_AGE, VISIT_MONTHS
from flows.steps import Procedure, morning, on_failure


@flow(name=R3.flow_name, persist_result=True, on_failure=[on_failure], on_crashed=[on_failure])
async def r3_return_home(procedure_run_id: int) -> str:
    """Return a child home and follow them up.

    The family is assessed (guardian able and willing, home safe) → the center escorts the
    child home and hands over to the home street office (5 working days) → a child of
    compulsory school age is referred to the education bureau → the home street office visits
    at 1, 3, 6 and 12 months, each within 5 working days of its date → a closing review.
    A visit that finds the child gone or the guardian failing alerts the center.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    p = await Procedure.begin(R3, procedure_run_id)

    assessment = await p.human("r3.assessment")
    if not (assessment.guardian_able and assessment.home_safe):
        await p.notify("center", "r3.home_unsafe", key="home-unsafe")
        return await p.finish("home_unsafe")
    home_street = assessment.home_street

    escort = await p.human("r3.escort")
    handed_over = escort.handed_over_on

    if await p.is_school_age(handed_over, SCHOOL_AGE):
        await p.human("r3.school_referral")

    for months in VISIT_MONTHS:
        visit_day = due_after(morning(handed_over), f"{months}mo")
        await p.wait_until(f"visit-{months}m", visit_day)
        visit = await p.human("r3.visit", key=f"visit-{months}m", owner=home_street)
        if visit.situation in ("ran_away", "guardian_failing"):
            await p.notify("center", f"r3.{visit.situation}", key=f"visit-{months}m-alert",
                     visit=f"{months}m")
        for need in visit.needs:
            await p.notify("center", "r3.need", key=f"visit-{months}m-need-{need}", need=need)

    closing = await p.human("r3.closing")
    return await p.finish("closed" if closing.outcome == "closed" else "kept_open")
