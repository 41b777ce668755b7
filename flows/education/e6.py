"""E6 proxy mothers for left-behind children (四(二)6)."""

from __future__ import annotations

from app.domain.workdays import due_after
from flows.education.spec import E6, month_key
from flows.steps import Procedure, morning, procedure_flow


@procedure_flow(E6)
async def e6_proxy_mothers(p: Procedure) -> str:
    """Pair a left-behind child with a volunteer proxy mother and follow the contacts.

    The community identifies the left-behind child → the women's federation matches a
    volunteer proxy mother → the one-to-one pairing is agreed → a contact is recorded every
    month, within 5 working days of its date; a month not recorded in time climbs the ladder
    like any late step. A contact that raises a concern tells the protection center.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    months = p.spec.wait("contacts")
    identifier = p.params.get("community") or f"district:{p.info['district']}"

    identification = await p.human("e6.identification", owner=identifier)
    if not identification.left_behind:
        return await p.finish("not_left_behind")

    matching = await p.human("e6.matching")
    if not matching.matched:
        await p.notify("women", "e6.no_volunteer", key="no-volunteer")
        return await p.finish("no_volunteer")

    pairing = await p.human("e6.pairing")
    for after in months.durations:
        key = month_key(after)
        await p.wait_until(key, due_after(morning(pairing.agreed_on), after))
        contact = await p.human("e6.contact", key=key)
        if contact.concern:
            await p.notify("center", "e6.concern", key=f"{key}-concern")
        if contact.pairing == "ended":
            return await p.finish("ended_early")
    return await p.finish("completed")
