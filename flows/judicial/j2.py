"""J2 household registration after two years without family (四(三)2)."""

from __future__ import annotations

from datetime import date

from app.domain.workdays import due_after
from flows.judicial.spec import J2
from flows.steps import Procedure, morning, procedure_flow


@procedure_flow(J2)
async def j2_hukou_registration(p: Procedure) -> str:
    """Register the household of a child still without family two years after placement.

    The clock starts at placement and stops when the family is found; when it runs out, the
    police register the child's hukou (20 working days) so they can go to school and live
    normally.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    given = p.params.get("placed_on")  # a placement recorded when J2 is started by hand
    if given:
        await p.record_placement(date.fromisoformat(given))
    placed_on = await p.placement_date()
    if placed_on is None:
        return await p.finish("not_placed")
    if await p.family_was_found():  # by J1, before this run set its clock
        return await p.finish("family_found")

    wait = p.spec.wait("clock").duration  # two years unless the operator says otherwise
    # The key stays "two-years" whatever the setting: runs already waiting are suspended on it.
    clock = await p.wait_until("two-years", due_after(morning(placed_on), wait))
    if clock == "cancelled":
        return await p.finish("family_found")

    await p.human("j2.registration")
    return await p.finish("registered")
