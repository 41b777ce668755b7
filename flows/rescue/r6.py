"""R6 living assistance (四(一)5)."""

from __future__ import annotations

from flows.rescue.spec import R6, default_street
from flows.steps import Procedure, procedure_flow


@procedure_flow(R6)
async def r6_living_assistance(p: Procedure) -> str:
    """Give a child's family the living assistance it is eligible for.

    The street office checks the family's eligibility → civil affairs enrols an eligible family
    in dibao (20 working days) → for a disabled child, the Disabled Persons' Federation grants
    the rehabilitation training subsidy and the health commission medical assistance → a
    congenitally disabled child is enrolled free in resident medical insurance (hrss).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    street = p.params.get("street") or default_street(p.info["district"])

    eligibility = await p.human("r6.eligibility", owner=street)
    if not (eligibility.dibao_eligible or eligibility.disabled):
        return await p.finish("not_eligible")

    granted = False
    if eligibility.dibao_eligible:
        dibao = await p.human("r6.dibao")
        granted = dibao.granted

    if eligibility.disabled:
        rehabilitation = await p.human("r6.rehabilitation")
        medical_aid = await p.human("r6.medical_aid")
        granted = granted or rehabilitation.granted or medical_aid.granted
        if eligibility.congenital_disability:
            await p.human("r6.insurance")
            granted = True

    return await p.finish("assisted" if granted else "not_assisted")
