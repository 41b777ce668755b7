"""J3 juvenile offenders: education first, then the criminal record is sealed (四(三)3)."""

from __future__ import annotations

from flows.judicial.spec import J3
from flows.steps import Procedure, procedure_flow


@procedure_flow(J3)
async def j3_juvenile_record_sealing(p: Procedure) -> str:
    """Handle a minor's offence education first, leniently, and seal the criminal record.

    The police make a social investigation of the minor → the procuratorate decides the
    handling, education first: a reprimand with education or a conditional non-prosecution,
    carried out as a help-and-education plan by the justice bureau, or a prosecution → the
    juvenile court judges (probation: community correction, J4) → the record is sealed: from
    then on only court, procuratorate and police roles may read it, and every read is
    recorded (app/services/cases.py:read_sealed_record). A sentence over five years is not sealed.

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    investigation = await p.human("j3.investigation")
    if not investigation.offence_confirmed:
        return await p.finish("no_offence")

    handling = await p.human("j3.handling")
    sealer = "procuratorate"
    judged = handling.measure == "prosecution"
    if not judged:
        help_education = await p.human("j3.help_education")
        judged = help_education.outcome == "failed"  # a failed test period is prosecuted
    if judged:
        judgment = await p.human("j3.judgment")
        if judgment.sentence == "custodial_over_5y":
            return await p.finish("not_sealable")
        if judgment.sentence == "probation":
            await p.start("J4", key="probation")
        sealer = "court"

    await p.human("j3.sealing", owner=sealer)
    await p.seal_record("sealing")
    return await p.finish("sealed")
