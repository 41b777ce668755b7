"""W1 free skills training for able family members (四(四), hrss)."""

from __future__ import annotations

from flows.employment.spec import W1, application_owner
from flows.steps import Procedure, procedure_flow


@procedure_flow(W1)
async def w1_skills_training(p: Procedure) -> str:
    """Give an able member of a child's family free skills training.

    The family member applies at the community workstation (or the district government), which
    records the application (5 working days) → the human resources and social security bureau
    approves free training and assigns a course (10 working days) → it records the training
    attended and any certificate.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    application = await p.human("w1.application",
                                owner=application_owner(p.params, p.info["district"]))
    if application.outcome == "withdrawn":
        return await p.finish("withdrawn")

    approval = await p.human("w1.approval")
    if approval.outcome == "rejected":
        return await p.finish("rejected")

    training = await p.human("w1.delivery")
    return await p.finish("trained" if training.delivered else "not_trained")
