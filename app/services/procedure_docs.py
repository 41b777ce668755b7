"""The procedures drawn from their definitions: listings, a step table, Mermaid graphs, docs.

Everything here is generated from `flows.catalog` (with the operator's settings applied), so
what `protect procedures show` prints and docs/procedures.md shows is what the system runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.config.procedures import LadderSettings, agency_nodes, describe_ladder, step_ladder
from flows.catalog import BEGIN, ProcedureSpec, StepSpec, node_kind

DOCS_COMMAND = "protect procedures docs > docs/procedures.md"


def _owner(step: StepSpec) -> str:
    return step.owner or f"by the flow: {step.owner_rule or '?'}"


def _deadline(step: StepSpec) -> str:
    rung = step.rung_deadline or step.deadline
    return step.deadline if rung == step.deadline else f"{step.deadline}, then {rung} per rung"


def listing(procedures: Mapping[str, ProcedureSpec]) -> list[dict[str, Any]]:
    """One row per procedure: what `protect procedures --json` prints."""
    return [{"code": p.code, "area": p.area, "title": p.full_title, "flow_name": p.flow_name,
             "deployment": p.deployment, "steps": len(p.steps)} for p in procedures.values()]


def describe(spec: ProcedureSpec, levels: Mapping[str, LadderSettings] | None = None
             ) -> dict[str, Any]:
    """Everything about one procedure: what `protect procedures show CODE --json` prints."""
    nodes = agency_nodes()
    steps = [{
        "name": s.name, "title": s.title, "owner": s.owner, "owner_rule": s.owner_rule,
        "deadline": s.deadline, "rung_deadline": s.rung_deadline or s.deadline,
        "bureau": s.bureau, "escalate_to": list(s.escalate_to) if s.escalate_to else None,
        "ladder": step_ladder(s, s.owner, nodes, levels) if s.owner else None,
        "ladder_text": describe_ladder(s, levels), "suite": s.suite,
        "decision": sorted(s.decision.model_fields),
    } for s in spec.steps]
    waits = [{"name": w.name, "title": w.title, "after": list(w.durations), "since": w.since}
             for w in spec.waits]
    params = [{"name": p.name, "kind": p.kind, "title_zh": p.title_zh, "title_en": p.title_en,
               "choices": list(p.choices)} for p in spec.params]
    return {
        "code": spec.code, "area": spec.area, "title": spec.full_title, "flow_name": spec.flow_name,
        "deployment": spec.deployment, "entrypoint": spec.entrypoint, "by_hand": spec.by_hand,
        "params": params, "steps": steps, "waits": waits,
        "graph": {"edges": [{"from": e.source, "to": e.target, "when": e.when}
                            for e in spec.graph],
                  "starts": spec.starts, "outcomes": spec.outcomes},
        "mermaid": mermaid(spec),
    }


# --- Mermaid -----------------------------------------------------------------------------------


def _text(value: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return value.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _shape(spec: ProcedureSpec, node: str) -> str:
    """The node's shape and label, after its id."""
    kind, name = node_kind(node), node.split(":", 1)[-1]
    if kind == BEGIN:
        return f'(("{spec.code}"))'
    if kind == "step":
        s = spec.step(node)
        owner = s.owner or "owner by the flow"
        return f'["{_text(s.title)}<br/>{node} · {_text(owner)} · {_text(_deadline(s))}"]'
    if kind == "wait":
        w = spec.wait(name)
        return (f'{{{{"{_text(w.title)}<br/>timer: {", ".join(w.durations)} after '
                f'{_text(w.since)}"}}}}')
    if kind == "start":
        return f'[["start {name}"]]'
    if kind == "notify":
        return f'>"notify {_text(name)}"]'
    return f'(["{_text(name)}"])'


def mermaid(spec: ProcedureSpec) -> str:
    """The step graph as a Mermaid flowchart, top to bottom.

    Node ids are `n0`, `n1`, …: names such as `end_…` or `…_td` clash with Mermaid's keywords.
    """
    ids = {n: f"n{i}" for i, n in enumerate(spec.nodes)}
    lines = ["flowchart TD"]
    lines += [f"    {ids[n]}{_shape(spec, n)}" for n in spec.nodes]
    leaves = {n for n in spec.nodes if node_kind(n) == "notify"
              and not any(e.source == n for e in spec.graph)}
    for e in spec.graph:
        arrow = "-.->" if e.target in leaves else "-->"
        label = f'|"{_text(e.when)}"|' if e.when else ""
        lines.append(f"    {ids[e.source]} {arrow}{label} {ids[e.target]}")
    return "\n".join(lines)


# --- text --------------------------------------------------------------------------------------


def show_text(spec: ProcedureSpec, levels: Mapping[str, LadderSettings] | None = None) -> str:
    """`protect procedures show CODE`: the steps with owners, deadlines, ladders; the graph."""
    lines = [f"{spec.code}  {spec.full_title}",
             f"area {spec.area} · deployment {spec.deployment} · {spec.entrypoint}", "", "steps:"]
    for s in spec.steps:
        lines += [f"  {s.name:<20} {s.title}",
                  f"  {'':<20} owner {_owner(s)}",
                  f"  {'':<20} deadline {_deadline(s)}" + (f", form checked by {s.suite}"
                                                           if s.suite else ""),
                  f"  {'':<20} ladder {describe_ladder(s, levels)}"]
    if spec.waits:
        lines += ["", "waits:"]
        lines += [f"  {w.name:<20} {', '.join(w.durations)} after {w.since} ({w.title})"
                  for w in spec.waits]
    if not spec.by_hand:
        lines += ["", "started by the system only, not by hand"]
    elif spec.params:
        lines += ["", "parameters (protect start … --param NAME=VALUE):"]
        lines += [f"  {p.name:<20} {_param_kind(p.kind, p.choices)}: {p.title_en} "
                  f"({p.title_zh})" for p in spec.params]
    lines += ["", f"starts: {', '.join(spec.starts) or 'none'}",
              f"outcomes: {', '.join(spec.outcomes)}", "", "graph (Mermaid):", mermaid(spec)]
    return "\n".join(lines)


def _param_kind(kind: str, choices: tuple[str, ...]) -> str:
    return {"date": "a date, YYYY-MM-DD", "district": "a district (xingqing, jinfeng…)",
            "street": "a street office, street:…", "community": "a community, community:…",
            "hospital": "a hospital, hospital:…", "agency": "an agency code",
            "choice": " | ".join(choices)}[kind]


def list_text(procedures: Mapping[str, ProcedureSpec]) -> str:
    return "\n".join(f"{p.code:<4} {p.area:<10} {p.full_title}  ({len(p.steps)} step"
                     + ("s)" if len(p.steps) != 1 else ")") for p in procedures.values())


# --- docs/procedures.md ------------------------------------------------------------------------

INTRO = f"""\
# The procedures

<!-- Generated by `{DOCS_COMMAND}` from flows/*/spec.py and procedures.toml.
     Do not edit by hand: tests/unit/test_procedure_docs.py fails when this file is out of date. -->

Every procedure the system runs, drawn from its definition (`flows/<area>/spec.py`) with the
shipped settings (`procedures.toml`). For each: its human steps with their owner, deadline and
escalation ladder, its waits, and its step graph — which step follows which, on what decision,
which other procedures it starts, and how it ends. The graph is drawn beside the flow, which
is the code that runs (`flows/<area>/<code>.py`): a test follows the paths that the flow tests'
runs took and fails when one leaves the graph (`tests/flows/test_graph_paths.py`).

How to change a deadline, a wait or a ladder without touching code:
[docs/engine.md, "Procedure settings"](engine.md#procedure-settings). Legend: rectangles are
human steps, hexagons timers, double-edged boxes other procedures started for the same case,
flags notifications (dotted when the procedure goes on without waiting), rounded boxes the
outcomes.
"""


def _md(value: str) -> str:
    return value.replace("|", "\\|")


def render_docs(procedures: Mapping[str, ProcedureSpec],
                levels: Mapping[str, LadderSettings] | None = None) -> str:
    """docs/procedures.md: every procedure's steps, waits and Mermaid graph."""
    parts = [INTRO]
    parts += ["| code | area | procedure | steps |", "| --- | --- | --- | --- |"]
    parts += [f"| [{p.code}](#{p.code.lower()}) | {p.area} | {_md(p.full_title)} | {len(p.steps)} |"
              for p in procedures.values()]
    for spec in procedures.values():
        parts += ["", f"## {spec.code}", "", f"**{_md(spec.full_title)}** · area `{spec.area}` · "
                  f"flow [`{spec.entrypoint.split(':')[0]}`](../{spec.entrypoint.split(':')[0]})"
                  f" · deployment `{spec.deployment}`", "",
                  "| step | owner | deadline | escalation |", "| --- | --- | --- | --- |"]
        parts += [f"| `{s.name}` {_md(s.title)} | {_md(_owner(s))} | {_md(_deadline(s))} | "
                  f"{_md(describe_ladder(s, levels))} |" for s in spec.steps]
        if spec.waits:
            parts += ["", "| wait | falls due | counted from |", "| --- | --- | --- |"]
            parts += [f"| `{w.name}` {_md(w.title)} | {', '.join(w.durations)} | {w.since} |"
                      for w in spec.waits]
        parts += ["", "```mermaid", mermaid(spec), "```"]
    return "\n".join(parts) + "\n"
