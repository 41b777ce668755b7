"""E2 disabled child schooling (四(二)2): assessment, mode, delivery plan, preschool subsidy."""

from __future__ import annotations

from flows.education.spec import E2
from flows.steps import Procedure, procedure_flow


@procedure_flow(E2)
async def e2_disabled_child_schooling(p: Procedure) -> str:
    """School a disabled child in the mode that suits them.

    The disabled persons' federation assesses the child → the education bureau chooses the
    mode: a regular class (随班就读), a special school, community education or teaching at home
    (送教上门) → the delivery plan is drawn up and started (community education by the
    district, every other mode by edu and its schools) → a preschool child of a family in
    difficulty gets the preschool subsidy.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    assessment = await p.human("e2.assessment")
    mode = await p.human("e2.mode")
    if mode.mode == "community_education":
        plan_owner = f"district:{p.info['district']}"
    else:
        plan_owner = "edu"
    await p.human("e2.delivery_plan", owner=plan_owner)

    if assessment.stage == "preschool" and assessment.in_difficulty:
        await p.human("e2.subsidy")
        return await p.finish("subsidised")
    return await p.finish("plan_in_place")
