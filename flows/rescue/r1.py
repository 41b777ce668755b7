"""R1 abandoned infant or orphan placement (四(一)1)."""

from __future__ import annotations

from prefect import flow

from app.config.procedures import procedure
from flows.rescue.spec import R1
from flows.steps import Procedure, on_failure


@flow(name=R1.flow_name, persist_result=True, on_failure=[on_failure], on_crashed=[on_failure])
async def r1_infant_orphan_placement(procedure_run_id: int) -> str:
    """Place an abandoned infant or an orphan.

    The police record the finding and check the child's identity (1 working day) → a parent
    found: the child goes home (R3) → otherwise civil affairs accepts the child → the welfare
    institution admits them (2 working days), which starts J2's clock since no parent was
    found → civil affairs enrols the child in orphan social security, the basic living
    allowance (10 working days).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    p = await Procedure.begin(procedure(R1.code), procedure_run_id)  # with the settings

    finding = await p.human("r1.finding")
    if finding.parent_found:
        await p.start("R3", key="return-home")
        return await p.finish("returned_home")

    await p.human("r1.acceptance")
    admission = await p.human("r1.admission")
    await p.record_placement(admission.admitted_on)
    await p.start("J2", key="no-parent")

    await p.human("r1.enrolment")
    return await p.finish("placed")
