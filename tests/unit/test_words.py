"""Every code of every procedure has its words, in Chinese and English: a street-office,
school, hospital or police worker reads words, never a code."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from app.config.vocabulary import field_words, option_words
from flows.catalog import AREAS, ProcedureSpec, base_procedures
from flows.words import COMMON_FIELDS, COMMON_OPTIONS, Words

PROCS = base_procedures()
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")


def _chinese(text: str) -> bool:
    """Chinese, with no code (nor any other ASCII word) leaking into it."""
    return bool(CJK.search(text)) and not ASCII_LETTER.search(text)


def _check(words: Words | None, what: str) -> None:
    assert words is not None, f"{what} has no words"
    assert _chinese(words.zh), f"{what}: {words.zh!r} is not Chinese without ASCII letters"
    assert words.en.strip() and not CJK.search(words.en), f"{what}: bad English {words.en!r}"
    assert not words.help_zh or _chinese(words.help_zh), f"{what}: help {words.help_zh!r}"
    assert not CJK.search(words.help_en), f"{what}: Chinese in {words.help_en!r}"
    assert bool(words.help_zh) == bool(words.help_en), f"{what}: help in one language only"


def _options(schema: Any) -> set[str]:
    """Every `enum` and `const` value of a JSON schema, at any depth (anyOf, array items…)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        found.update(str(v) for v in schema.get("enum", ()))
        if "const" in schema:
            found.add(str(schema["const"]))
        for value in schema.values():
            found |= _options(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _options(value)
    return found


def test_every_area_and_all_26_procedures_are_checked() -> None:
    assert {spec.area for spec in PROCS.values()} == set(AREAS)
    assert len(PROCS) == 26


@pytest.mark.parametrize("code", PROCS)
def test_the_procedure_is_named_in_chinese_and_english(code: str) -> None:
    spec: ProcedureSpec = PROCS[code]
    assert _chinese(spec.title_zh), f"{code}: title_zh {spec.title_zh!r}"
    assert spec.title.strip() and not CJK.search(spec.title), f"{code}: title {spec.title!r}"
    assert spec.full_title == f"{spec.title} ({spec.title_zh})"


@pytest.mark.parametrize("code", PROCS)
def test_every_step_and_wait_has_a_chinese_title(code: str) -> None:
    spec = PROCS[code]
    for step in spec.steps:
        assert _chinese(step.title_zh), f"{step.name}: title_zh {step.title_zh!r}"
    for wait in spec.waits:
        assert _chinese(wait.title_zh), f"{code} wait {wait.name}: title_zh {wait.title_zh!r}"


@pytest.mark.parametrize("code", PROCS)
def test_every_outcome_has_its_words(code: str) -> None:
    spec = PROCS[code]
    assert spec.outcomes, f"{code} has no end: node"
    for outcome in spec.outcomes:
        _check(spec.outcome_words.get(outcome), f"{code} outcome {outcome}")
    assert set(spec.outcome_words) <= set(spec.outcomes), f"{code}: words for no outcome"


@pytest.mark.parametrize("code", PROCS)
def test_every_field_of_every_form_has_its_words(code: str) -> None:
    for step in PROCS[code].steps:
        # The form holds the decision's fields too.
        assert set(step.decision.model_fields) <= set(step.form.model_fields), step.name
        for name in step.form.model_fields:
            _check(field_words(step.name, name), f"{step.name} field {name}")


@pytest.mark.parametrize("code", PROCS)
def test_every_choice_of_every_form_has_its_words(code: str) -> None:
    for step in PROCS[code].steps:
        for value in _options(step.form.model_json_schema()):
            _check(option_words(step.name, value), f"{step.name} option {value}")


@pytest.mark.parametrize("code", [c for c, s in PROCS.items() if any(p.choices for p in s.params)])
def test_every_choice_of_a_start_parameter_has_its_words(code: str) -> None:
    spec = PROCS[code]
    for param in spec.params:
        for value in param.choices:
            _check(option_words(spec.steps[0].name, value),
                   f"{code} parameter {param.name}={value}")


def test_the_walk_of_the_schema_finds_choices_inside_any_of_and_array_items() -> None:
    visit = PROCS["R3"].step("r3.visit").form.model_json_schema()
    assert {"ok", "ran_away", "R6", "W1"} <= _options(visit)  # a Literal, a list of Literals
    identity = PROCS["R2"].step("r2.identity").form.model_json_schema()
    assert {"xingqing", "other"} <= _options(identity)  # District | Literal["other"] | None


@pytest.mark.parametrize("area", AREAS)
def test_no_code_has_words_both_in_its_area_and_in_the_common_tables(area: str) -> None:
    module = importlib.import_module(f"flows.{area}.spec")
    fields: dict[str, Words] = module.FIELDS
    options: dict[str, Words] = module.OPTIONS
    assert not set(fields) & set(COMMON_FIELDS), "fields both in the area and COMMON"
    assert not set(options) & set(COMMON_OPTIONS), "options both in the area and COMMON"
    for code, words in {**fields, **options}.items():
        _check(words, f"{area} {code}")


def test_the_same_code_reads_differently_where_it_means_something_else() -> None:
    # "accepted": the child accepted help (R2), the agency accepted the report (S1).
    assert option_words("r2.outreach", "accepted") != option_words("s1.acknowledge", "accepted")
    assert option_words("r2.placement", "welfare") == option_words("j2.registration", "welfare")


def test_the_common_words_are_chinese_and_english() -> None:
    for code, words in {**COMMON_FIELDS, **COMMON_OPTIONS}.items():
        _check(words, f"common {code}")
