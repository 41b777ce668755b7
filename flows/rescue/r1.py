"""R1 abandoned infant or orphan placement (四(一)1)."""

from __future__ import annotations

from flows.rescue.spec import R1
from flows.steps import Procedure, procedure_flow


@procedure_flow(R1)
async def r1_infant_orphan_placement(p: Procedure) -> str:
    """Place an abandoned infant or an orphan.

    The police record the finding and check the child's identity (1 working day) → a parent
    found: the child goes home (R3) → otherwise civil affairs accepts the child → the welfare
    institution admits them (2 working days), which starts J2's clock since no parent was
    found → civil affairs enrols the child in orphan social security, the basic living
    allowance (10 working days).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
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
