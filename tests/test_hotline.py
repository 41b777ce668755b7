"""S1 hotline intake without Prefect: triage rules, their settings file, the report's checks,
the intake's writes and its idempotence, the command line, and the signed feedback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.adapters.notify import DeliveryError, deliver_hotline_feedback, verify
from app.adapters.store import db
from app.config.hotline import check, load
from app.config.rules_file import RulesFileError
from app.config.settings import SHIPPED_HOTLINE
from app.domain import clock
from app.domain.errors import Conflict, ValidationFailed
from app.domain.triage import CategoryRule, triage
from app.services.hotline import receive_report
from models import AuditEvent, Case, Child, HotlineReport, OutboxMessage, ProcedureRun
from tests.helpers import PERSONAL, hotline_report, protect

RULES = {
    "street_child": CategoryRule("street_child", "Street child", ("living_on_street", "begging"),
                                 ("center", "psb"), ("R2",)),
    "guardian_harm": CategoryRule("guardian_harm", "Harm", ("abuse", "neglect"),
                                  ("street:*", "psb"), ("R4",)),
    "left_behind": CategoryRule("left_behind", "Left behind", ("left_behind",),
                                ("community:*", "district:*")),
    "other": CategoryRule("other", "Other", ("other",), ("center",)),
}


# --- triage: a pure rule ------------------------------------------------------------------------


def test_triage_puts_a_report_in_every_category_it_matches_and_routes_each_agency_once() -> None:
    decided = triage(["begging", "abuse"], RULES, "other", district="xingqing",
                     street="xingqing-fenghuang")
    assert decided.categories == ("street_child", "guardian_harm")
    assert decided.agencies == ("center", "psb", "street:xingqing-fenghuang")
    assert decided.procedures == ("R2", "R4")


def test_triage_sends_a_report_that_matches_no_rule_to_the_fallback_category() -> None:
    decided = triage(["trafficking_suspected"], RULES, "other", district="jinfeng")
    assert (decided.categories, decided.agencies, decided.procedures) == (
        ("other",), ("center",), ())


def test_triage_routes_local_owners_to_the_childs_street_or_else_its_district() -> None:
    with_street = triage(["left_behind"], RULES, "other", district="xixia",
                         street="xixia-wenchang")
    assert with_street.agencies == ("community:xixia-wenchang", "district:xixia")
    without = triage(["left_behind", "neglect"], RULES, "other", district="xixia")
    assert without.agencies == ("district:xixia", "psb")


# --- the rules file -----------------------------------------------------------------------------


def test_the_shipped_rules_are_valid_and_route_every_concern_somewhere() -> None:
    rules = load(SHIPPED_HOTLINE)
    assert rules.fallback in rules.categories
    from app.domain.triage import CONCERNS

    for concern in CONCERNS:
        assert triage([concern], rules.categories, rules.fallback,
                      district="helan").agencies, concern


def test_an_invalid_rules_file_names_the_file_and_every_key_with_its_problem() -> None:
    text = """
fallback = "misc"
[categories.street_child]
title = "Street child"
concerns = ["living_on_street", "sleeping_rough"]
route_to = ["police", "street:*"]
start = ["R9", "S1"]
colour = "red"
[categories.empty]
title = "Nobody"
route_to = []
"""
    with pytest.raises(RulesFileError) as exc:
        check(text, "/etc/protect/hotline.toml")
    problems = {p.key: p.message for p in exc.value.problems}
    assert exc.value.path == "/etc/protect/hotline.toml"
    assert exc.value.code == "invalid_hotline_settings"
    assert set(problems) == {
        "fallback", "categories.street_child.concerns.1", "categories.street_child.route_to.0",
        "categories.street_child.start.0", "categories.street_child.start.1",
        "categories.street_child.colour", "categories.empty.route_to"}
    assert "unknown agency 'police'" in problems["categories.street_child.route_to.0"]
    assert "unknown procedure 'S1'" in problems["categories.street_child.start.1"]
    assert "unknown concern" in problems["categories.street_child.concerns.1"]
    assert "'misc' is not a category" in problems["fallback"]
    with pytest.raises(RulesFileError, match="not valid TOML"):
        check("fallback = ", "x.toml")


def test_a_category_names_the_childs_categories_it_records_from_the_intake_list() -> None:
    text = """
fallback = "street_child"
[categories.street_child]
title = "Street child"
concerns = ["begging"]
route_to = ["center"]
child_categories = ["street", "homeless"]
"""
    with pytest.raises(RulesFileError) as exc:
        check(text, "hotline.toml")
    [problem] = exc.value.problems
    assert problem.key == "categories.street_child.child_categories.1"
    assert problem.message.startswith("unknown child category; one of street, orphan_scattered")
    shipped = load(SHIPPED_HOTLINE).categories
    assert shipped["street_child"].child_categories == ("street",)


def test_the_system_refuses_to_start_on_an_invalid_rules_file_with_exit_2(tmp_path) -> None:
    bad = tmp_path / "hotline.toml"
    bad.write_text('fallback = "other"\n[categories.other]\ntitle = "x"\nroute_to = ["nobody"]\n',
                   encoding="utf-8")
    report = tmp_path / "report.json"
    report.write_text(json.dumps(hotline_report(), ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "PROTECT_HOTLINE_FILE": str(bad)}
    for args in (["intake", "--file", str(report)], ["migrate"]):
        proc = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                              text=True, env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert str(bad) in proc.stderr and "categories.other.route_to.0" in proc.stderr
    checked = protect("hotline", "check", str(bad), check=False)
    assert checked.returncode == 2 and "unknown agency 'nobody'" in checked.stderr


# --- the report's checks ------------------------------------------------------------------------


def _counts() -> tuple[int, ...]:
    with db() as session:
        return tuple(session.exec(select(func.count()).select_from(t)).one()
                     for t in (HotlineReport, Child, Case, ProcedureRun, OutboxMessage,
                               AuditEvent))


def _refusal(report: Any) -> dict[str, str]:
    before = _counts()
    with pytest.raises(ValidationFailed) as exc, db() as session:
        receive_report(session=session, data=report, actor="test", now=clock.now())
    assert _counts() == before, "a refused report must write nothing"
    return {e.field: e.code for e in exc.value.errors}


def test_refuses_a_report_field_by_field_and_writes_nothing(quiet_store) -> None:
    report = hotline_report()
    report["source"] = "110"
    report["reporter"]["phone"] = "call me"
    del report["description"]
    report["child"]["id_number"] = report["child"]["id_number"][:17] + (
        "0" if report["child"]["id_number"][17] != "0" else "1")
    assert _refusal(report) == {"source": "source.invalid",
                                "reporter.phone": "reporter_phone.format",
                                "description": "description.required",
                                "child.id_number": "id_number.check_digit"}


def test_refuses_a_report_without_concerns_or_with_an_unknown_one(quiet_store) -> None:
    empty = hotline_report()
    empty["concerns"] = []
    assert list(_refusal(empty)) == ["concerns"]
    unknown = hotline_report(concerns=["ghosts"])
    assert list(_refusal(unknown)) == ["concerns.0"]


def test_refuses_a_street_that_is_not_in_the_childs_district(quiet_store) -> None:
    assert _refusal(hotline_report(street="jinfeng-mancheng")) == {"street": "street.unknown"}


def test_refuses_a_report_that_is_not_an_object(quiet_store) -> None:
    assert _refusal(["not", "a", "report"]) == {"form": "form.not_an_object"}


# --- the intake ---------------------------------------------------------------------------------


def _receive(report: dict[str, Any]) -> Any:
    with db() as session:
        return receive_report(session=session, data=report, actor="test", now=clock.now())


def test_a_report_opens_a_case_routes_one_s1_run_per_agency_and_starts_its_procedures(
        store) -> None:
    report = hotline_report(concerns=["begging", "abuse"])
    receipt = _receive(report)
    assert receipt.created and receipt.case_opened
    assert receipt.categories == ["street_child", "guardian_harm"]
    assert [r["agency"] for r in receipt.routed] == ["center", "psb",
                                                     "street:xingqing-fenghuang"]
    assert [(s["code"], s["new"]) for s in receipt.started] == [("R2", True), ("R4", True)]
    with db() as session:
        row = session.get(HotlineReport, receipt.report_id)
        case = session.get(Case, row.case_id)
        runs = {r.id: r for r in session.exec(select(ProcedureRun).where(
            ProcedureRun.case_id == case.id))}
        starts = session.exec(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.kind == "start")).all()
    assert case.case_no == receipt.case and case.source == "hotline"
    assert row.content["description"] == report["description"]  # kept in the case store
    for routed in receipt.routed:
        run = runs[routed["procedure_run"]]
        assert (run.code, run.params) == ("S1", {"report_id": row.id,
                                                 "agency": routed["agency"]})
    r4 = runs[receipt.started[1]["procedure_run"]]
    assert r4.params["street"] == "street:xingqing-fenghuang"
    assert {f"start:run:{i}" for i in receipt.run_ids} <= set(starts)
    # What goes to Prefect (the runs' parameters) holds no personal data of the report.
    sent = json.dumps([r.params for r in runs.values()], ensure_ascii=False)
    assert not [v for v in PERSONAL if v in sent]


def test_the_same_report_again_creates_nothing_new(quiet_store) -> None:
    report = hotline_report(concerns=["neglect"])
    first = _receive(report)
    before = _counts()
    again = _receive(json.loads(json.dumps(report)))
    assert _counts() == before
    assert not again.created
    assert (again.report_id, again.case, again.routed, again.started) == (
        first.report_id, first.case, first.routed, first.started)


def test_the_same_reference_with_other_content_is_a_conflict(quiet_store) -> None:
    report = hotline_report()
    _receive(report)
    before = _counts()
    changed = {**report, "concerns": ["abuse"]}
    with pytest.raises(Conflict, match="with other content"):
        _receive(changed)
    assert _counts() == before


def test_a_second_report_about_a_known_child_reuses_the_case_and_its_running_procedures(
        store) -> None:
    first = hotline_report(concerns=["begging"])
    receipt = _receive(first)
    second = hotline_report(concerns=["runaway", "distress"])
    second["child"] = first["child"]
    again = _receive(second)
    assert again.created and not again.case_opened and again.case == receipt.case
    assert [(s["code"], s["new"]) for s in again.started] == [("R2", False), ("P1", True)]
    assert again.started[0]["procedure_run"] == receipt.started[0]["procedure_run"]


def test_a_case_opened_by_a_report_keeps_the_triages_child_categories(store) -> None:
    from datetime import timedelta

    from app.services.indicators import Scope, cases_by_category, cases_by_district

    def counts() -> tuple[dict[str, int], dict[str, int]]:
        scope = Scope.make(now=clock.now() + timedelta(minutes=10))  # every case until then
        with db() as session:
            return ({r.key: r.opened for r in cases_by_category(session, scope)},
                    {r.key: r.opened for r in cases_by_district(session, scope)})

    by_category, by_district = counts()
    report = hotline_report(concerns=["left_behind", "distress"])
    receipt = _receive(report)
    with db() as session:
        case = session.exec(select(Case).where(Case.case_no == receipt.case)).one()
        assert session.get(Child, case.child_id).categories == ["left_behind"]  # 保护对象类别
    # The dashboard counts the case in its district and under its category alike.
    after_category, after_district = counts()
    assert after_district["xingqing"] == by_district.get("xingqing", 0) + 1
    assert after_category["left_behind"] == by_category.get("left_behind", 0) + 1
    # A later report about the same child adds the categories it brings.
    again = hotline_report(concerns=["begging"])
    again["child"] = report["child"]
    assert _receive(again).case == receipt.case
    with db() as session:
        assert session.get(Child, case.child_id).categories == ["left_behind", "street"]


def test_a_lower_case_x_finds_the_known_child_and_typed_text_is_cleaned(store) -> None:
    from datetime import date

    from app.domain.idcard import check_digit

    birth = date(2014, 9, 9)
    first17 = next(f for n in range(1000)
                   if check_digit(f := f"640104{birth:%Y%m%d}{n:03d}") == "X")
    first = hotline_report()
    first["child"].update(birth_date=birth.isoformat(), id_number=first17 + "X")
    receipt = _receive(first)
    second = hotline_report(concerns=["distress"])
    name = second["child"]["name"]
    second["child"].update(birth_date=birth.isoformat(), id_number=first17 + "x",
                           name=f"{name} ")
    second["reporter"]["name"] = " 王五"
    again = _receive(second)
    assert again.case == receipt.case and not again.case_opened
    with db() as session:
        row = session.get(HotlineReport, again.report_id)
    assert row.content["child"]["id_number"] == first17 + "X"
    assert (row.content["child"]["name"], row.content["reporter"]["name"]) == (name, "王五")


def test_refuses_control_characters_in_a_reports_text(quiet_store) -> None:
    report = hotline_report()
    report["description"] = "孩子在桥下\x1b[2J睡觉"
    report["reporter"]["name"] = "@SUM(A1)"
    report["child"]["name"] = "热线\x00童"
    assert _refusal(report) == {"description": "description.control_character",
                                "reporter.name": "name.formula",
                                "child.name": "name.control_character"}
    report = hotline_report()
    report["reporter"]["name"] = "王\u202e五"  # a right-to-left override: refused, not stripped
    report["child"]["name"] = "热线\u200b童"
    assert _refusal(report) == {"reporter.name": "name.invisible_character",
                                "child.name": "name.invisible_character"}


# --- the command line ---------------------------------------------------------------------------


def test_protect_intake_prints_the_reference_categories_agencies_and_procedures(
        store, tmp_path) -> None:
    report = hotline_report(concerns=["left_behind"], street="xingqing-zhongshan")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    text = protect("intake", "--file", str(path)).stdout
    assert f"report 12355:{report['reference']} received" in text
    assert "categories: left_behind" in text
    assert "women (run " in text and "community:xingqing-zhongshan (run " in text
    assert "started:    E6 (run " in text
    data = json.loads(protect("intake", "--file", str(path), "--json").stdout)
    assert (data["created"], data["categories"]) == (False, ["left_behind"])
    assert [r["agency"] for r in data["routed"]] == ["women", "community:xingqing-zhongshan"]


def test_protect_intake_names_each_refused_field_and_exits_2(store, tmp_path) -> None:
    report = hotline_report()
    report["received_on"] = "2026-02-30"
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    human = protect("intake", "--file", str(path), check=False)
    assert human.returncode == 2 and "received_on:" in human.stderr
    assert report["child"]["name"] not in human.stderr + human.stdout
    machine = protect("intake", "--file", str(path), "--json", check=False)
    assert machine.returncode == 2
    assert [f["field"] for f in json.loads(machine.stdout)["fields"]] == ["received_on"]


# --- the feedback's delivery --------------------------------------------------------------------


@pytest.fixture
def platform() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
            got.append((dict(self.headers.items()),
                        self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True,
                     kwargs={"poll_interval": 0.05}).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/feedback", got
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_feedback_is_posted_signed_with_its_idempotency_key(platform, monkeypatch) -> None:
    from app.config.settings import get_settings

    url, got = platform
    monkeypatch.setattr(get_settings(), "hotline_callback_url", url)
    payload = {"idempotency_key": "hotline:12355:R-1:psb:acknowledged", "status": "acknowledged"}
    deliver_hotline_feedback(payload, now=clock.now())
    [(headers, body)] = got
    assert headers["X-Protect-Message-Id"] == payload["idempotency_key"]
    assert verify(body, headers["X-Protect-Timestamp"], headers["X-Protect-Signature"],
                  get_settings().hotline_secret)
    assert json.loads(body) == payload
    monkeypatch.setattr(get_settings(), "hotline_callback_url", "")
    with pytest.raises(DeliveryError, match="PROTECT_HOTLINE_CALLBACK_URL"):
        deliver_hotline_feedback(payload, now=clock.now())
