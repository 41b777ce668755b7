"""R5 temporary loss of support (四(一)3)."""

from __future__ import annotations

from flows.rescue.spec import R5
from flows.steps import Procedure, procedure_flow


@procedure_flow(R5)
async def r5_temporary_placement(p: Procedure) -> str:
    """Place a child left without support in a welfare institution.

    Children whose parents are imprisoned, and rescued trafficked infants whose guardian is not
    found: civil affairs places them in a welfare institution (5 working days), which admits
    them (2 working days). For a trafficked infant without guardian the placement starts J2's
    clock; for a child of imprisoned parents it is temporary.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    placement = await p.human("r5.placement")
    admission = await p.human("r5.admission")
    if placement.reason == "trafficked_no_guardian":
        await p.record_placement(admission.admitted_on)
        await p.start("J2", key="no-guardian")
    return await p.finish("placed")
