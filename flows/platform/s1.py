"""S1 hotline report routing (五(三)): acknowledge → act → feed the result back."""

from __future__ import annotations

from flows.platform.spec import S1
from flows.steps import Procedure, procedure_flow


@procedure_flow(S1)
async def s1_hotline_routing(p: Procedure) -> str:
    """Take one agency through a hotline report routed to it.

    The agency acknowledges the report within 1 working day, or the task climbs its ladder;
    an agency that is not responsible says so, and the platform is told. Otherwise it acts
    and records the result (10 working days), and the result is fed back to the platform with
    the reporter's reference, signed and through the outbox.

    Args:
        procedure_run_id: the procedure run in the case store; its parameters name the
            hotline report (`report_id`) and the agency (`agency`).
    """
    agency = p.params.get("agency")
    if not agency or "report_id" not in p.params:
        raise ValueError("S1 is started by the hotline intake (`protect intake`), which names "
                         "the report and the agency")

    acknowledgement = await p.human("s1.acknowledge", owner=agency)
    if acknowledgement.outcome == "not_responsible":
        await p.feedback("s1.declined")
        return await p.finish("declined")
    await p.feedback("s1.acknowledged")

    result = await p.human("s1.result", owner=agency)
    await p.feedback("s1.result")
    if result.outcome == "unfounded":
        return await p.finish("unfounded")
    if result.outcome == "referred":
        return await p.finish("referred")
    return await p.finish("resolved")
