"""S3 indicators on a known case store, on SQLite and PostgreSQL: the figures, the CLI, the
report files, and no personal data in any of them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from app.adapters.store import db
from app.services.indicators import INDICATORS, Scope, compute, previous_month
from app.services.report import figures, write_report
from tests.helpers import protect
from tests.indicator_data import MARCH, MONTH, build, figures_of, march_district_row
from tests.pg import own_store

NOW = datetime(2026, 11, 29, 3, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def known_store(request, tmp_path, monkeypatch) -> Iterator[dict]:
    """A case store of its own, of each kind, holding the known cases of tests/indicator_data."""
    monkeypatch.setenv("PROTECT_REPORTS_DIR", str(tmp_path / "reports"))
    with own_store(request.param, tmp_path, "protect_s3", monkeypatch):
        yield build("tdistrict")


def _march(district: str | None = "tdistrict") -> dict:
    return figures(Scope.month(MONTH, now=NOW, district=district)).model_dump(mode="json")


def _check_march(got: dict, district: str = "tdistrict") -> None:
    ind = got["indicators"]
    for key, want in MARCH.items():
        assert figures_of(ind[key]["rows"], list(want[0])) == want, key
    assert ind["cases_by_district"]["rows"] == [march_district_row(district)]


def test_march_figures_count_each_case_run_and_step_as_defined(known_store) -> None:
    got = _march()
    _check_march(got)
    agencies = {r["key"]: r for r in got["indicators"]["steps_by_agency"]["rows"]}
    assert (agencies["psb"]["name_zh"], agencies["psb"]["name_en"]) == \
        ("市公安局", "Public Security Bureau")
    procedures = {r["key"]: r for r in got["indicators"]["cases_by_procedure"]["rows"]}
    assert procedures["R2"]["name_zh"] == "流浪儿童救助"
    cats = {r["key"]: r for r in got["indicators"]["cases_by_category"]["rows"]}
    assert cats["left_behind"]["name_zh"] == "农村留守儿童"
    assert got["scope"]["as_of"] == "2025-03-31T16:00:00Z"  # 1 April, 00:00 Beijing time


def test_every_district_and_every_day_count_the_other_district_and_later_cases(
        known_store) -> None:
    march = _march(district=None)["indicators"]
    districts = {r["key"]: r["opened"] for r in march["cases_by_district"]["rows"]}
    assert districts == {"tdistrict": 2, "xixia": 1}
    psb = next(r for r in march["steps_by_agency"]["rows"] if r["key"] == "psb")
    assert (psb["completed"], psb["on_time"]) == (4, 2)

    everything = figures(Scope.make(now=NOW)).model_dump(mode="json")["indicators"]
    cats = {r["key"]: r for r in everything["cases_by_category"]["rows"]}
    assert cats["street"] == {**cats["street"], "opened": 4, "closed": 1, "open_at_end": 3}
    assert cats["disabled"] == {**cats["disabled"], "opened": 1, "closed": 1, "open_at_end": 0}
    mca = next(r for r in everything["steps_by_agency"]["rows"] if r["key"] == "mca")
    assert (mca["opened"], mca["completed"], mca["on_time"], mca["late"]) == (2, 2, 1, 1)
    # February alone: mca's on-time step, M1 and one R2 running at the end of the month.
    feb = figures(Scope.make(now=NOW, since=date(2025, 2, 1), until=date(2025, 2, 28),
                             district="tdistrict")).model_dump(mode="json")["indicators"]
    assert figures_of(feb["steps_by_agency"]["rows"], ["key", "completed", "on_time"]) == \
        [{"key": "mca", "completed": 1, "on_time": 1}]
    assert figures_of(feb["cases_by_procedure"]["rows"], ["key", "started", "open_at_end"]) == \
        [{"key": "M1", "started": 1, "open_at_end": 1}, {"key": "R2", "started": 1,
                                                         "open_at_end": 1}]
    assert feb["time_to_close"]["rows"] == []
    assert figures_of(feb["screenings_by_community"]["rows"], ["key", "lists", "rows"]) == \
        [{"key": "community:s3test", "lists": 1, "rows": 50}]
    screened = {r["key"]: r["rows"] for r in march["screenings_by_community"]["rows"]}
    assert screened == {"community:s3test": 150, "community:xixia-wenchang": 40}


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="starts"):
        Scope.make(now=NOW, since=date(2025, 3, 2), until=date(2025, 3, 1))


def test_the_previous_month_is_taken_in_beijing_time() -> None:
    assert previous_month(datetime(2026, 10, 31, 17, tzinfo=UTC)) == "2026-10"  # 1 Nov, 01:00
    assert previous_month(datetime(2026, 1, 15, tzinfo=UTC)) == "2025-12"


def test_protect_stats_prints_the_same_figures_as_json_and_as_tables(known_store) -> None:
    args = ["stats", "--since", "2025-03-01", "--until", "2025-03-31", "--district", "tdistrict"]
    got = json.loads(protect(*args, "--json").stdout)
    _check_march(got)
    assert list(got["indicators"]) == [i.key for i in INDICATORS]
    table = protect(*args).stdout
    assert "各部门办理时效 Steps by agency" in table
    psb = next(line for line in table.splitlines() if line.startswith("psb "))
    assert psb.split()[1:] == ["市公安局", "3", "3", "1", "2", "1", "0", "0"]
    for value in known_store["personal"]:
        assert value not in table and value not in json.dumps(got, ensure_ascii=False)


@pytest.mark.parametrize("args, field", [
    (["stats", "--since", "2025-02-30"], "--since"),
    (["stats", "--since", "2025-03-05", "--until", "2025-03-01"], "--since/--until"),
    (["stats", "--district", "atlantis"], "--district"),
    (["report", "--month", "2025-3"], "--month"),
])
def test_bad_options_exit_2_naming_the_option(known_store, args, field) -> None:
    proc = protect(*args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {field}")


def test_the_report_files_hold_the_figures_and_nothing_personal(known_store, tmp_path) -> None:
    first = write_report(month=MONTH, now=NOW, district="tdistrict")
    assert (first.html.name, first.csv.name) == ("report-2025-03-tdistrict.html",
                                                 "report-2025-03-tdistrict.csv")
    page = first.html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "<style>" in page and "<script" not in page and "src=" not in page
    assert "href=" not in page and "@import" not in page
    assert "各部门办理时效 <span class=en>Steps by agency</span>" in page
    assert "<td>市公安局</td>" in page

    rows = list(csv.DictReader(io.StringIO(first.csv.read_text(encoding="utf-8-sig"))))
    got = {(r["indicator"], r["key"], r["measure"]): r["value"] for r in rows}
    for key, want in MARCH.items():
        for row in want:
            for measure, value in row.items():
                if measure != "key":
                    assert float(got[(key, row["key"], measure)]) == value, (key, row, measure)
    assert {r["since"] for r in rows} == {"2025-03-01"}

    again = write_report(month=MONTH, now=NOW, district="tdistrict")
    assert again.html == first.html and again.html.read_text(encoding="utf-8") == page
    assert sorted(p.name for p in first.html.parent.iterdir()) == [
        "report-2025-03-tdistrict.csv", "report-2025-03-tdistrict.html"]
    for path in (first.html, first.csv):
        data = path.read_bytes()
        for value in known_store["personal"]:
            assert value.encode() not in data, f"{path.name} holds personal data"


def test_protect_report_writes_the_month_into_the_reports_folder(known_store, tmp_path) -> None:
    out = json.loads(protect("report", "--month", MONTH, "--json").stdout)
    assert out["html"] == str(tmp_path / "reports" / "report-2025-03.html")
    assert (tmp_path / "reports" / "report-2025-03.csv").exists()
    districts = out["figures"]["indicators"]["cases_by_district"]["rows"]
    assert {r["key"] for r in districts} == {"tdistrict", "xixia"}


def test_one_query_set_answers_for_any_store(known_store) -> None:
    with db() as session:
        direct = compute(session=session, scope=Scope.month(MONTH, now=NOW,
                                                            district="tdistrict"))
    assert direct.model_dump(mode="json") == _march()
