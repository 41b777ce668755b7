"""J4 community correction support (四(三)4)."""

from __future__ import annotations

from app.domain.workdays import due_after
from flows.judicial.spec import J4
from flows.steps import Procedure, morning, procedure_flow


@procedure_flow(J4)
async def j4_community_correction(p: Procedure) -> str:
    """Support a minor in community correction until release.

    The justice bureau fits a plan to the minor (identity protection, emotional support,
    schooling and work) → a review every month of the term (the interval is a setting) → a
    review that finds a violation is reported to the court → release at the end of the term.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    interval = p.spec.wait("reviews").duration

    plan = await p.human("j4.plan")
    due = morning(plan.plan_from)
    for month in range(1, plan.term_months + 1):
        key = f"review-{month}"  # the month of the term, whatever the interval's setting
        due = due_after(due, interval)
        await p.wait_until(key, due)
        review = await p.human("j4.review", key=key)
        if review.progress == "violation":
            await p.notify("court", "j4.violation", key=f"{key}-violation", month=month)

    await p.human("j4.release")
    return await p.finish("released")
