"""Starting a procedure by hand, without Prefect: the code read case-insensitively, an unknown
one refused in one line, a second run of a running procedure only on purpose and with a reason,
and the parameters checked against those the procedure declares, before anything is written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import Conflict, UnknownProcedure, ValidationFailed
from app.services import cases, procedures
from flows.catalog import base_procedures
from models import AuditEvent, OutboxMessage, ProcedureRun
from tests.helpers import open_case, protect


def _counts() -> tuple[int, ...]:
    with db() as session:
        return tuple(session.exec(select(func.count()).select_from(t)).one()
                     for t in (ProcedureRun, OutboxMessage, AuditEvent))


def _start(case_no: str, code: str, **kw: Any) -> ProcedureRun:
    with db() as session:
        case = cases.get_case(session=session, case_ref=case_no)
        run = procedures.start_procedure(session=session, case_id=int(case.id or 0), code=code,
                                         actor="test", now=clock.now(), **kw)
        session.expunge(run)
        return run


def _refused(case_no: str, code: str, **kw: Any) -> dict[str, str]:
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        _start(case_no, code, **kw)
    assert _counts() == before, "a refused start must write nothing"
    return {e.field: e.code for e in exc.value.errors}


# --- the code -----------------------------------------------------------------------------------


def test_an_unknown_code_is_a_not_found_naming_the_known_codes(quiet_store) -> None:
    case = open_case()
    before = _counts()
    with pytest.raises(UnknownProcedure, match="unknown procedure 'XX'; known: E1, E2"):
        _start(case, "XX")
    assert _counts() == before


def test_protect_start_with_an_unknown_code_prints_one_error_line_and_exits_2(store) -> None:
    case = open_case()
    out = protect("start", "XX", "--case", case, check=False)
    known = ", ".join(sorted(base_procedures()))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"error: unknown procedure 'XX'; known: {known}"]
    machine = protect("start", "XX", "--case", case, "--json", check=False)
    assert machine.returncode == 2 and json.loads(machine.stdout)["error"] == "not_found"


# --- a second run of a running procedure --------------------------------------------------------


def test_a_running_procedure_is_not_started_again_whatever_the_case_of_its_code(
        quiet_store) -> None:
    case = open_case()
    first = _start(case, "R2")
    assert first.code == "R2"
    before = _counts()
    with pytest.raises(Conflict, match=f"R2 is already running on case {case}"):
        _start(case, "r2")
    assert _counts() == before
    keyed = _start(case, "R2", start_key="test:keyed")  # flows, hotline, screening: their own
    assert keyed.id != first.id
    with db() as session:  # once both have ended, R2 may start again
        for run_id in (first.id, keyed.id):
            run = session.get(ProcedureRun, run_id)
            run.status, run.ended_at = "completed", clock.now()
            session.add(run)
    assert _start(case, "R2").id not in (first.id, keyed.id)


def test_a_deliberate_second_run_needs_again_and_a_reason_that_the_audit_keeps(quiet_store) -> None:
    case = open_case()
    first = _start(case, "R2")
    assert _refused(case, "R2", again=True) == {"reason": "reason.required"}
    assert _refused(case, "R2", again=True, reason="  \u200b ") == {"reason": "reason.required"}
    assert _refused(case, "R2", again=True, reason="bad\x07reason") == {
        "reason": "reason.control_character"}
    second = _start(case, "r2", again=True, reason="child found again in another district")
    assert second.id != first.id and second.code == "R2"
    with db() as session:
        event = session.exec(select(AuditEvent).where(
            AuditEvent.procedure_run_id == second.id,
            AuditEvent.action == "procedure.started")).one()
    assert event.detail["reason"] == "child found again in another district"
    assert event.detail["again"] is True


def test_protect_start_refuses_a_second_run_and_again_without_a_reason(store) -> None:
    case = open_case()
    _start(case, "R2")
    out = protect("start", "r2", "--case", case, check=False)
    assert out.returncode == 2 and "R2 is already running" in out.stderr
    out = protect("start", "R2", "--case", case, "--again", check=False)
    assert out.returncode == 2 and "reason: " in out.stderr


def test_protect_start_again_with_a_reason_starts_a_second_run(store, monkeypatch) -> None:
    from typer.testing import CliRunner

    import app.adapters.dispatch
    from app.entrypoints.cli import cli

    class Report:
        delivered = 0

    # Prefect is not needed
    monkeypatch.setattr(app.adapters.dispatch, "dispatch", lambda **kw: Report())
    case = open_case()
    first = _start(case, "R2")
    result = CliRunner().invoke(cli, ["start", "r2", "--case", case, "--again", "--reason",
                                      "a second rescue", "--json"])
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.output)["procedure_run"]
    assert run_id != first.id
    with db() as session:
        event = session.exec(select(AuditEvent).where(
            AuditEvent.procedure_run_id == run_id,
            AuditEvent.action == "procedure.started")).one()
    assert event.detail["reason"] == "a second rescue"


# --- declared parameters ------------------------------------------------------------------------


def test_an_impossible_date_is_refused_before_anything_is_written(quiet_store) -> None:
    case = open_case()
    assert _refused(case, "J2", params={"placed_on": "2026-13-45"}) == {
        "params.placed_on": "placed_on.date"}
    assert _refused(case, "J2", params={"placed_on": "20260301"}) == {
        "params.placed_on": "placed_on.date"}
    assert _start(case, "J2", params={"placed_on": "2026-03-01"}).params == {
        "placed_on": "2026-03-01"}


def test_an_unknown_parameter_is_refused_naming_the_known_ones(quiet_store) -> None:
    case = open_case()
    with pytest.raises(ValidationFailed) as exc:
        _start(case, "J2", params={"placed": "2026-03-01"})
    [error] = exc.value.errors
    assert (error.field, error.code) == ("params.placed", "params.unknown")
    assert "placed_on" in error.message and "placed_on" in error.message_zh
    assert _refused(case, "R3", params={"street": "street:xingqing-fenghuang"}) == {
        "params.street": "params.unknown"}


def test_codes_must_be_agencies_of_the_right_level_districts_or_choices(quiet_store) -> None:
    case = open_case()
    assert _refused(case, "R4", params={"street": "street:nowhere", "rung": "sermon"}) == {
        "params.street": "street.agency", "params.rung": "rung.choice"}
    assert _refused(case, "R4", params={"street": "community:xingqing-fenghuang"}) == {
        "params.street": "street.agency"}
    assert _refused(case, "M1", params={"hospital": "psb"}) == {
        "params.hospital": "hospital.agency"}
    assert _refused(case, "E5", params={"district": "haidian"}) == {
        "params.district": "district.district"}
    run = _start(case, "R4", params={"street": "street:xingqing-fenghuang", "rung": "check"})
    assert run.params == {"street": "street:xingqing-fenghuang", "rung": "check"}
    assert _start(case, "M1", params={"hospital": "hospital:first-people"}).code == "M1"
    assert _start(case, "E5", params={"district": "jinfeng"}).code == "E5"


def test_a_procedure_only_the_system_starts_is_refused_by_hand(quiet_store) -> None:
    case = open_case()
    assert _refused(case, "S1", params={}) == {"code": "code.not_by_hand"}


def test_protect_start_names_the_refused_parameter_and_exits_2(store) -> None:
    case = open_case()
    out = protect("start", "J2", "--case", case, "--param", "placed_on=2026-13-45", check=False)
    assert out.returncode == 2 and "params.placed_on: " in out.stderr
    assert "2026-13-45" not in out.stderr
    out = protect("start", "J2", "--case", case, "--param", "placed_on", check=False)
    assert out.returncode == 2 and "params: " in out.stderr
    with db() as session:
        assert procedures.list_runs(session=session, case_ref=case)[1] == []


def test_protect_procedures_show_lists_what_a_start_by_hand_takes() -> None:
    from app.config.procedures import procedure
    from app.services.procedure_docs import describe, show_text

    assert describe(procedure("J2"))["params"] == [{
        "name": "placed_on", "kind": "date", "title_zh": "安置日期",
        "title_en": "the day the child was placed: the two years count from it", "choices": []}]
    assert "  placed_on            a date, YYYY-MM-DD: " in show_text(procedure("J2"))
    assert "started by the system only" in show_text(procedure("S1"))
