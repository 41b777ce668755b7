"""P2 regular visits to children in difficulty (四(六))."""

from __future__ import annotations

from app.domain.workdays import due_after
from flows.psych.spec import P2, visit_key
from flows.steps import Procedure, morning, procedure_flow


@procedure_flow(P2)
async def p2_regular_visits(p: Procedure) -> str:
    """Visit a child in difficulty at a set interval and record the emotional support given.

    The protection center agrees the plan: who visits (a community, a street office, a mass
    organisation) and from which day → a visit falls due each month for a year by default
    (procedures.toml `[P2.waits] visits`), due within 5 working days of its date; a missed
    visit climbs the visitor's ladder → a concern alerts the center; a visitor who finds the
    visits no longer needed ends them early.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    visits = p.spec.wait("visits")

    plan = await p.human("p2.plan")

    for after in visits.durations:
        key = visit_key(after)
        due = await p.wait_until(key, due_after(morning(plan.starts_on), after))
        if due == "cancelled":  # the case's timers were stopped (e.g. the family was found)
            return await p.finish("stopped")
        visit = await p.human("p2.visit", key=key, owner=plan.visitor)
        if visit.situation == "concern":
            await p.notify("center", "p2.concern", key=f"{key}-concern",
                           visit=key.removeprefix("visit-"))
        if visit.situation == "no_longer_needed":
            return await p.finish("no_longer_needed")
    return await p.finish("completed")
