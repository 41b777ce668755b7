"""R2 street child rescue (四(一)2): find, take in, identify, then home (R3) or placement (J2)."""

from __future__ import annotations

from flows.rescue.spec import MAX_OUTREACH, R2
from flows.steps import Procedure, procedure_flow


@procedure_flow(R2)
async def r2_street_child_rescue(p: Procedure) -> str:
    """Rescue a street child.

    A clue arrives → the center's outreach team finds the child and persuades them (24 h) →
    intake with a health check (ill or injured: M1 at once) → police identity check and family
    tracing → family found: return home (R3); not found: placement by the government of the
    place of origin (with hukou) or of the place found (without), or the welfare institution
    for infants and children of imprisoned parents; placement starts J1 (the search for the
    family goes on at intervals) and J2's two-year clock.

    Args:
        procedure_run_id: the procedure run in the case store (an id, never personal data).
    """
    for attempt in range(1, MAX_OUTREACH + 1):
        outreach = await p.human("r2.outreach", key=f"outreach-{attempt}")
        if outreach.outcome == "accepted":
            break
    else:
        return await p.finish("not_reached")

    intake = await p.human("r2.intake")
    if intake.ill_or_injured:
        await p.start("M1", key="intake-ill")

    identity = await p.human("r2.identity")
    if identity.outcome == "family_found":
        await p.start("R3", key="return-home")
        return await p.finish("returned_home")

    if identity.infant_or_parent_imprisoned:
        placer = "welfare"
    elif identity.has_hukou and identity.origin_district not in (None, "other"):
        placer = f"district:{identity.origin_district}"
    elif identity.has_hukou:
        placer = "mca"  # origin outside the city: the bureau arranges it with the origin
    else:
        placer = f"district:{p.params.get('found_district') or p.info['district']}"
    placement = await p.human("r2.placement", owner=placer)
    await p.record_placement(placement.placed_on)
    await p.start("J1", key="tracing")  # the search for the family goes on, at intervals
    await p.start("J2", key="no-family")
    return await p.finish("placed")
