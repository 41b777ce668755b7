"""Is a procedure's picture sound, and do its runs follow it? Checks of a step graph on its own
and against the paths that real runs took. No Prefect, no database.

The graph (`ProcedureSpec.graph`) is drawn by hand beside the flow, for the docs, `protect
procedures show` and the task page's "what comes next"; the flow is what runs.

- `graph_problems`: the graph is well formed — every step and wait of the procedure is in it,
  every node is reachable and leads somewhere, and every condition on a step's decision names
  a field of that decision and values it can take.
- `path_problems`: a sequence of nodes that a run went through (from the audit trail) follows
  the graph's edges.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from flows.catalog import BEGIN, CONDITION_ATOM, ProcedureSpec, StepSpec, condition_code, node_kind

TIMER_OUTCOMES = ("fired", "cancelled")  # what a wait can end with (flows/steps.py TimerInput)


# --- the graph on its own ---------------------------------------------------------------------


def _field_values(model: type[BaseModel], name: str) -> tuple[set[str], bool]:
    """The values a decision field can take (empty: any), and whether it is a boolean."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    values: set[str] = set()
    boolean = False

    def walk(node: dict[str, Any]) -> None:
        nonlocal boolean
        if "$ref" in node:
            walk(defs[node["$ref"].rsplit("/", 1)[1]])
        values.update(str(v) for v in node.get("enum", []))
        if "const" in node:
            values.add(str(node["const"]))
        boolean = boolean or node.get("type") == "boolean"
        for sub in node.get("anyOf", []):
            walk(sub)

    walk(schema["properties"][name])
    return values, boolean


def condition_problems(step: StepSpec, when: str) -> list[str]:
    """Problems of a condition on `step`'s decision.

    A condition that starts with a field of the decision, a comparison, `not`, or a snake_case
    name is read as code and checked; anything else (e.g. "after the last visit") is prose.
    """
    atoms = re.split(r" (?:and|or) ", condition_code(when))
    first = CONDITION_ATOM.fullmatch(atoms[0])
    fields = step.decision.model_fields
    code_like = first is not None and bool(first["op"] or first["values"] is not None
                                            or first["neg"] or "_" in first["field"])
    if first is None or (first["field"] not in fields and not code_like):
        return []  # prose, for a person to read
    problems = []
    for atom in atoms:
        m = CONDITION_ATOM.fullmatch(atom)
        if m is None:
            problems.append(f"{step.name}: cannot read {atom!r} in {when!r}")
            continue
        if m["field"] not in fields:
            problems.append(f"{step.name}: {when!r} names {m['field']!r}, which its decision "
                            f"has not (fields: {', '.join(fields)})")
            continue
        allowed, boolean = _field_values(step.decision, m["field"])
        if boolean:
            allowed |= {"true", "false"}
        if m["op"] or m["values"] is not None:
            given = [m["value"]] if m["op"] else [v.strip() for v in m["values"].split(",")]
            wrong = [v for v in given if allowed and v not in allowed]
            if wrong:
                problems.append(f"{step.name}: {when!r}: {m['field']} is never "
                                f"{', '.join(wrong)} (it is one of {', '.join(sorted(allowed))})")
        elif not boolean:
            problems.append(f"{step.name}: {when!r}: {m['field']} is not a yes/no field")
    return problems


def graph_problems(spec: ProcedureSpec, known_codes: Iterable[str]) -> list[str]:
    """What is wrong with the procedure's graph on its own; [] when nothing."""
    codes = set(known_codes)
    problems = []
    edges = spec.graph
    if not edges:
        return [f"{spec.code} has no step graph"]
    nodes = spec.nodes
    steps = {s.name for s in spec.steps}
    waits = {w.name for w in spec.waits}
    for n in nodes:
        kind, name = node_kind(n), n.split(":", 1)[-1]
        if kind == "step" and n not in steps:
            problems.append(f"{n!r} is not a step of {spec.code} (or a node kind: "
                            "wait:, start:, notify:, end:)")
        elif kind == "wait" and name not in waits:
            problems.append(f"{n!r}: {spec.code} has no wait {name!r}")
        elif kind == "start" and name not in codes:
            problems.append(f"{n!r}: no procedure {name!r}")
    problems += [f"step {s} is not in the graph" for s in sorted(steps - set(nodes))]
    problems += [f"wait {w} is not in the graph"
                 for w in sorted(waits - set(spec.nodes_of("wait")))]
    if not spec.outcomes:
        problems.append(f"{spec.code}'s graph has no end")

    out: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        out[e.source].append(e.target)
        if node_kind(e.source) == "end":
            problems.append(f"{e.source} is an end, yet an edge leaves it (to {e.target})")
        if e.target == BEGIN:
            problems.append(f"an edge leads back to {BEGIN} (from {e.source})")
    seen_edges = [(e.source, e.target, e.when) for e in edges]
    problems += [f"edge {s} → {t} ({w}) appears twice" for (s, t, w) in
                 sorted({x for x in seen_edges if seen_edges.count(x) > 1}, key=str)]
    for n in nodes:
        if not out[n] and node_kind(n) not in ("end", "notify"):
            problems.append(f"{n} leads nowhere: give it an edge to the next node or an end")
    reached, todo = {BEGIN}, [BEGIN]
    while todo:
        for nxt in out[todo.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    problems += [f"{n} cannot be reached from {BEGIN}" for n in nodes if n not in reached]

    for e in edges:
        kind = node_kind(e.source)
        if e.when and kind == "step" and e.source in steps:
            problems += condition_problems(spec.step(e.source), e.when)
        if e.when and kind == "wait" and condition_code(e.when) not in TIMER_OUTCOMES:
            problems.append(f"{e.source} → {e.target}: a wait ends {' or '.join(TIMER_OUTCOMES)}"
                            f", not {e.when!r}")
    problems += [f"{s.name} has no fixed owner: say how the flow names it (owner_rule)"
                 for s in spec.steps if s.owner is None and not s.owner_rule]
    return problems


# --- the graph against what runs did ----------------------------------------------------------


def path_problems(spec: ProcedureSpec, path: list[str]) -> list[str]:
    """Where a run's path leaves the graph: each step to the next must be an edge, or two
    through a notification (which the path does not record)."""
    edges = {(e.source, e.target) for e in spec.graph}
    notify = set(n for n in spec.nodes if node_kind(n) == "notify")
    problems = [f"{n} is not in {spec.code}'s graph" for n in path if n not in spec.nodes]
    for a, b in itertools.pairwise(path):
        if (a, b) in edges or any((a, n) in edges and (n, b) in edges for n in notify):
            continue
        problems.append(f"{spec.code}: a run went {a} → {b}, which the graph has no edge for")
    return problems
