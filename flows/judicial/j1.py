"""J1 family tracing (四(三)1)."""

from __future__ import annotations

from app.domain.workdays import due_after
from flows.judicial.spec import J1
from flows.steps import Procedure, morning, procedure_flow


@procedure_flow(J1)
async def j1_family_tracing(p: Procedure) -> str:
    """Trace a child's family until it is found or the case is closed.

    The police search the rescue information system, the population information system and
    the national anti-trafficking DNA database → a candidate match is verified → found: the
    family is recorded as found (the case's waiting clocks stop: J2) and the child goes home
    (R3); not found: search again after an interval (90 calendar days by default), as long as
    the case is open. Finding the family by other means (`protect case family-found`) cancels
    the wait.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    interval = p.spec.wait("interval").duration

    rounds = 1
    while True:
        suffix = "" if rounds == 1 else f"-{rounds}"  # search, search-2, search-3, …
        search = await p.human("j1.search", key=f"search{suffix}")
        last_day = search.searched_on
        if search.outcome == "candidate":
            verification = await p.human("j1.verification", key=f"verification{suffix}")
            if verification.outcome == "confirmed":
                await p.family_found()  # stops J2's two-year clock, if one is running
                await p.start("R3", key="found")
                return await p.finish("found")
            last_day = verification.verified_on

        # The key names the round, not the interval, so a changed setting orphans no run.
        waited = await p.wait_until(f"retry-{rounds}", due_after(morning(last_day), interval))
        if waited == "cancelled":
            return await p.finish("family_found")
        if not await p.case_is_open(f"retry-{rounds}"):
            return await p.finish("case_closed")
        rounds += 1
