"""The monthly report flow on the real Prefect server: artifacts per month, the two files."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import HOME
from tests.indicator_data import MARCH, MONTH, build, figures_of, unique_district

pytestmark = pytest.mark.flows


def _artifacts(keys: list[str]) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    return {a.key: a for a in found}


def test_the_monthly_report_publishes_the_month_to_prefect_and_writes_both_files(system
                                                                                  ) -> None:
    from prefect.deployments import run_deployment

    from flows.platform.report import artifact_key

    district = unique_district()
    known = build(district)
    run = run_deployment("protect-monthly-report/monthly",
                         parameters={"month": MONTH, "district": district}, timeout=120)
    assert run.state.is_completed(), run.state

    keys = [artifact_key(MONTH, part, district) for part in ("report", *MARCH)]
    arts = _artifacts(keys)
    assert set(arts) == set(keys)
    assert {a.flow_run_id for a in arts.values()} == {run.id}
    steps = json.loads(arts[artifact_key(MONTH, "steps_by_agency", district)].data)
    assert figures_of(steps, list(MARCH["steps_by_agency"][0])) == MARCH["steps_by_agency"]
    close = json.loads(arts[artifact_key(MONTH, "time_to_close", district)].data)
    assert figures_of(close, list(MARCH["time_to_close"][0])) == MARCH["time_to_close"]
    summary = arts[artifact_key(MONTH, "report", district)].data
    assert "各部门办理时效 Steps by agency" in summary and "| psb | 市公安局 |" in summary

    folder = HOME / "reports"
    page = (folder / f"report-{MONTH}-{district}.html").read_text(encoding="utf-8")
    table = (folder / f"report-{MONTH}-{district}.csv").read_text(encoding="utf-8-sig")
    assert "<td>市公安局</td>" in page
    rows = {(r["indicator"], r["key"], r["measure"]): r["value"]
            for r in csv.DictReader(io.StringIO(table))}
    assert rows[("cases_by_procedure", "R2", "completed")] == "4"
    assert rows[("cases_by_district", district, "open_at_end")] == "2"

    published = "".join(str(a.data) for a in arts.values()) + page + table
    for value in known["personal"]:
        assert value not in published and json.dumps(value).strip('"') not in published
