"""R3 return home and follow-up visits (四(一)3–4)."""

from __future__ import annotations

from app.domain.workdays import due_after
from flows.rescue.spec import R3, SCHOOL_AGE, visit_key
from flows.steps import Procedure, morning, procedure_flow


@procedure_flow(R3)
async def r3_return_home(p: Procedure) -> str:
    """Return a child home and follow them up.

    The family is assessed (guardian able and willing, home safe) → the center escorts the
    child home and hands over to the home street office (5 working days) → a child of
    compulsory school age is referred to the education bureau → the home street office visits
    at 1, 3, 6 and 12 months, each within 5 working days of its date → a closing review.
    An unsafe home, or a visit that finds the child gone or the guardian failing, alerts the
    center and starts the guardian intervention ladder (R4); a visit's need for living
    assistance starts R6. The visits' dates, like every deadline, are the operator's settings
    (procedures.toml).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    visits = p.spec.wait("visits")

    assessment = await p.human("r3.assessment")
    if not (assessment.guardian_able and assessment.home_safe):
        await p.notify("center", "r3.home_unsafe", key="home-unsafe")
        await p.start("R4", key="home-unsafe-r4",
                      params={"street": assessment.home_street, "reason": "home_unsafe"})
        return await p.finish("home_unsafe")
    home_street = assessment.home_street

    escort = await p.human("r3.escort")
    handed_over = escort.handed_over_on

    if await p.is_school_age(handed_over, SCHOOL_AGE):
        await p.human("r3.school_referral")

    for after in visits.durations:
        key = visit_key(after)
        await p.wait_until(key, due_after(morning(handed_over), after))
        visit = await p.human("r3.visit", key=key, owner=home_street)
        if visit.situation in ("ran_away", "guardian_failing"):
            await p.notify("center", f"r3.{visit.situation}", key=f"{key}-alert",
                           visit=key.removeprefix("visit-"))
            await p.start("R4", key=f"{key}-r4",
                          params={"street": home_street, "reason": visit.situation})
        if "R6" in visit.needs:  # living assistance, checked by the home street office
            await p.start("R6", key=f"{key}-need-R6", params={"street": home_street})
        if "E4" in visit.needs:  # education aid
            await p.start("E4", key=f"{key}-need-E4")
        if "P1" in visit.needs:  # counselling
            await p.start("P1", key=f"{key}-need-P1")
        if "W1" in visit.needs:  # skills training for the family, applied for at home
            await p.start("W1", key=f"{key}-need-W1",
                          params={"community": home_street.replace("street:", "community:", 1)})

    closing = await p.human("r3.closing")
    return await p.finish("closed" if closing.outcome == "closed" else "kept_open")
