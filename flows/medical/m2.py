"""M2 medical assistance for families (四(五)2)."""

from __future__ import annotations

from flows.medical.spec import M2
from flows.steps import Procedure, procedure_flow


@procedure_flow(M2)
async def m2_medical_assistance(p: Procedure) -> str:
    """Help a family pay for a child's treatment.

    The human resources and social security bureau enrols the child in medical insurance →
    the family applies for medical assistance to civil affairs, with the costs and what the
    insurance paid (checked by the medical-assistance suite) → civil affairs approves, never
    more than was requested (an approval above it goes back for correction) → and pays.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    enrolment = await p.human("m2.enrolment")
    if not enrolment.enrolled:
        return await p.finish("not_enrolled")

    application = await p.human("m2.application")
    approval = await p.human_checked(
        "m2.approval", context={"amount_requested": float(application.amount_requested)})
    if approval.outcome == "rejected":
        return await p.finish("rejected")

    await p.human("m2.payment")
    return await p.finish("paid")
