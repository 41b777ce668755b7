"""R4 guardian intervention ladder (四(一)3)."""

from __future__ import annotations

from flows.rescue.spec import R4, RUNGS, default_street
from flows.steps import Procedure, procedure_flow


@procedure_flow(R4)
async def r4_guardian_intervention(p: Procedure) -> str:
    """Climb the ladder of interventions against a guardian who fails their duty.

    The street office admonishes the guardian and stops the harm (3 working days) → a
    follow-up check (10 working days) → still failing, or serious from the start: the police
    reprimand and order the guardian to correct → still failing: an administrative penalty →
    a crime: criminal prosecution. Each rung's outcome chooses the next; a serious report
    enters the ladder at a higher rung (start parameter `rung`, e.g. `rung=reprimand`).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    rung = p.params.get("rung") or "admonition"
    if rung not in RUNGS:
        raise ValueError(f"unknown rung {rung!r}; one of {', '.join(RUNGS)}")
    street = p.params.get("street") or default_street(p.info["district"])

    if rung == "admonition":
        admonition = await p.human("r4.admonition", owner=street)
        rung = "check" if admonition.outcome == "stopped" else "reprimand"

    if rung == "check":
        check = await p.human("r4.check", owner=street)
        if check.outcome == "corrected":
            return await p.finish("corrected")
        rung = "reprimand"

    if rung == "reprimand":
        reprimand = await p.human("r4.reprimand")
        if reprimand.outcome == "corrected":
            return await p.finish("corrected")
        rung = "penalty" if reprimand.outcome == "still_failing" else "prosecution"

    if rung == "penalty":
        penalty = await p.human("r4.penalty")
        if penalty.outcome == "penalised":
            return await p.finish("penalised")

    prosecution = await p.human("r4.prosecution")
    return await p.finish("prosecuted" if prosecution.outcome == "prosecuted"
                          else "not_prosecuted")
