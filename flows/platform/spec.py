"""S1 as data: a hotline report routed to one agency, acknowledged, acted on, fed back (五(三)).

The intake (app/services/hotline.py) starts one S1 run per agency that triage routes the
report to, with the agency as the run's parameter: the engine has no parallel human steps in
one run, and each agency's acknowledgement climbs its own ladder. The plan gives 1 working day
to acknowledge; the result's 10 working days (then 5 per rung) are ours *(default)*, settings in
procedures.toml like every other deadline.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flows.catalog import BEGIN, Edge, ProcedureSpec, StepSpec
from flows.forms import Decision, Notes
from flows.words import Words

ROUTED = "the agency the report was routed to (hotline.toml)"


class AcknowledgeDecision(Decision):
    outcome: Literal["accepted", "not_responsible"]


class AcknowledgeForm(AcknowledgeDecision):
    notes: Notes


class HotlineResultDecision(Decision):
    outcome: Literal["resolved", "referred", "unfounded"]


class HotlineResultForm(HotlineResultDecision):
    """What the agency did about the report (suite hotline_result)."""

    acted_on: date
    notes: Notes


S1 = ProcedureSpec(
    code="S1",
    area="platform",
    title="Hotline report routing",
    title_zh="热线转办",
    flow_name="s1-hotline-routing",
    entrypoint="flows/platform/s1.py:s1_hotline_routing",
    by_hand=False,  # the hotline intake starts it, naming the report and the agency
    steps=(
        StepSpec("s1.acknowledge", "Acknowledge the hotline report", "1wd",
                 AcknowledgeDecision, AcknowledgeForm, owner_rule=ROUTED,
                 title_zh="签收热线转办事项"),
        StepSpec("s1.result", "Act on the hotline report and record the result", "10wd",
                 HotlineResultDecision, HotlineResultForm, suite="hotline_result",
                 rung_deadline="5wd", owner_rule=ROUTED,
                 title_zh="办理转办事项并反馈结果"),
    ),
    graph=(
        Edge(BEGIN, "s1.acknowledge"),
        Edge("s1.acknowledge", "notify:s1.acknowledged", "outcome == accepted"),
        Edge("s1.acknowledge", "notify:s1.declined", "outcome == not_responsible"),
        Edge("notify:s1.declined", "end:declined", "fed back to the platform"),
        Edge("notify:s1.acknowledged", "s1.result", "fed back to the platform"),
        Edge("s1.result", "notify:s1.result"),
        Edge("notify:s1.result", "end:resolved", "fed back: resolved"),
        Edge("notify:s1.result", "end:referred", "fed back: referred"),
        Edge("notify:s1.result", "end:unfounded", "fed back: unfounded"),
    ),
    outcome_words={
        "declined": Words("不属本单位职责，已退回平台", "Declined: not our responsibility"),
        "resolved": Words("已办结", "Resolved"),
        "referred": Words("已转其他部门办理", "Referred to another agency"),
        "unfounded": Words("经核实情况不属实", "Unfounded"),
    },
)


# --- the words of the forms' fields and choices (flows/words.py) -------------------------------
# S1's fields (outcome, acted_on, notes) are all in flows/words.py COMMON_FIELDS.

FIELDS: dict[str, Words] = {}

OPTIONS: dict[str, Words] = {
    "accepted": Words("签收办理", "Accepted"),
    "not_responsible": Words("不属本单位职责", "Not our responsibility"),
    "resolved": Words("已办结", "Resolved"),
    "unfounded": Words("经核实不属实", "Unfounded"),
}
