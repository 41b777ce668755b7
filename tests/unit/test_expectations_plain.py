"""The suites evaluated without Great Expectations (expectations/plain.py, what a short
`protect` command uses) give Great Expectations' answers, record by record, on every suite:
the valid records, every refusal and edge case of tests/unit/test_expectations.py, and each
field of each suite set in turn to a run of awkward values (missing, blank, of every type, on
and past each bound the suite states, each member of its value sets)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from expectations import plain, runner
from expectations.runner import validate_record, validate_records, without_great_expectations
from tests.unit.test_expectations import EDGE_ACCEPTS, REFUSALS, VALID, mixed_batch

AWKWARD: list[Any] = [
    None, "", "   ", "x", "abc", "x" * 300, "2024-02-30", "2024-06-01", "20240601",
    "2024-06-01T00:00", date(2024, 6, 1), 0, -1, 1, 2, 7, 17, 18, 1.5, -0.5, 10**400,
    float("inf"), float("nan"), True, False, ["a"], {"a": 1}, "hospital:nx-0001", "其他",
]


def _bound_values(spec: dict[str, Any], field: str) -> list[Any]:
    """Values on and just past every bound, and every set member, the suite states for `field`."""
    out: list[Any] = []
    for expectation in spec["expectations"]:
        kwargs = expectation["kwargs"]
        if kwargs["column"] != field:
            continue
        out += list(kwargs.get("value_set") or [])
        for key in ("min_value", "max_value"):
            bound = kwargs.get(key)
            if bound is None:
                continue
            if expectation["type"] == "expect_column_value_lengths_to_be_between":
                out += ["字" * n for n in (bound - 1, bound, bound + 1) if n >= 0]
            else:
                out += [bound - 1, bound - 0.01, bound, bound + 0.01, bound + 1]
    return out


def awkward_batch(suite: str) -> list[dict[str, Any]]:
    spec = runner._specs()[suite]
    valid = VALID[suite]
    batch = mixed_batch(suite)
    for field in spec["meta"]["fields"]:
        batch.append({k: v for k, v in valid.items() if k != field})
        batch += [{**valid, field: value} for value in AWKWARD + _bound_values(spec, field)]
    return batch


def test_every_suite_is_one_the_plain_evaluation_supports() -> None:
    # A suite it does not support still works (GE checks it), but then a short command pays
    # GE's import again: a new kind of expectation belongs in expectations/plain.py too.
    assert [s for s, spec in runner._specs().items() if not plain.supports(spec)] == []


@pytest.mark.parametrize("suite", sorted(VALID))
def test_a_batch_fails_the_same_expectations_on_the_same_records(suite: str) -> None:
    batch = awkward_batch(suite)
    by_ge = validate_records(suite, batch)
    with without_great_expectations():
        by_plain = validate_records(suite, batch)
    assert by_plain == by_ge
    assert any(by_ge) and not all(by_ge)  # the batch holds refused records and valid ones


@pytest.mark.parametrize("suite", sorted(VALID))
def test_each_record_alone_gets_the_same_errors(suite: str) -> None:
    records = [dict(VALID[suite])]
    records += [{**VALID[suite], **changes} for name, changes, _, _ in REFUSALS if name == suite]
    records += [{**VALID[suite], **changes} for name, changes in EDGE_ACCEPTS if name == suite]
    for record in records:
        by_ge = validate_record(suite, record)
        with without_great_expectations():
            assert validate_record(suite, record) == by_ge, record


def test_the_plain_evaluation_is_only_used_inside_the_block() -> None:
    record = {**VALID["child_intake"], "sex": "boy?"}
    with without_great_expectations():
        assert runner._plain_for("child_intake")
        [error] = validate_record("child_intake", record)
    assert not runner._plain_for("child_intake")
    assert error.code == "sex.invalid"


def test_a_value_the_bounds_cannot_be_compared_with_is_an_error_without_the_value() -> None:
    spec = {"expectations": [{"type": "expect_column_values_to_be_between",
                              "kwargs": {"column": "n", "min_value": 0},
                              "meta": {"code": "n.range"}}]}
    with pytest.raises(RuntimeError) as exc:
        plain.failing(spec, {"n": ["secret text"]}, 1)
    assert "secret" not in str(exc.value) and "n.range" in str(exc.value)
