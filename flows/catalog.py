"""What every procedure is made of, as data: steps, owners, deadlines, forms, waits and the
step graph. No Prefect here.

The service layer reads this to validate a completed form; the flows read it to open their
steps; the docs and `protect procedures` read it to draw the procedure, and the task page to
say what comes next. The deadlines, waits and ladders written here are the defaults:
`all_procedures()` applies the operator's settings file on top (app/config/procedures.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from flows.words import Words

BEGIN = "begin"  # the node every procedure's graph starts from
# The kinds of node in a step graph, by the prefix of their name. A step's node is its name.
KINDS = ("wait", "start", "notify", "end")


@dataclass(frozen=True)
class StepSpec:
    """A human step: who must decide, by when, on which form."""

    name: str  # "r2.outreach": unique across procedures
    title: str
    deadline: str  # "24h", "5wd", "60d" (see app.domain.workdays.parse_duration)
    decision: type[BaseModel]  # what the flow gets back: enums, codes, dates, amounts only
    form: type[BaseModel]  # what the agency fills in: the decision plus the record
    owner: str | None = None  # None: the flow names the owner when it opens the step
    bureau: str | None = None  # the municipal bureau responsible above a local owner
    suite: str | None = None  # the Great Expectations suite that checks the form
    rung_deadline: str | None = None  # time given to each higher rung; default: `deadline`
    owner_rule: str | None = None  # for the picture: how the flow names the owner, if it does
    escalate_to: tuple[str, ...] | None = None  # explicit rungs above the owner (settings only)
    title_zh: str = ""  # the title a person reads (`title` is its English)

    @property
    def short(self) -> str:
        """"r2.outreach" → "outreach": the step's key in procedures.toml."""
        return self.name.split(".", 1)[1]


@dataclass(frozen=True)
class WaitSpec:
    """A durable timer, or a series of them counted from the same day."""

    name: str  # "visits": unique in its procedure, its key in procedures.toml
    title: str
    after: str | tuple[str, ...]  # one duration ("2y"), or a series ("1mo", "3mo", …)
    since: str  # what it counts from, for the picture: "the hand-over"
    title_zh: str = ""  # the title a person reads (`title` is its English)

    @property
    def durations(self) -> tuple[str, ...]:
        return (self.after,) if isinstance(self.after, str) else self.after

    @property
    def duration(self) -> str:
        """The one duration of a single wait."""
        if not isinstance(self.after, str):
            raise TypeError(f"wait {self.name!r} is a series: use .durations")
        return self.after


@dataclass(frozen=True)
class Edge:
    """One arrow of a step graph: from a node to the next, on a decision.

    The graph is the procedure's picture, drawn beside its flow: the flow is what runs, and the
    paths its runs take must follow the graph's edges (tests/flows/test_graph_paths.py).

    Nodes are named `begin`, a step's name ("r2.intake"), `wait:<name>`, `start:<CODE>` (another
    procedure started for the same case), `notify:<event>` and `end:<outcome>`. `when` is the
    condition in the terms of the source step's decision — `outcome == accepted`,
    `not ill_or_injured`, `situation in {ran_away, guardian_failing}`, joined by `and` / `or` —
    or, for a wait, `fired` / `cancelled`. Prose may follow the condition after a comma
    ("outcome != accepted, another attempt"); a `when` not written as code ("after the last
    visit") is prose for the reader.
    """

    source: str
    target: str
    when: str | None = None


# One term of a condition: `field`, `not field`, `field == value`, `field != value` or
# `field in {a, b}`.
CONDITION_ATOM = re.compile(r"(?P<neg>not )?(?P<field>[a-z_][a-z0-9_]*)"
                            r"(?: (?P<op>==|!=) (?P<value>[\w-]+)| in \{(?P<values>[^{}]*)\})?")


def condition_code(when: str) -> str:
    """The condition of an edge's `when`: the part before a comma outside braces (the rest is
    prose)."""
    depth = 0
    for i, ch in enumerate(when):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            return when[:i]
    return when


# What a start parameter holds: a day (YYYY-MM-DD), one of the six districts ("jinfeng"), an
# agency code of the reference data — a street office ("street:xingqing-fenghuang"), a community
# workstation ("community:xingqing-fenghuang"), a hospital ("hospital:first-people"), any
# agency — or one of a few fixed values (`choices`).
PARAM_KINDS = ("date", "district", "street", "community", "hospital", "agency", "choice")


@dataclass(frozen=True)
class ParamSpec:
    """A parameter a person may give when starting a procedure by hand (`--param name=value`).

    Codes and dates only: parameters go to Prefect. The flow reads it from `p.params`; the
    use case checks a start by hand against these (app/services/procedures.py,
    check_start_params).
    """

    name: str
    kind: str  # one of PARAM_KINDS
    title_zh: str
    title_en: str
    choices: tuple[str, ...] = ()  # kind "choice": the values allowed

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"parameter {self.name}: choices go with kind 'choice' only")


@dataclass(frozen=True)
class ProcedureSpec:
    """A procedure of PROCEDURES.md and where its flow lives."""

    code: str
    area: str
    title: str
    flow_name: str
    entrypoint: str  # "flows/rescue/r2.py:r2_street_child_rescue", root-relative
    steps: tuple[StepSpec, ...] = field(default=())
    waits: tuple[WaitSpec, ...] = field(default=())
    graph: tuple[Edge, ...] = field(default=())
    # What a person may give when starting it by hand; the starts of the flows, the hotline and
    # screening (keyed starts) pass their own parameters and are not checked against these.
    params: tuple[ParamSpec, ...] = field(default=())
    by_hand: bool = True  # False: only the system starts it (S1, by the hotline intake)
    title_zh: str = ""  # the name a person reads (`title` is its English)
    # The words of each outcome (the graph's `end:` nodes), e.g. "returned_home": 已送返家庭.
    outcome_words: dict[str, Words] = field(default_factory=dict, hash=False)

    @property
    def deployment(self) -> str:
        return f"{self.flow_name}/{self.code.lower()}"

    @property
    def full_title(self) -> str:
        """"Street child rescue (流浪儿童救助)": both names, as the listings and docs show it."""
        return f"{self.title} ({self.title_zh})" if self.title_zh else self.title

    def step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"{self.code} has no step {name!r}")

    def wait(self, name: str) -> WaitSpec:
        for w in self.waits:
            if w.name == name:
                return w
        raise KeyError(f"{self.code} has no wait {name!r}")

    @property
    def nodes(self) -> list[str]:
        """Every node of the graph, in the order the edges first name them."""
        seen: dict[str, None] = {BEGIN: None}
        for e in self.graph:
            seen.setdefault(e.source)
            seen.setdefault(e.target)
        return list(seen)

    def nodes_of(self, kind: str) -> list[str]:
        """The nodes of one kind ("step", "wait", "start", "notify", "end"), names only."""
        if kind == "step":
            return [n for n in self.nodes if n != BEGIN and node_kind(n) == "step"]
        return [n.split(":", 1)[1] for n in self.nodes if node_kind(n) == kind]

    @property
    def outcomes(self) -> list[str]:
        return self.nodes_of("end")

    @property
    def starts(self) -> list[str]:
        return self.nodes_of("start")


def node_kind(node: str) -> str:
    """"begin", "step", "wait", "start", "notify" or "end"."""
    if node == BEGIN:
        return BEGIN
    prefix = node.split(":", 1)[0]
    return prefix if ":" in node and prefix in KINDS else "step"


AREAS = ("rescue", "education", "judicial", "employment", "medical", "psych", "platform")


def base_procedures() -> dict[str, ProcedureSpec]:
    """Every procedure by code, as the code defines it (before the operator's settings).

    Each area's `flows/<area>/spec.py` defines its procedures; they are listed in the plan's
    order of areas, and in code order within an area.
    """
    import importlib

    found: list[ProcedureSpec] = []
    for area in AREAS:
        module = importlib.import_module(f"flows.{area}.spec")
        found += sorted((v for v in vars(module).values() if isinstance(v, ProcedureSpec)),
                        key=lambda spec: (len(spec.code), spec.code))
    return {spec.code: spec for spec in found}
