"""P1 counselling (四(六)): referral → social-work assessment → sessions → review."""

from __future__ import annotations

from flows.psych.spec import MAX_SESSION_ROUNDS, P1
from flows.steps import Procedure, procedure_flow


@procedure_flow(P1)
async def p1_counselling(p: Procedure) -> str:
    """Counsel a child in difficulty.

    The protection center records the referral (2 working days) → its social worker assesses
    the child (5 working days): no need, counselling by the center's social workers, or
    clinical needs for the health commission's counselling clinics → a round of sessions
    (40 working days) → a review closes the case or asks for another round; after the third
    round the case ends unresolved and the center is told.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    await p.human("p1.referral")
    assessment = await p.human("p1.assessment")
    if assessment.outcome == "no_need":
        return await p.finish("no_need")
    counsellor = "health" if assessment.outcome == "clinical" else "center"

    for round_no in range(1, MAX_SESSION_ROUNDS + 1):
        await p.human("p1.sessions", key=f"sessions-{round_no}", owner=counsellor)
        review = await p.human("p1.review", key=f"review-{round_no}")
        if review.outcome == "closed":
            return await p.finish("closed")
    await p.notify("center", "p1.unresolved", key="unresolved")
    return await p.finish("unresolved")
