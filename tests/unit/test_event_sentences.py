"""The audit trail as sentences (app/config/vocabulary.py event_sentence), and the words the
pages read for the codes that are not a procedure's own: rungs, owners, relations, yes and no,
risks, the hotline's categories, notices. No server, no database."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.config import vocabulary as v

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
# What a sentence must never show: a Python value, a UTC instant, a step's or an agency's code.
LEAKS = re.compile(r"[{}\[\]]|'[A-Za-z_]+'|\bTrue\b|\bFalse\b|\bNone\b|\d{4}-\d{2}-\d{2}T\d{2}|"
                   r"\b[a-z]\d\.[a-z_]+\b|\b(?:psb|mca|street:|district:|community:)|"
                   r"\b[a-z]+_[a-z_]+\b")
AT = datetime(2026, 12, 4, 12, 46, tzinfo=UTC)  # 20:46 in Beijing


def event(action: str, actor: str = "system", task_id: int | None = None,
          procedure_run_id: int | None = None, **detail: Any) -> dict[str, Any]:
    return {"at": AT, "actor": actor, "action": action, "task_id": task_id,
            "procedure_run_id": procedure_run_id, "detail": detail}


class Run:
    def __init__(self, code: str, **params: str) -> None:
        self.code, self.params = code, params


RUNS = {1: Run("R2"), 2: Run("S1", agency="psb"), 3: Run("S1", agency="street:xingqing-fenghuang")}
STEPS = {7: "r2.identity", 8: "s1.acknowledge"}

# One event of every action the code records, with the details it records.
EVENTS = [
    event("case.opened", "user:chen", source="hotline"),
    event("case.read", "user:chen", agency="center", fields=["child.name", "guardians"]),
    event("case.placed", placed_on="2026-12-01", procedure_run_id=1),
    event("case.family_found", "procedure:J1"),
    event("procedure.started", "hotline", procedure_run_id=2, code="S1", parent_run_id=None),
    event("procedure.started", "user:chen", procedure_run_id=1, code="R2", parent_run_id=None,
          reason="第二名儿童", again=True),
    event("procedure.finished", procedure_run_id=3, outcome="declined"),
    event("run.recovering", "sweep", procedure_run_id=1, recovery=2),
    event("task.opened", task_id=7, procedure_run_id=1, step="r2.identity", owner="psb",
          due_at="2026-12-07T15:29:36.239031+00:00"),
    event("task.read", "user:li", task_id=7, agency="psb", fields=["child.name"]),
    event("task.completed", "agency:psb", task_id=7, procedure_run_id=1, step="r2.identity",
          agency="psb", decision={"outcome": "family_found", "has_hukou": True,
                                  "origin_district": "xingqing",
                                  "infant_or_parent_imprisoned": False}),
    event("task.completed", "user:wang", task_id=9, step="r3.visit",
          agency="street:xingqing-fenghuang",
          decision={"situation": "ran_away", "needs": ["R6", "P1"]}),
    event("task.escalated", "sweep", task_id=7, procedure_run_id=1, rung=1, to="psb/supervisor",
          due_at="2026-12-09T01:00:00+00:00"),
    event("record.refused", task_id=7, procedure_run_id=1, problems=["身份证号与出生日期不符"]),
    event("record.sealed", procedure_run_id=1, sealed_record_id=4, authority="court"),
    event("sealed_record.read", "user:zhao", sealed_record_id=4, agency="court", role="court",
          allowed=True),
    event("timer.set", procedure_run_id=1, timer="visit-1m", due_at="2027-01-05T01:00:00+00:00"),
    event("timer.fired", "sweep", procedure_run_id=1, timer="visit-1m"),
    event("timer.cancelled", "user:chen", procedure_run_id=1, timer="two-years"),
    event("notification.queued", procedure_run_id=1, agency="center", event="r3.ran_away"),
    event("notification.queued", procedure_run_id=1, agency="health",
          event="m1.admission_refused"),
    event("hotline.received", "hotline", report_id=3, source="12355", reference="12355-0042",
          categories=["street_child", "guardian_harm"], agencies=["center", "psb"],
          procedures=["R2", "R4"], child_categories=["street"], already_running=[]),
    event("hotline.feedback_queued", procedure_run_id=2, report_id=3, agency="psb",
          status="acknowledged"),
    event("hotline.feedback_queued", procedure_run_id=3, report_id=3,
          agency="street:xingqing-fenghuang", status="declined"),
    event("screening.imported", "user:chen", batch_id=1, community="community:xingqing-fenghuang",
          rows=12, accepted=10, rejected=2, duplicates=0, created=10, unchanged=0, proposals=3),
    event("screening.duplicates.read", "user:chen", status="pending", candidate_ids=[1, 2]),
    event("screening.duplicate.merged", "user:chen", candidate_id=1, batch_id=1,
          reason="id_number", match_child_id=3, child_id=3, dossier_id=2),
    event("screening.duplicate.kept_apart", "user:chen", candidate_id=2, batch_id=1,
          reason="name_birth", match_child_id=4, child_id=5, dossier_id=6),
    event("screening.proposal.confirmed", "user:chen", procedure_run_id=1, dossier_id=2,
          proposal_id=3, code="R6", rule="poor_family"),
    event("user.added", "cli", user_id=1, agency="psb", roles=["worker"]),
    event("token.issued", "user:li", user_id=1, token_id=2),
    event("hotline_report.read", "user:li", task_id=8, procedure_run_id=2, report_id=3,
          agency="psb"),
    event("token.revoked", "user:li", user_id=1, token_id=2),
    event("login.succeeded", "user:li", user_id=1, username="li", address="127.0.0.1",
          kind="api"),
    event("login.failed", "anonymous", username="li", address="127.0.0.1", kind="api",
          reason="wrong_password"),
    event("login.throttled", "anonymous", username="li", address="127.0.0.1", kind="web",
          retry_after=60),
    event("user.deactivated", "cli", user_id=1, tokens_revoked=[2]),
    event("user.reactivated", "cli", user_id=1),
    event("outbox.dead", kind="notify", message_id=9),
    event("agency.robot_set", "cli", agency="psb", kind="wecom", signed=False),
    event("agency.robot_cleared", "cli", agency="psb"),
]


def test_a_completed_step_reads_as_issue_17_asked() -> None:
    done = event("task.completed", "agency:psb", task_id=7, step="r2.identity", agency="psb",
                 decision={"outcome": "family_found"})
    assert v.event_sentence(done) == "2026-12-04 20:46 市公安局 完成 身份核查与寻亲：已查找到亲属"
    assert v.event_sentence(done, "en") == (
        "2026-12-04 20:46 Public Security Bureau completed Identity check and family tracing: "
        "Family found")


def test_the_other_fields_of_a_decision_follow_the_outcome_by_their_labels() -> None:
    text = v.event_text(EVENTS[10])
    assert text == ("市公安局 完成 身份核查与寻亲：已查找到亲属（是否有户籍：是，"
                    "户籍所在区县：兴庆区，是否为婴幼儿或父母服刑在押：否）")
    assert "再次外出流浪" in v.event_text(EVENTS[11])  # a decision without an outcome


def test_instants_are_beijing_time_to_the_minute() -> None:
    assert v.event_text(EVENTS[8]) == ("系统 将任务 #7「身份核查与寻亲」交 市公安局 办理，"
                                       "期限 2026-12-07 23:29")
    assert v.event_text(EVENTS[12], steps=STEPS) == (
        "期限检查 将任务 #7「身份核查与寻亲」升级至 市公安局分管领导（第1级升级），"
        "新期限 2026-12-09 09:00")
    assert v.local_time("2026-12-07T15:29:36.239031+00:00") == "2026-12-07 23:29"
    assert v.local_time(datetime(2026, 12, 7, 15, 29)) == "2026-12-07 23:29"  # naive: UTC
    assert v.local_time("2026-12-01") == "2026-12-01"
    assert v.local_time(None) == ""


def test_a_user_reads_as_their_agency_and_name_and_a_read_never_lists_the_fields() -> None:
    read = v.event_text(EVENTS[1])
    assert read == "市未成年人社会保护中心（chen） 查看了案件信息"
    assert "child" not in read and "guardians" not in read and "监护人" not in read


def test_runs_are_named_by_their_procedure_and_the_agency_they_were_started_for() -> None:
    assert v.event_text(EVENTS[6], runs=RUNS) == \
        "热线转办（凤凰北街街道） 结束：不属本单位职责，已退回平台"
    assert v.event_text(EVENTS[4], runs=RUNS) == "热线平台 启动 热线转办（市公安局）"
    assert v.event_text(EVENTS[5], runs=RUNS) == "chen 启动 流浪儿童救助（原因：第二名儿童）"
    assert v.event_text(EVENTS[22], runs=RUNS) == "系统 向热线平台反馈 市公安局 的办理情况：已签收"


def test_a_hotline_report_names_its_categories_agencies_and_procedures() -> None:
    assert v.event_text(EVENTS[21]) == (
        "热线平台 接收 12355 热线报告 12355-0042（流浪儿童、监护侵害），转 市未成年人社会保护中心、"
        "市公安局 办理，启动 流浪儿童救助、监护干预")
    assert v.event_text(EVENTS[21], "en") == (
        "The hotline platform received 12355 hotline report 12355-0042 (Street child, Guardian "
        "harms or neglects the child), routed to Minor Protection Center, Public Security Bureau; "
        "started Street child rescue, Guardian intervention ladder")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("index", range(len(EVENTS)))
def test_every_event_reads_as_a_sentence_without_a_code(index: int, lang: str) -> None:
    text = v.event_sentence(EVENTS[index], lang, steps=STEPS, runs=RUNS)
    assert text.startswith("2026-12-04 20:46 ")
    assert not LEAKS.search(text), text
    action = EVENTS[index]["action"]
    assert action not in text
    if lang == "en":
        typed = ("第二名儿童",)  # a reason as the coordinator typed it
        assert not CJK.search(text.replace(typed[0], "")), text
    else:
        assert CJK.search(text), text


def _recorded_actions() -> set[str]:
    """Every audit action the code records: `action="…"`, and the f-string of the screening's
    duplicate decisions with its two statuses."""
    found: set[str] = set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', text))
        if 'action=f"screening.duplicate.{status}"' in text:
            found |= {"screening.duplicate.merged", "screening.duplicate.kept_apart"}
    return found


def test_every_action_the_code_records_has_its_sentence_and_is_tested_here() -> None:
    actions = _recorded_actions()
    assert len(actions) > 25
    assert actions - set(v.ACTIONS) == set()
    assert actions - {e["action"] for e in EVENTS} == set()


def test_every_notice_of_the_flows_has_words() -> None:
    notices = set()
    for path in (ROOT / "flows").rglob("*.py"):
        notices |= set(re.findall(r'"notify:([a-z]\d\.[a-z_]+)', path.read_text("utf-8")))
    notices |= {"record.correction_needed"}
    assert len(notices) > 10
    for notice in notices:
        assert CJK.search(v.notice_name(notice)), notice
        assert not CJK.search(v.notice_name(notice, "en")) and v.notice_name(notice, "en") != \
            notice, notice


def test_an_unknown_action_still_reads_without_a_python_value() -> None:
    text = v.event_text(event("something.new", "system", detail_value={"a": 1}))
    assert text == "系统 something.new"


def test_the_small_words() -> None:
    assert [v.rung_name(n) for n in (0, 1, 2)] == ["未升级", "第1级升级", "第2级升级"]
    assert v.rung_name(1, "en") == "Escalated, level 1"
    assert v.owner_name("psb", "supervisor") == "市公安局分管领导"
    assert v.owner_name("psb/supervisor", "supervisor", "en") == \
        "Public Security Bureau (supervisor)"
    assert [v.yes_no(True), v.yes_no(False), v.yes_no(None)] == ["是", "否", ""]
    assert v.relation_name("father") == "父亲" and v.relation_name("Mother", "en") == "Mother"
    assert v.relation_name("母亲", "en") == "Mother"  # typed in Chinese, read in English
    assert v.relation_name("grandparent") == "祖父母或外祖父母"
    assert v.relation_name("干妈") == "干妈"  # free text stays as typed
    assert v.risk_name("out_of_school") == "辍学" and v.risk_name("out_of_school", "en") == \
        "Out of school"
    assert v.hotline_category_name("street_child") == "流浪儿童"
    assert v.hotline_category_name("street_child", "en") == "Street child"
    assert v.task_name("r2.identity", "Identity check (correct the data)") == \
        "身份核查与寻亲（更正记录）"
    assert v.run_name("S1", {"agency": "psb"}) == "热线转办（市公安局）"
    assert v.run_name("S1", {"agency": "psb"}, "en") == "Hotline report routing (Public Security " \
        "Bureau)"
    assert v.value_name("r3.assessment", "home_street", "street:xingqing-fenghuang") == \
        "凤凰北街街道"
    assert v.Vocabulary("zh").district("other") == "其他"
    assert v.Vocabulary("en").district("district:jinfeng") == "Jinfeng District"


def test_the_monthly_report_names_its_district_and_the_dashboard_its_categories() -> None:
    from app.services.indicators import CATEGORIES, _procedure_names
    from app.services.report import report_title

    assert report_title("2026-11", "xixia") == ("未成年人社会保护月度统计 2026-11（西夏区）",
                                                "Minor protection monthly indicators 2026-11 "
                                                "(Xixia District)")
    # The figures name categories and procedures as the pages do: one place for the words.
    assert CATEGORIES["left_behind"] == (v.category_name("left_behind"),
                                         v.category_name("left_behind", "en"))
    assert _procedure_names("R2") == (v.procedure_name("R2"), v.procedure_name("R2", "en"))
