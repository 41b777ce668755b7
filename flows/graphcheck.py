"""Does the picture agree with the procedure? Checks of a step graph against its steps, against
its flow's source, and against the paths that real runs took. No Prefect, no database.

- `graph_problems`: the graph is well formed — every step and wait of the procedure is in it,
  every node is reachable and leads somewhere, and every condition on a step's decision names
  a field of that decision and values it can take.
- `flow_problems`: the flow's source (read with `ast`, never run) opens the same steps, sets as
  many timers, starts the same procedures, sends the same notifications and finishes with the
  same outcomes as the graph shows.
- `path_problems`: a sequence of nodes that a run went through (from the audit trail) follows
  the graph's edges.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from flows.catalog import BEGIN, ProcedureSpec, StepSpec, node_kind

TIMER_OUTCOMES = ("fired", "cancelled")  # what a wait can end with (flows/steps.py TimerInput)
_ATOM = re.compile(r"(?P<neg>not )?(?P<field>[a-z_][a-z0-9_]*)"
                   r"(?: (?P<op>==|!=) (?P<value>[\w-]+)| in \{(?P<values>[^{}]*)\})?")


# --- the graph on its own ---------------------------------------------------------------------


def _condition(when: str) -> str:
    """The part of `when` before a comma outside braces; what follows is prose."""
    depth = 0
    for i, ch in enumerate(when):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            return when[:i]
    return when


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
    atoms = re.split(r" (?:and|or) ", _condition(when))
    first = _ATOM.fullmatch(atoms[0])
    fields = step.decision.model_fields
    code_like = first is not None and bool(first["op"] or first["values"] is not None
                                            or first["neg"] or "_" in first["field"])
    if first is None or (first["field"] not in fields and not code_like):
        return []  # prose, for a person to read
    problems = []
    for atom in atoms:
        m = _ATOM.fullmatch(atom)
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
        if e.when and kind == "wait" and _condition(e.when) not in TIMER_OUTCOMES:
            problems.append(f"{e.source} → {e.target}: a wait ends {' or '.join(TIMER_OUTCOMES)}"
                            f", not {e.when!r}")
    problems += [f"{s.name} has no fixed owner: say how the flow names it (owner_rule)"
                 for s in spec.steps if s.owner is None and not s.owner_rule]
    return problems


# --- the graph against the flow's source ------------------------------------------------------


@dataclass
class FlowCalls:
    """What a flow's source does, read from its syntax tree."""

    steps: set[str] = field(default_factory=set)  # p.human / p.human_checked
    starts: set[str] = field(default_factory=set)  # p.start
    outcomes: set[str] = field(default_factory=set)  # p.finish
    notifications: set[str] = field(default_factory=set)  # p.notify's, p.feedback's event
    waits: set[str] = field(default_factory=set)  # <spec>.wait("name")
    timers: int = 0  # p.wait_until call sites
    unowned: list[tuple[str, int]] = field(default_factory=list)  # (step, line) without owner=
    problems: list[str] = field(default_factory=list)  # what could not be read


def _strings(node: ast.expr) -> set[str] | None:
    """The strings an expression can be: a constant, or `a if … else b` of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body), _strings(node.orelse)
        return None if body is None or orelse is None else body | orelse
    return None


def _choices(expr: ast.expr, at: ast.AST, parents: dict[ast.AST, ast.AST]) -> set[str] | None:
    """The values of `expr` at `at`, from an enclosing `if expr in ("a", "b"):`."""
    node = at
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.If) and node in parent.body:
            test = parent.test
            if (isinstance(test, ast.Compare) and len(test.ops) == 1
                    and isinstance(test.ops[0], ast.In)
                    and ast.dump(test.left) == ast.dump(expr)
                    and isinstance(test.comparators[0], ast.Tuple | ast.List | ast.Set)):
                values = [_strings(v) for v in test.comparators[0].elts]
                if all(v is not None for v in values):
                    return set().union(*values)  # type: ignore[arg-type]
        node = parent
    return None


def _event_names(node: ast.expr, parents: dict[ast.AST, ast.AST]) -> set[str] | None:
    """A notification's event: a constant, or an f-string whose parts an `if … in` fixes."""
    if not isinstance(node, ast.JoinedStr):
        return _strings(node)
    parts: list[set[str]] = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            parts.append({str(part.value)})
        elif isinstance(part, ast.FormattedValue):
            choices = _choices(part.value, node, parents)
            if choices is None:
                return None
            parts.append(choices)
    return {"".join(p) for p in itertools.product(*parts)}


def flow_calls(source: str) -> FlowCalls:
    """Read what a flow does from its source: the calls on its `Procedure`."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = FlowCalls()
    procs = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and "Procedure.begin" in ast.unparse(node.value)
             for t in node.targets if isinstance(t, ast.Name)}
    if not procs:
        found.problems.append("no `p = await Procedure.begin(...)` in the flow")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, line = node.func.attr, node.lineno
        if method == "wait" and node.args and _strings(node.args[0]):
            found.waits |= _strings(node.args[0]) or set()
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id in procs):
            continue
        first = node.args[0] if node.args else None
        if method in ("human", "human_checked", "start", "finish"):
            values = _strings(first) if first is not None else None
            if values is None:
                found.problems.append(f"line {line}: cannot read the argument of .{method}()")
                continue
            target = {"human": found.steps, "human_checked": found.steps,
                      "start": found.starts, "finish": found.outcomes}[method]
            target |= values
            if method.startswith("human") and not any(k.arg == "owner" for k in node.keywords):
                found.unowned += [(step, line) for step in values]
        elif method in ("notify", "feedback"):
            # p.notify(agency, event, …) tells an agency; p.feedback(event) the hotline (S1)
            at = 1 if method == "notify" else 0
            event = node.args[at] if len(node.args) > at else None
            names = _event_names(event, parents) if event is not None else None
            if names is None:
                found.problems.append(f"line {line}: cannot read the event of .{method}(); write "
                                      "it as a constant, or an f-string inside `if x in (...)`")
                continue
            found.notifications |= names
        elif method == "wait_until":
            found.timers += 1
    return found


def _differ(what: str, in_graph: Iterable[str], in_flow: Iterable[str]) -> list[str]:
    graph, flow = set(in_graph), set(in_flow)
    return ([f"{what} {x}: in the graph, not in the flow" for x in sorted(graph - flow)]
            + [f"{what} {x}: in the flow, not in the graph" for x in sorted(flow - graph)])


def flow_problems(spec: ProcedureSpec, source: str) -> list[str]:
    """Where the graph and the flow's source disagree; [] when they agree."""
    calls = flow_calls(source)
    problems = list(calls.problems)
    fixed = {s.name: s.owner for s in spec.steps}
    problems += [f"line {line}: {step} has no fixed owner, and the flow opens it without owner="
                 for step, line in calls.unowned if step in fixed and fixed[step] is None]
    problems += _differ("step", spec.nodes_of("step"), calls.steps)
    problems += _differ("start of", spec.starts, calls.starts)
    problems += _differ("outcome", spec.outcomes, calls.outcomes)
    problems += _differ("notification", spec.nodes_of("notify"), calls.notifications)
    problems += _differ("wait", spec.nodes_of("wait"), calls.waits)
    if calls.timers != len(spec.nodes_of("wait")):
        problems.append(f"the flow sets timers in {calls.timers} place(s); the graph has "
                        f"{len(spec.nodes_of('wait'))} wait(s)")
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
