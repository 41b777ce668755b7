"""A refused step form speaks Chinese a case worker reads: each of pydantic's errors is a
sentence naming the field by its words (app/adapters/validation.py), never its code, a pattern or
pydantic's English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.adapters.validation import check, message_zh
from app.config.procedures import all_procedures
from app.config.vocabulary import field_label
from app.domain.errors import ValidationFailed

STEPS = {s.name: s for p in all_procedures().values() for s in p.steps}
LATIN = re.compile(r"[A-Za-z]")


def _refusals(step: str, data: dict[str, Any]) -> list[Any]:
    with pytest.raises(ValidationFailed) as exc:
        check(STEPS[step].form, data)  # the model alone: pydantic's errors, no suite
    return exc.value.errors


@pytest.mark.parametrize("step", sorted(STEPS))
def test_every_field_of_every_form_is_refused_by_its_words(step: str) -> None:
    fields = STEPS[step].form.model_fields
    wrong: dict[str, Any] = {name: {"x": 1} for name in fields}  # no field takes an object
    for data in ({}, wrong):
        for error in _refusals(step, data):
            leaf = error.field.split(".", 1)[0]
            if leaf == "form":
                continue
            words = field_label(step, leaf)
            assert f"“{words}”" in error.message_zh, (error.field, error.message_zh)
            assert not LATIN.search(error.message_zh), (error.field, error.message_zh)


def test_the_messages_say_what_is_wanted() -> None:
    [missing] = _refusals("s1.acknowledge", {})
    assert missing.message_zh == "“办理结果”为必填项。"
    by_field = {e.field: e.message_zh for e in _refusals("r3.assessment", {
        "guardian_able": "perhaps", "home_safe": True, "home_street": "Street X",
        "notes": "x" * 2001})}
    assert by_field == {"guardian_able": "“监护人是否具备监护能力和意愿”须为“是”或“否”。",
                        "home_street": "“家庭所在地街道办事处”须为列表中的单位。",
                        "notes": "“备注”不能超过 2000 个字。"}
    by_field = {e.field: e.message_zh for e in _refusals("p1.sessions", {
        "sessions_held": 61, "first_on": "2026-13-01"})}
    assert by_field == {"sessions_held": "“本轮疏导次数”不能大于 60。",
                        "first_on": "“首次疏导日期”须为有效日期（年-月-日）。"}
    [choice] = _refusals("r3.closing", {"outcome": "perhaps"})
    assert choice.message_zh == "“办理结果”须从所列选项中选择。"


@pytest.mark.parametrize("kind", ["missing", "string_pattern_mismatch", "literal_error",
                                  "date_parsing", "greater_than_equal", "less_than_equal",
                                  "string_too_long", "bool_parsing", "int_parsing",
                                  "decimal_parsing", "decimal_max_places", "too_short",
                                  "something_new"])
def test_each_error_type_is_a_chinese_sentence(kind: str) -> None:
    ctx = {"ge": 0, "le": 60, "max_length": 200, "min_length": 2, "decimal_places": 2,
           "pattern": r"^V[0-9]{6}$"}
    text = message_zh(kind, "办理日期", ctx)
    assert text.startswith("“办理日期”") and text.endswith("。"), text
    assert not LATIN.search(text) and "^" not in text, text


def test_an_approval_without_an_amount_is_refused_in_chinese() -> None:
    from app.config.procedures import step_spec

    spec = step_spec("m2.approval")
    with pytest.raises(ValidationFailed) as refused:
        check(spec.form, {"outcome": "approved"})
    [error] = refused.value.errors
    assert error.code == "form.approval_without_amount"
    assert "核准金额" in error.message_zh
