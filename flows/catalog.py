"""What every procedure is made of, as data: steps, owners, deadlines, forms. No Prefect here.

The service layer reads this to validate a completed form; the flows read it to open their
steps; the docs and `protect procedures` read it to draw the procedure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel


@dataclass(frozen=True)
class StepSpec:
    """A human step: who must decide, by when, on which form."""

    name: str  # "r2.outreach": unique across procedures
    title: str
    deadline: str  # "24h", "5wd", "60d" (see app.rules.workdays.parse_duration)
    decision: type[BaseModel]  # what the flow gets back: enums, codes, dates, amounts only
    form: type[BaseModel]  # what the agency fills in: the decision plus the record
    owner: str | None = None  # None: the flow names the owner when it opens the step
    bureau: str | None = None  # the municipal bureau responsible above a local owner
    suite: str | None = None  # the Great Expectations suite that checks the form
    rung_deadline: str | None = None  # time given to each higher rung; default: `deadline`


@dataclass(frozen=True)
class ProcedureSpec:
    """A procedure of PROCEDURES.md and where its flow lives."""

    code: str
    area: str
    title: str
    flow_name: str
    entrypoint: str  # "flows/rescue/r2.py:r2_street_child_rescue", root-relative
    steps: tuple[StepSpec, ...] = field(default=())

    @property
    def deployment(self) -> str:
        return f"{self.flow_name}/{self.code.lower()}"

    def step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"{self.code} has no step {name!r}")


def all_procedures() -> dict[str, ProcedureSpec]:
    """Every procedure by code."""
    from flows.judicial.spec import J2
    from flows.medical.spec import M1
    from flows.rescue.spec import R2, R3

    return {p.code: p for p in (R2, R3, M1, J2)}


def procedure(code: str) -> ProcedureSpec:
    procs = all_procedures()
    if code.upper() not in procs:
        raise KeyError(f"unknown procedure {code!r}; known: {', '.join(sorted(procs))}")
    return procs[code.upper()]


def step_spec(name: str) -> StepSpec:
    code = name.split(".", 1)[0]
    return procedure(code).step(name)
