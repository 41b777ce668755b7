"""E3 dropout notification and return to school (四(二)3)."""

from __future__ import annotations

from app.domain.workdays import due_after
from flows.education.spec import E3
from flows.steps import Procedure, morning, procedure_flow


@procedure_flow(E3)
async def e3_dropout_return(p: Procedure) -> str:
    """Bring a child who dropped out back to school.

    The school reports the dropout (2 days) → notifies the parent or guardian (2 days) →
    school and family persuade the child back with visits (15 days); bad habits: a moral and
    legal education plan → not returned: the district education office acts, then the
    education bureau; still not returned, the protection center is told → returned: the
    school confirms attendance 30 days later (a child gone again starts a new E3).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    district = f"district:{p.info['district']}"

    await p.human("e3.report")
    await p.human("e3.guardian_notice")
    effort = await p.human("e3.persuasion")
    if effort.bad_habits:
        await p.human("e3.education_plan")

    if effort.outcome == "not_returned":
        effort = await p.human("e3.district_office", owner=district)
    if effort.outcome == "not_returned":
        effort = await p.human("e3.bureau_action")
    # A return always carries its date (the return_effort suite refuses one without).
    if effort.outcome == "not_returned" or effort.returned_on is None:
        await p.notify("center", "e3.not_returned", key="not-returned")
        return await p.finish("not_returned")

    wait = p.spec.wait("attendance").duration
    # The key stays "attendance" whatever the setting: a waiting run is suspended on it.
    await p.wait_until("attendance", due_after(morning(effort.returned_on), wait))
    attendance = await p.human("e3.attendance")
    if not attendance.attending:
        await p.start("E3", key="dropped-out-again")
        return await p.finish("dropped_out_again")
    return await p.finish("returned")
