"""The example forms in docs/examples are valid: a newcomer can use them verbatim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.adapters.validation import check
from app.config.procedures import all_procedures, step_spec
from app.services.cases import check_intake
from app.services.hotline import check_report

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
# Not a step's form: the intake form that opens a case, and a hotline report (docs/hotline.md).
INTAKES = ("case-open.json", "hotline-report.json")
FORMS = sorted(p for p in EXAMPLES.glob("*.json") if p.name not in INTAKES)


@pytest.mark.parametrize("path", FORMS, ids=[p.stem for p in FORMS])
def test_each_example_form_passes_its_steps_checks(path: Path) -> None:
    spec = step_spec(path.stem.split("-", 1)[0])
    check(spec.form, json.loads(path.read_text(encoding="utf-8")), suite=spec.suite)


def test_every_step_has_an_example_form() -> None:
    named = {p.stem.split("-", 1)[0] for p in FORMS}
    assert named == {s.name for p in all_procedures().values() for s in p.steps}


def test_the_intake_example_opens_a_case() -> None:
    form = check_intake(json.loads((EXAMPLES / "case-open.json").read_text(encoding="utf-8")))
    assert form.child.district == "xingqing"


def test_the_hotline_report_example_passes_the_reports_checks() -> None:
    report = check_report(json.loads((EXAMPLES / "hotline-report.json").read_text(
        encoding="utf-8")))
    assert (report.source, report.street) == ("12355", "xingqing-fenghuang")
