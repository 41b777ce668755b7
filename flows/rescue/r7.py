"""R7 charity home visits (四(一)7)."""

from __future__ import annotations

from flows.rescue.spec import R7
from flows.steps import Procedure, procedure_flow


@procedure_flow(R7)
async def r7_charity_visit(p: Procedure) -> str:
    """A charity visit to a poor family, especially one with serious illness or mental disorder.

    The Charity Federation visits the family → assesses its need → pays the grant when one is
    needed → records the visit.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    await p.human("r7.visit")
    assessment = await p.human("r7.assessment")
    if assessment.grant_needed:
        await p.human("r7.payment")
    await p.human("r7.record")
    return await p.finish("granted" if assessment.grant_needed else "no_grant")
