"""R7 charity home visits (四(一)7)."""

from __future__ import annotations

from prefect import flow

from app.config.procedures import procedure
from flows.rescue.spec import R7
from flows.steps import Procedure, on_failure


@flow(name=R7.flow_name, persist_result=True, on_failure=[on_failure], on_crashed=[on_failure])
async def r7_charity_visit(procedure_run_id: int) -> str:
    """A charity visit to a poor family, especially one with serious illness or mental disorder.

    The Charity Federation visits the family → assesses its need → pays the grant when one is
    needed → records the visit.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    p = await Procedure.begin(procedure(R7.code), procedure_run_id)  # with the settings

    await p.human("r7.visit")
    assessment = await p.human("r7.assessment")
    if assessment.grant_needed:
        await p.human("r7.payment")
    await p.human("r7.record")
    return await p.finish("granted" if assessment.grant_needed else "no_grant")
