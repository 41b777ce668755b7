"""The step graph of every procedure is well formed, and a run's path is checked against it.

The graph is the procedure's picture, drawn beside its flow; the tests below that change a copy
of a spec show that each check does fail when the picture is wrong. tests/flows/test_graph_paths.py
follows the flow tests' real runs through the graph.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows.catalog import BEGIN, Edge, base_procedures
from flows.graphcheck import graph_problems, path_problems

PROCS = base_procedures()


def _without(code: str, *edges: tuple[str, str]):
    spec = PROCS[code]
    return replace(spec, graph=tuple(e for e in spec.graph if (e.source, e.target) not in edges))


def _with(code: str, *edges: Edge):
    return replace(PROCS[code], graph=PROCS[code].graph + edges)


@pytest.mark.parametrize("code", PROCS)
def test_every_procedure_has_a_well_formed_step_graph(code) -> None:
    assert graph_problems(PROCS[code], PROCS) == []


# --- the checks fail when the picture is wrong ------------------------------------------------


def test_a_node_that_leads_nowhere_is_reported() -> None:
    spec = _without("R2", ("start:J2", "end:placed"))
    assert "start:J2 leads nowhere: give it an edge to the next node or an end" in \
        graph_problems(spec, PROCS)


def test_a_condition_on_a_value_the_decision_cannot_take_is_reported() -> None:
    spec = _with("R2", Edge("r2.outreach", "r2.intake", "outcome == acepted"),
                 Edge("r2.identity", "r2.placement", "outcom == family_not_found"),
                 Edge("r2.intake", "r2.identity", "not has_hukou"))
    problems = graph_problems(spec, PROCS)
    assert any("outcome is never acepted" in p for p in problems)
    assert any("names 'outcom', which its decision has not" in p for p in problems)
    assert any("names 'has_hukou'" in p for p in problems)


def test_a_condition_on_a_yes_no_field_must_read_as_one() -> None:
    spec = _with("R2", Edge("r2.identity", "r2.placement", "outcome"),
                 Edge("r2.identity", "start:J2", "has_hukou == maybe"))
    problems = graph_problems(spec, PROCS)
    assert any("'outcome': outcome is not a yes/no field" in p for p in problems)
    assert any("has_hukou is never maybe" in p for p in problems)


def test_a_wait_ends_fired_or_cancelled_only() -> None:
    spec = _with("J2", Edge("wait:clock", "end:registered", "expired"))
    assert any("a wait ends fired or cancelled, not 'expired'" in p
               for p in graph_problems(spec, PROCS))


def test_unknown_and_unreachable_nodes_are_reported() -> None:
    spec = _with("M1", Edge("m1.review", "end:settled"), Edge("m1.payment", "start:Z9"))
    problems = graph_problems(spec, PROCS)
    assert any("'m1.review' is not a step of M1" in p for p in problems)
    assert "m1.review cannot be reached from begin" in problems
    assert "'start:Z9': no procedure 'Z9'" in problems
    spec = _without("M1", ("m1.discharge", "m1.claim"))
    assert "m1.claim cannot be reached from begin" in graph_problems(spec, PROCS)


# --- paths that runs take -------------------------------------------------------------------


@pytest.mark.parametrize(("code", "path"), [
    ("R2", [BEGIN, "r2.outreach", "r2.outreach", "r2.intake", "start:M1", "r2.identity",
            "start:R3", "end:returned_home"]),
    ("R3", [BEGIN, "r3.assessment", "r3.escort", "wait:visits", "r3.visit", "wait:visits",
            "r3.visit", "r3.closing", "end:closed"]),
    ("R3", [BEGIN, "r3.assessment", "start:R4", "end:home_unsafe"]),  # through its notification
    ("R4", [BEGIN, "r4.reprimand", "r4.penalty", "r4.prosecution", "end:prosecuted"]),
    ("M1", [BEGIN, "m1.admission", "m1.intervention", "m1.status", "m1.discharge", "m1.claim",
            "m1.claim", "m1.payment", "end:settled"]),
    ("J2", [BEGIN, "wait:clock", "end:family_found"]),
])
def test_a_path_a_run_can_take_follows_the_graph(code, path) -> None:
    assert path_problems(PROCS[code], path) == []


def test_a_path_that_skips_a_step_is_reported() -> None:
    assert path_problems(PROCS["R2"], [BEGIN, "r2.outreach", "r2.identity"]) == [
        "R2: a run went r2.outreach → r2.identity, which the graph has no edge for"]
    assert path_problems(PROCS["J2"], [BEGIN, "j2.registration"]) == [
        "J2: a run went begin → j2.registration, which the graph has no edge for"]
