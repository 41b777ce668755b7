"""M2 medical assistance for families (四(五)2)."""

from __future__ import annotations

from prefect import flow

from app.config.procedures import procedure
from flows.medical.spec import M2
from flows.steps import Procedure, on_failure


@flow(name=M2.flow_name, persist_result=True, on_failure=[on_failure], on_crashed=[on_failure])
async def m2_medical_assistance(procedure_run_id: int) -> str:
    """Help a family pay for a child's treatment.

    The human resources and social security bureau enrols the child in medical insurance →
    the family applies for medical assistance to civil affairs, with the costs and what the
    insurance paid (checked by the medical-assistance suite) → civil affairs approves, never
    more than was requested (an approval above it goes back for correction) → and pays.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    p = await Procedure.begin(procedure(M2.code), procedure_run_id)  # with the settings

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
