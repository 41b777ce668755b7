"""Opening a case: the intake suite's refusals, each with its message, and nothing written."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import Conflict, ValidationFailed
from app.services import cases as services
from models import AuditEvent, Case, Child, Guardian
from tests.helpers import intake_form, protect


def _counts() -> tuple[int, ...]:
    with db() as session:
        return tuple(session.exec(select(func.count()).select_from(t)).one()
                     for t in (Child, Guardian, Case, AuditEvent))


def _refusal(form: dict[str, Any]) -> dict[str, str]:
    before = _counts()
    with pytest.raises(ValidationFailed) as exc, db() as session:
        services.open_case(session=session, data=form, actor="test", now=clock.now())
    assert _counts() == before, "a refused intake must write nothing"
    return {e.field: e.code for e in exc.value.errors}


def test_opens_a_case_with_a_case_number_for_a_valid_intake(store) -> None:
    with db() as session:
        case = services.open_case(session=session, data=intake_form(), actor="test",
                                  now=clock.now())
    assert case.case_no.startswith(f"C{clock.now().year}-")


def test_refuses_an_id_number_with_a_wrong_check_digit(quiet_store) -> None:
    form = intake_form()
    good = form["child"]["id_number"]
    form["child"]["id_number"] = good[:17] + ("0" if good[17] != "0" else "1")
    assert _refusal(form) == {"child.id_number": "id_number.check_digit"}


def test_refuses_an_id_number_that_is_not_18_characters(quiet_store) -> None:
    form = intake_form()
    form["child"]["id_number"] = form["child"]["id_number"][:15]
    assert list(_refusal(form)) == ["child.id_number"]


def test_refuses_a_birth_date_that_differs_from_the_one_in_the_id_number(quiet_store) -> None:
    form = intake_form(birth=date(2014, 6, 1))
    form["child"]["birth_date"] = "2014-06-02"
    assert _refusal(form) == {"child.id_number": "id_number.birth_date_mismatch"}


def test_refuses_a_person_who_is_18_or_older_at_intake(quiet_store) -> None:
    form = intake_form(birth=date(2008, 1, 1), intake_date=date(2026, 11, 20))
    assert _refusal(form) == {"child.birth_date": "birth_date.adult_at_intake"}


def test_refuses_a_district_that_is_not_one_of_the_six(quiet_store) -> None:
    form = intake_form()
    form["child"]["district"] = "haidian"
    assert _refusal(form)["child.district"] == "district.invalid"


def test_refuses_missing_required_fields_each_by_name(quiet_store) -> None:
    form = intake_form()
    del form["child"]["name"], form["child"]["sex"]
    del form["intake_date"]
    fields = _refusal(form)
    assert {fields["child.name"], fields["child.sex"], fields["intake_date"]} == {
        "name.required", "sex.required", "intake_date.required"}


def test_a_refusal_message_names_the_field_but_not_the_value(store) -> None:
    form = intake_form()
    bad = form["child"]["id_number"][:17] + ("0" if form["child"]["id_number"][17] != "0" else "1")
    form["child"]["id_number"] = bad
    with pytest.raises(ValidationFailed) as exc, db() as session:
        services.open_case(session=session, data=form, actor="test", now=clock.now())
    text = json.dumps(exc.value.to_dict(), ensure_ascii=False)
    assert "child.id_number" in text and bad not in text


def test_the_same_id_number_twice_is_a_conflict_not_a_silent_merge(store) -> None:
    form = intake_form()
    with db() as session:
        services.open_case(session=session, data=form, actor="test", now=clock.now())
    with pytest.raises(Conflict), db() as session:
        services.open_case(session=session, data=form, actor="test", now=clock.now())


def test_the_command_line_prints_each_refused_field_and_exits_2(store, tmp_path) -> None:
    form = intake_form()
    form["child"]["district"] = "haidian"
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    human = protect("case", "open", "--file", str(path), check=False)
    assert human.returncode == 2 and "child.district:" in human.stderr
    machine = protect("case", "open", "--file", str(path), "--json", check=False)
    assert machine.returncode == 2
    assert [f["field"] for f in json.loads(machine.stdout)["fields"]] == ["child.district"]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    out = protect("case", "open", "--file", str(broken), check=False)
    assert out.returncode == 2 and "not valid JSON" in out.stderr


# --- every field checked: guardians' ID numbers, typed text, a lower-case x -------------------


def _errors(form: dict[str, Any]) -> list[Any]:
    before = _counts()
    with pytest.raises(ValidationFailed) as exc, db() as session:
        services.open_case(session=session, data=form, actor="test", now=clock.now())
    assert _counts() == before, "a refused intake must write nothing"
    return list(exc.value.errors)


def _id_ending_in_x(birth: date) -> str:
    from app.domain.idcard import check_digit

    first17 = next(f for n in range(1000)
                   if check_digit(f := f"640104{birth:%Y%m%d}{n:03d}") == "X")
    return first17 + "X"


def test_a_guardians_id_number_gets_the_childs_gb_11643_check(quiet_store) -> None:
    form = intake_form()
    form["guardians"][0]["id_number"] = "110105194912310020"  # check digit should be X
    [error] = _errors(form)
    assert (error.field, error.code) == ("guardians.0.id_number", "id_number.check_digit")
    assert error.message_zh.startswith("身份证号码末位校验码不正确")
    form["guardians"][0]["id_number"] = "11010519491231002"
    assert _refusal(form) == {"guardians.0.id_number": "id_number.format"}
    form["guardians"][0]["id_number"] = "11010519491231002x"  # valid, typed in lower case
    with db() as session:
        case = services.open_case(session=session, data=form, actor="test", now=clock.now())
        guardian = session.exec(select(Guardian).where(Guardian.child_id == case.child_id)).one()
    assert guardian.id_number == "11010519491231002X"


def test_a_lower_case_x_is_accepted_kept_upper_case_and_found_again(store) -> None:
    birth = date(2013, 5, 7)
    number = _id_ending_in_x(birth)
    form = intake_form(birth=birth, id_number=number[:17] + "x")
    with db() as session:
        case = services.open_case(session=session, data=form, actor="test", now=clock.now())
        assert session.get(Child, case.child_id).id_number == number
    with pytest.raises(Conflict), db() as session:  # the same child, typed either way
        services.open_case(session=session, data=intake_form(birth=birth, id_number=number),
                           actor="test", now=clock.now())


def test_invisible_and_control_characters_are_refused(quiet_store) -> None:
    form = intake_form()
    name = form["child"]["name"]
    form["child"]["name"] = f"\u200b{name[:2]}\u200d{name[2:]}\u202e"
    form["guardians"][0]["relation"] = "mother\ufeff"
    errors = {e.field: e for e in _errors(form)}
    assert {f: e.code for f, e in errors.items()} == {
        "child.name": "name.invisible_character",
        "guardians.0.relation": "relation.invisible_character"}
    assert errors["child.name"].message_zh == (
        "姓名含有不可见的格式字符（零宽字符或文字方向控制符），请删除后重新输入。")
    form["child"]["name"], form["guardians"][0]["relation"] = f" {name} ", "mother"
    with db() as session:
        case = services.open_case(session=session, data=form, actor="test", now=clock.now())
        assert session.get(Child, case.child_id).name == name  # spaces are trimmed

    form = intake_form()
    form["child"]["name"] = "测试\x1b[31m童"
    form["child"]["address"] = "兴庆区\x07测试路"
    form["guardians"][0]["name"] = "=HYPERLINK(\"x\")"
    form["guardians"][0]["address"] = "二楼\n三号"  # line breaks are fine in an address
    errors = {e.field: e for e in _errors(form)}
    assert {f: e.code for f, e in errors.items()} == {
        "child.name": "name.control_character", "child.address": "address.control_character",
        "guardians.0.name": "name.formula"}
    assert errors["child.name"].message_zh == "姓名含有控制字符。"
    form["child"]["name"] = "\u200b\u200c"  # nothing left
    assert _refusal(form)["child.name"] == "name.required"
