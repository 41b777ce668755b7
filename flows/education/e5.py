"""E5 migrant workers' children enrolment (四(二)5): a nearby school place, "zero barrier"."""

from __future__ import annotations

from flows.education.spec import E5
from flows.steps import Procedure, procedure_flow


@procedure_flow(E5)
async def e5_migrant_children_enrolment(p: Procedure) -> str:
    """Enrol a migrant worker's child at a nearby school.

    The district where the family lives takes the application → gives a place at a nearby
    school; when it has none, the education bureau finds one.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    district = f"district:{p.params.get('district') or p.info['district']}"

    await p.human("e5.application", owner=district)
    placement = await p.human("e5.placement", owner=district)
    if placement.outcome == "placed":
        return await p.finish("placed")

    await p.human("e5.coordination")
    return await p.finish("placed_by_bureau")
