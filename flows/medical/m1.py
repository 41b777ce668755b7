"""M1 emergency treatment first, settlement afterwards (四(五)1)."""

from __future__ import annotations

from flows.medical.spec import DEFAULT_HOSPITAL, M1
from flows.steps import Procedure, procedure_flow


@procedure_flow(M1)
async def m1_emergency_treatment(p: Procedure) -> str:
    """Treat a critically ill or injured street child at once; settle the bill afterwards.

    The designated hospital admits and treats at once, with no deposit (within 1 hour); a
    refusal is reported to the health commission at once, which makes a hospital admit the
    child → civil affairs confirms street-child status (3 working days) → the hospital reports
    the discharge and submits its settlement claim (15 working days), checked by the
    settlement suite (a claim from another hospital goes back for correction) → the
    protection center pays (20 working days).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    hospital = p.params.get("hospital") or DEFAULT_HOSPITAL

    admission = await p.human("m1.admission", owner=hospital)
    if admission.outcome == "refused":
        await p.notify("health", "m1.admission_refused", key="refused", hospital=hospital)
        intervention = await p.human("m1.intervention")
        hospital = intervention.admitted_at

    status = await p.human("m1.status")
    if not status.confirmed:
        return await p.finish("not_street_child")

    await p.human("m1.discharge", owner=hospital)
    await p.human_checked("m1.claim", owner=hospital, context={"admitting_hospital": hospital})
    await p.human("m1.payment")
    return await p.finish("settled")
