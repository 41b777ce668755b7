"""The procedures as data: every decision is safe to send to Prefect, every form can carry it."""

from __future__ import annotations

from typing import Any

import pytest

from app.config.procedures import all_procedures
from app.domain.workdays import parse_duration

STEPS = [s for p in all_procedures().values() for s in p.steps]


def _unsafe_strings(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    """Free-text string fields: neither an enum, a pattern, nor a date."""
    if "$ref" in schema:
        return _unsafe_strings(defs[schema["$ref"].rsplit("/", 1)[1]], defs, path)
    out = []
    alternatives = schema.get("anyOf", [])
    if any(sub.get("type") == "number" for sub in alternatives):
        return []  # a Decimal amount: a number, or its exact decimal string
    for sub in alternatives:
        out += _unsafe_strings(sub, defs, path)
    if schema.get("type") == "array":
        out += _unsafe_strings(schema.get("items", {}), defs, path + "[]")
    if schema.get("type") == "string" and not (
            "enum" in schema or "const" in schema or "pattern" in schema
            or schema.get("format") in ("date", "date-time")):
        out.append(path)
    return out


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_a_decision_carries_only_enums_codes_dates_and_amounts(step) -> None:
    schema = step.decision.model_json_schema()
    defs = schema.get("$defs", {})
    unsafe = [f for name, prop in schema["properties"].items()
              for f in _unsafe_strings(prop, defs, name)]
    assert not unsafe, f"{step.name}: free-text fields would reach Prefect: {unsafe}"


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_every_form_contains_its_decision_and_every_deadline_parses(step) -> None:
    assert set(step.decision.model_fields) <= set(step.form.model_fields)
    parse_duration(step.deadline)
    parse_duration(step.rung_deadline or step.deadline)


def test_step_names_are_unique_and_belong_to_their_procedure() -> None:
    names = [s.name for s in STEPS]
    assert len(names) == len(set(names))
    for code, proc in all_procedures().items():
        assert all(s.name.startswith(code.lower() + ".") for s in proc.steps)
