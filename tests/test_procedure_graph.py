"""The step graph of every procedure is well formed and agrees with its flow's source.

The checks read the flow with `ast` (they never run it), so they are fast; the tests below that
change a copy of a spec or of a flow's source show that each check does fail when the picture
and the flow disagree. tests/flows/test_graph_paths.py follows the real runs through the graph.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from flows.catalog import BEGIN, Edge, base_procedures
from flows.graphcheck import flow_calls, flow_problems, graph_problems, path_problems

ROOT = Path(__file__).parent.parent
PROCS = base_procedures()


def _source(code: str) -> str:
    return (ROOT / PROCS[code].entrypoint.split(":")[0]).read_text(encoding="utf-8")


def _without(code: str, *edges: tuple[str, str]):
    spec = PROCS[code]
    return replace(spec, graph=tuple(e for e in spec.graph if (e.source, e.target) not in edges))


def _with(code: str, *edges: Edge):
    return replace(PROCS[code], graph=PROCS[code].graph + edges)


@pytest.mark.parametrize("code", PROCS)
def test_every_procedure_has_a_well_formed_step_graph(code) -> None:
    assert graph_problems(PROCS[code], PROCS) == []


@pytest.mark.parametrize("code", PROCS)
def test_the_graph_and_the_flow_agree(code) -> None:
    assert flow_problems(PROCS[code], _source(code)) == []


def test_the_flow_is_read_for_its_steps_starts_outcomes_notifications_and_timers() -> None:
    r2, r3 = flow_calls(_source("R2")), flow_calls(_source("R3"))
    assert r2.steps == {"r2.outreach", "r2.intake", "r2.identity", "r2.placement"}
    assert r2.starts == {"M1", "R3", "J1", "J2"}
    assert r2.outcomes == {"not_reached", "returned_home", "placed"}
    assert r3.notifications == {"r3.home_unsafe", "r3.ran_away", "r3.guardian_failing"}
    assert r3.starts == {"R4", "R6", "E4", "P1", "W1"}
    assert r3.outcomes == {"home_unsafe", "closed", "kept_open"}  # both sides of `… if … else`
    assert (r3.waits, r3.timers) == ({"visits"}, 1)


# --- the checks fail when the picture and the flow disagree -----------------------------------


def test_an_outcome_missing_from_the_graph_is_reported() -> None:
    spec = _without("R2", ("start:J2", "end:placed"))
    assert "outcome placed: in the flow, not in the graph" in flow_problems(spec, _source("R2"))
    assert "start:J2 leads nowhere: give it an edge to the next node or an end" in \
        graph_problems(spec, PROCS)


def test_a_start_the_graph_does_not_show_is_reported() -> None:
    spec = _without("R2", ("r2.intake", "start:M1"), ("start:M1", "r2.identity"))
    assert "start of M1: in the flow, not in the graph" in flow_problems(spec, _source("R2"))


def test_a_flow_that_no_longer_does_what_the_graph_shows_is_reported() -> None:
    source = _source("R2").replace('p.start("M1"', 'p.start("R6"')
    problems = flow_problems(PROCS["R2"], source)
    assert "start of M1: in the graph, not in the flow" in problems
    assert "start of R6: in the flow, not in the graph" in problems


def test_a_step_the_flow_no_longer_opens_is_reported() -> None:
    source = _source("M1").replace('await p.human("m1.status")', 'status = None')
    assert "step m1.status: in the graph, not in the flow" in flow_problems(PROCS["M1"], source)


def test_a_notification_narrowed_in_the_flow_is_reported() -> None:
    source = _source("R3").replace('("ran_away", "guardian_failing")', '("ran_away",)')
    assert "notification r3.guardian_failing: in the graph, not in the flow" in \
        flow_problems(PROCS["R3"], source)


def test_a_notification_whose_event_cannot_be_read_is_reported() -> None:
    source = _source("R3").replace('if visit.situation in ("ran_away", "guardian_failing"):',
                                   'if visit.situation != "ok":')
    assert any("cannot read the event of .notify()" in p
               for p in flow_problems(PROCS["R3"], source))


def test_a_timer_the_graph_does_not_show_is_reported() -> None:
    source = _source("J2").replace('await p.human("j2.registration")',
                                   'await p.wait_until("again", placed_on)\n'
                                   '    await p.human("j2.registration")')
    assert "the flow sets timers in 2 place(s); the graph has 1 wait(s)" in \
        flow_problems(PROCS["J2"], source)


def test_a_step_opened_without_its_owner_is_reported() -> None:
    source = _source("R2").replace('p.human("r2.placement", owner=placer)',
                                   'p.human("r2.placement")')
    assert any("r2.placement has no fixed owner, and the flow opens it without owner=" in p
               for p in flow_problems(PROCS["R2"], source))


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


def test_a_feedback_to_the_hotline_the_flow_no_longer_sends_is_reported() -> None:
    source = _source("S1").replace('await p.feedback("s1.declined")', "pass")
    assert "notification s1.declined: in the graph, not in the flow" in \
        flow_problems(PROCS["S1"], source)
    assert flow_calls(_source("S1")).notifications == {"s1.acknowledged", "s1.declined",
                                                       "s1.result"}
