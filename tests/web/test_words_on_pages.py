"""Chinese case workers read words, not codes (issue 17): every page, as each role that sees it,
shows no code of the procedures and, in Chinese, no English.

`visible_codes(page)` reads the text a person sees (`document.body.innerText`) and returns what
would be a code to them: step codes (`r2.intake`), agency codes (`psb`, `district:xingqing`),
the codes of choices, outcomes and states (`not_responsible`, `running`), `True`/`False`/`None`,
Python dicts, UTC instants, and in Chinese any word in Latin letters that is not one a person
quotes (a case number, the language switch "English", a username).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest

from app.adapters.store import db
from app.domain import clock
from app.services import cases as services
from models import ProcedureRun, SealedRecord
from tests import indicator_data
from tests.helpers import open_case

STEP_CODE = re.compile(r"\b[a-z]\d\.[a-z_]+\b")
PROCEDURE_CODE = re.compile(r"\b[A-Z]\d\b")
PLACE_CODE = re.compile(r"\b(?:district|street|community|hospital|agency|user|procedure)"
                        r":[A-Za-z0-9-]+")
PYTHON = re.compile(r"\b(?:True|False|None)\b|[{\[]'|'\s*:\s")
UTC_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
CASE_NUMBER = re.compile(r"\bC\d{4}-\d{6,12}\b")
ID_NUMBER = re.compile(r"\b\d{17}[\dX]\b")  # a resident ID number may end in X
# The users the tests make (tests/web/conftest.py): names a person quotes, as a case number.
USERNAME = re.compile(r"\b(?:coordinator|worker|supervisor|manager|judicial)-[0-9a-f]{8}\b")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.:/'-]*")
# Agency codes that are also plain English words: flagged on Chinese pages only.
ENGLISH_WORDS = frozenset({"center", "court", "office", "welfare", "women", "youth", "unions",
                           "charity", "tax", "market", "justice", "finance", "health"})
# Latin words a Chinese page may show: the switch to the English pages.
ZH_ALLOWED = frozenset({"English"})


@cache
def codes() -> frozenset[str]:
    """Every code a page could leak: agencies, the choices and outcomes of every procedure,
    the states of the rows, sources, categories, risks, sexes, the hotline's categories."""
    import importlib

    from app.config import vocabulary
    from app.config.hotline import current
    from app.config.procedures import all_procedures
    from app.domain.agencies import reference_agencies
    from app.domain.screening import CATEGORIES, RISKS
    from flows.words import COMMON_FIELDS, COMMON_OPTIONS

    found: set[str] = {a.code for a in reference_agencies()}
    found |= set(COMMON_OPTIONS) | set(COMMON_FIELDS) | set(CATEGORIES) | set(RISKS)
    found |= {s for table in vocabulary.STATUSES.values() for s in table}
    found |= set(vocabulary.SOURCES) | set(vocabulary.SEXES) | set(current().categories)
    for spec in all_procedures().values():
        found |= set(spec.outcome_words)
        module = importlib.import_module(f"flows.{spec.area}.spec")
        found |= set(getattr(module, "OPTIONS", {})) | set(getattr(module, "FIELDS", {}))
    return frozenset(c for c in found if re.fullmatch(r"[A-Za-z0-9_:-]+", c))


def codes_in(text: str, lang: str = "zh", allow: Iterable[str] = ()) -> list[str]:
    """What in `text` a person would read as a code (see the module's docstring)."""
    allowed = set(allow) | (ZH_ALLOWED if lang == "zh" else set())
    for quoted in sorted(allowed, key=len, reverse=True):  # a username, a reference
        text = text.replace(quoted, " ")
    found = STEP_CODE.findall(text) + PLACE_CODE.findall(text) + PYTHON.findall(text)
    found += UTC_INSTANT.findall(text) + PROCEDURE_CODE.findall(text)
    for quoted in (CASE_NUMBER, ID_NUMBER, USERNAME):
        text = quoted.sub(" ", text)
    words = LATIN_WORD.findall(text)
    for word in words:
        bare = word.strip(".:/'-")
        if bare in allowed:
            continue
        if lang == "zh" or "_" in bare or bare in not_english():
            found.append(bare)  # no English on a Chinese page, no code on an English one
    return sorted(set(found))


@cache
def not_english() -> frozenset[str]:
    """The codes an English page could leak that are no English words: agencies' and
    places' codes (`psb`, `xingqing`, `fenghuang`)."""
    from app.domain.agencies import DISTRICTS, STREETS

    places = set(DISTRICTS) | {s for streets in STREETS.values() for s, _, _ in streets}
    agencies = {c for c in codes() if re.fullmatch(r"[a-z]+", c) and c not in ENGLISH_WORDS
                and c in _agency_codes()}
    return frozenset(places | agencies)


@cache
def _agency_codes() -> frozenset[str]:
    from app.domain.agencies import reference_agencies

    return frozenset(a.code for a in reference_agencies())


def visible_codes(page: Any, allow: Iterable[str] = ()) -> list[str]:
    """The codes in what the page shows, in the page's language (its <html lang>)."""
    text = page.evaluate("document.body.innerText")
    lang = "zh" if page.evaluate("document.documentElement.lang").startswith("zh") else "en"
    return codes_in(text, lang, allow)


def test_the_check_finds_what_issue_17_saw() -> None:
    seen = ("Acknowledge the hotline report s1.acknowledge psb district:xingqing xingqing open "
            "running returned_home M True (father) decision={'outcome': 'accepted'} "
            "due_at=2026-12-07T15:29:36.239031+00:00")
    found = codes_in(seen)
    for code in ("s1.acknowledge", "psb", "district:xingqing", "xingqing", "open", "running",
                 "returned_home", "M", "True", "father", "{'", "2026-12-07T15:29"):
        assert code in found, code
    assert codes_in("案件 C2026-000123 · 2026-12-04 20:46 市公安局（chen） 完成 身份核查与寻亲",
                    allow={"chen"}) == []
    assert codes_in("English 中文 身份证号 64010420160625504X") == []
    english = "Case C2026-000001 · Public Security Bureau (supervisor) · Open · Not our job"
    assert codes_in(english, "en") == []
    assert codes_in("Status: not_responsible, owner psb, step r2.intake, True", "en") == [
        "True", "not_responsible", "psb", "r2.intake"]


def _quoted(case: dict[str, Any]) -> set[str]:
    """What the case's pages may show in Latin letters besides case numbers and usernames: the
    hotline's reference of the report."""
    return {case["reference"]}


def test_the_case_page_reads_as_words_for_the_coordinator(
        page: Any, signed_in: Any, hotline_case: dict[str, Any]) -> None:
    signed_in(page, "center", "coordinator", f"/cases/{hotline_case['case']}")
    assert page.locator("#open-runs tr[data-run]").count() >= 3  # S1 (police), R2, R4
    assert page.locator("#past-runs tr[data-run]").count() == 2  # S1 resolved, S1 declined
    assert page.locator("#events li").count() > 15
    assert visible_codes(page, allow=_quoted(hotline_case)) == []
    text = page.locator("#events").inner_text()
    # The sentences of issue 17, in Beijing time.
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} 市公安局（worker-[0-9a-f]+） 完成 "
                     r"签收热线转办事项：签收办理", text), text
    assert "期限检查 将任务" in text and "升级至 市公安局分管领导（第1级升级）" in text
    assert "热线转办（市公安局）" in page.locator("#open-runs").inner_text()
    assert "不属本单位职责，已退回平台" in page.locator("#past-runs").inner_text()
    page.goto(f"/cases/{hotline_case['case']}?lang=en")
    assert visible_codes(page, allow=_quoted(hotline_case)) == []
    assert "Public Security Bureau (supervisor)" in page.locator("#escalations").inner_text()


@pytest.mark.parametrize("role", ["manager", "worker"])
def test_the_case_page_reads_as_words_for_the_other_roles(
        page: Any, signed_in: Any, hotline_case: dict[str, Any], role: str) -> None:
    signed_in(page, "office" if role == "manager" else "psb", role,
              f"/cases/{hotline_case['case']}")
    assert page.locator("[data-field='district']").inner_text() == "兴庆区"
    assert visible_codes(page, allow=_quoted(hotline_case)) == []


@pytest.mark.parametrize(("agency", "role"), [("center", "coordinator"), ("psb", "worker"),
                                              ("psb", "supervisor"),
                                              ("street:xingqing-fenghuang", "worker"),
                                              ("office", "manager")])
def test_the_inbox_reads_as_words(page: Any, signed_in: Any, hotline_case: dict[str, Any],
                                  agency: str, role: str) -> None:
    signed_in(page, agency, role, "/inbox")
    assert page.locator("tr[data-task]").count() >= 1
    assert visible_codes(page) == []
    page.goto("/inbox?lang=en")
    assert visible_codes(page) == []


def test_the_inbox_names_the_step_the_owner_and_the_rung(
        page: Any, signed_in: Any, hotline_case: dict[str, Any]) -> None:
    signed_in(page, "psb", "supervisor", "/inbox")
    row = page.locator(f"tr[data-task='{hotline_case['identity']}']")
    assert "身份核查与寻亲" in row.inner_text()
    assert "市公安局分管领导" in row.inner_text() and "第1级升级" in row.inner_text()
    assert page.locator("#agency").inner_text() == "市公安局"  # the header names the agency


def test_the_task_page_reads_as_words(page: Any, signed_in: Any,
                                      hotline_case: dict[str, Any]) -> None:
    signed_in(page, "psb", "worker", f"/tasks/{hotline_case['identity']}")
    assert page.locator("#task-form").count() == 1
    assert visible_codes(page) == []


@pytest.mark.parametrize(("agency", "role"), [("center", "coordinator"), ("office", "manager")])
def test_the_case_list_reads_as_words(page: Any, signed_in: Any, hotline_case: dict[str, Any],
                                      agency: str, role: str) -> None:
    newest = open_case(district="xixia")  # the list shows the newest hundred
    signed_in(page, agency, role, "/cases")
    assert "西夏区" in page.locator(f"tr[data-case='{newest}']").inner_text()
    assert visible_codes(page, allow=indicator_data.MADE_UP) == []


@pytest.mark.parametrize(("agency", "role"), [("office", "manager"), ("center", "coordinator"),
                                              ("psb", "supervisor")])
def test_the_dashboard_reads_as_words(page: Any, signed_in: Any, hotline_case: dict[str, Any],
                                      agency: str, role: str) -> None:
    signed_in(page, agency, role, "/dashboard")
    assert page.locator("svg.chart").count() == 4
    assert visible_codes(page) == []
    page.goto("/dashboard?lang=en")
    assert visible_codes(page) == []


def test_no_agency_name_is_cut_off_in_the_english_charts(
        page: Any, signed_in: Any, hotline_case: dict[str, Any]) -> None:
    signed_in(page, "office", "manager", "/dashboard?lang=en")
    labels = page.locator("svg.chart text.label")
    assert labels.count() > 5
    for i in range(labels.count()):
        box = labels.nth(i).evaluate(
            "e => { const b = e.getBBox(); return {x: b.x, width: b.width}; }")
        svg = labels.nth(i).evaluate("e => e.ownerSVGElement.viewBox.baseVal.width")
        assert box["x"] >= 0 and box["x"] + box["width"] <= svg, labels.nth(i).text_content()


def test_a_sealed_record_reads_as_words(page: Any, signed_in: Any,
                                        hotline_case: dict[str, Any]) -> None:
    now = clock.now()
    with db() as session:
        case = services.get_case(session=session, case_ref=hotline_case["case"])
        run = ProcedureRun(case_id=int(case.id or 0), code="J3",
                           start_key=f"test:{uuid.uuid4().hex}", started_at=now)
        session.add(run)
        session.flush()
        record = SealedRecord(
            case_id=int(case.id or 0), procedure_run_id=int(run.id or 0), record_no="S-2026-7",
            authority="court", sealed_on=now.date(), created_at=now,
            content={"judgment": {"sentence": "probation", "judged_on": "2026-10-20"},
                     "sealing": {"record_no": "S-2026-7", "authority": "court",
                                 "sealed_on": now.date().isoformat(),
                                 "offence_date": "2026-10-03", "notes": "依法封存"}})
        session.add(record)
        session.flush()
        record_id = int(record.id or 0)
    signed_in(page, "court", "judicial", f"/sealed?record={record_id}")
    assert page.locator("#record").count() == 1
    assert visible_codes(page, allow={"S-2026-7"}) == []
