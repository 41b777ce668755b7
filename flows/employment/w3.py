"""W3 start-up support for children's families (四(四): tax relief, loans, registration)."""

from __future__ import annotations

from flows.employment.spec import W3, application_owner
from flows.steps import Procedure, procedure_flow


@procedure_flow(W3)
async def w3_startup_support(p: Procedure) -> str:
    """Help a child's family member start a business.

    The family member applies at the community workstation (or the district government), which
    records the application (5 working days) → market regulation registers the business
    (5 working days) → the tax bureau decides the start-up tax relief (10 working days) → when
    the application asked for one, the human resources and social security bureau decides and
    pays a start-up loan (15 working days).

    Args:
        procedure_run_id: the procedure run in the case store.
    """
    application = await p.human("w3.application",
                                owner=application_owner(p.params, p.info["district"]))
    if application.outcome == "withdrawn":
        return await p.finish("withdrawn")

    registration = await p.human("w3.registration")
    if registration.outcome == "refused":
        return await p.finish("not_registered")

    await p.human("w3.tax_relief")
    if application.wants_loan:
        await p.human("w3.loan")
    return await p.finish("supported")
