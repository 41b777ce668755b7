"""W2 public-welfare jobs for children's families (四(四), hrss)."""

from __future__ import annotations

from flows.employment.spec import W2, application_owner
from flows.steps import Procedure, procedure_flow


@procedure_flow(W2)
async def w2_public_welfare_job(p: Procedure) -> str:
    """Find a public-welfare job (community or elderly services) for a child's family member.

    The family member applies at the community workstation (or the district government), which
    records the application (5 working days) → the human resources and social security bureau
    decides on a job (10 working days) → it records the job taken up (20 working days).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    application = await p.human("w2.application",
                                owner=application_owner(p.params, p.info["district"]))
    if application.outcome == "withdrawn":
        return await p.finish("withdrawn")

    approval = await p.human("w2.approval")
    if approval.outcome == "rejected":
        return await p.finish("rejected")

    placement = await p.human("w2.placement")
    return await p.finish("employed" if placement.delivered else "not_taken_up")
