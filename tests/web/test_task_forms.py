"""Every step's task page in a real browser (Debian's chromium, in Chinese): labels, help text
and choices in words, agencies as lists of names, dates as native date inputs; each step's
example form (docs/examples) submitted through the page and kept by the real service. Then
what a task shows besides its form — the case as the role may see it, the earlier steps'
decisions, S1's hotline report, the ladder —, refusals in Chinese next to their fields, and
what the inbox says after a submit until the next task appears.

The tasks are written to the store as a flow would open them (tests/api/conftest.py add_task):
driving 26 procedures through Prefect to reach every step would take many minutes, and the page
and the service they are completed through are the real ones.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from app.adapters.validation import check
from app.config.procedures import all_procedures, step_spec
from app.config.vocabulary import field_words, option_label
from app.domain import clock
from app.entrypoints.web.forms import form_fields
from app.services import cases as services
from app.services import hotline
from expectations.runner import without_great_expectations
from models import AuditEvent, HumanTask, ProcedureRun
from tests.api.conftest import add_task
from tests.helpers import hotline_report, open_case
from tests.web.conftest import sign_in

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
STEPS = [s.name for p in all_procedures().values() for s in p.steps]
LETTERS = re.compile(r"[A-Za-z]")
CASE_NO = re.compile(r"C\d{4}-\d+")
CENTER_LADDER = ("center", "center/supervisor", "office")


def _db() -> Any:
    from app.adapters.store import db

    return db()


def _example(step: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{step}.json").read_text(encoding="utf-8"))


def _words_only(text: str) -> bool:
    """No Latin letter: no field code, option code or agency code shows (case numbers aside)."""
    return not LETTERS.search(CASE_NO.sub("", text))


# What a task page shows of its form, read in the page: each field's label, help text, the
# texts (and values) of its options or choices, its input's type and language; the form's
# text; and the text of the page's other parts (the case view: its terms only).
_READ_FORM = """names => {
  const text = sel => { const e = document.querySelector(sel); return e ? e.innerText : null; };
  const fields = {};
  for (const name of names) {
    const input = document.getElementById('f-' + name);
    const options = input ? [...input.querySelectorAll('option')] : [];
    fields[name] = {
      label: text(`label[for='f-${name}']`), help: text('#h-' + name),
      options: options.map(o => o.innerText), values: options.map(o => o.value),
      choices: input ? [...input.querySelectorAll('label.choice')].map(c => c.innerText) : [],
      type: input && input.getAttribute('type'), lang: input && input.getAttribute('lang'),
    };
  }
  return {
    lang: document.documentElement.getAttribute('lang'), fields, form: text('#task-form'),
    parts: {'h1': text('h1'), '#task-head': text('#task-head'), '#history': text('#history'),
            '#case-view': [...document.querySelectorAll('#case-view dt')]
                            .map(d => d.innerText).join(' ')},
  };
}"""


def _fill(page: Any, step: str, form: dict[str, Any]) -> None:
    """Fill in the page's form as a person would, from a step's form as JSON."""
    for f in form_fields(step_spec(step).form):
        if f.name not in form or form[f.name] is None:
            continue
        value, target = form[f.name], f"#f-{f.name}"
        if f.kind in ("select", "agency"):
            page.select_option(target, str(value))
        elif f.kind == "multi":
            for v in value:
                page.check(f"input[name={f.name}][value='{v}']")
        elif f.kind == "checkbox":
            page.set_checked(target, bool(value))
        else:
            page.fill(target, str(value))


def _task_on(run_id: int, case_id: int, step: str, owner: str, *, done: dict[str, Any] | None
             = None, ladder: tuple[str, ...] = CENTER_LADDER, ago: timedelta = timedelta(0)
             ) -> int:
    """A task of `step` on an existing run, as the flow writes it; `done`: completed with
    that decision (by the owner), `ago` before now."""
    now = clock.now() - ago
    with _db() as session:
        task = HumanTask(procedure_run_id=run_id, case_id=case_id, step_key=step, step=step,
                         title=step, owner=owner, first_owner=owner, ladder=list(ladder),
                         deadline="3wd", rung_deadline="2wd", created_at=now,
                         due_at=now + timedelta(days=5), escalate_at=now + timedelta(days=5))
        if done is not None:
            task.status, task.completed_at, task.completed_by = "done", now, owner
            task.decision = done
        session.add(task)
        session.flush()
        return int(task.id or 0)


def _run(case_no: str, code: str, parent: int | None = None,
         params: dict[str, Any] | None = None) -> tuple[int, int]:
    """A running procedure run of the case, as the engine writes it: (run id, case id)."""
    import secrets

    with _db() as session:
        case = services.get_case(session=session, case_ref=case_no)
        run = ProcedureRun(case_id=int(case.id or 0), code=code, parent_run_id=parent,
                           start_key=f"test:{secrets.token_hex(8)}", started_at=clock.now(),
                           status="running", params=params or {})
        session.add(run)
        session.flush()
        return int(run.id or 0), int(case.id or 0)


@pytest.fixture(scope="module")
def center(browser: Any, web_url: str, person: Any) -> Iterator[Any]:
    """One signed-in page of a worker of the center, for every step's form."""
    context = browser.new_context(base_url=web_url, locale="zh-CN")
    page = context.new_page()
    sign_in(page, person("center", "worker"))
    try:
        yield page
    finally:
        context.close()


# --- every step's form ------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_the_steps_form_speaks_words_and_submits_its_example(center: Any, step: str) -> None:
    page, spec = center, step_spec(step)
    case = open_case()
    task_id = add_task(case, step=step, owner="center", ladder=CENTER_LADDER)
    page.goto(f"/tasks/{task_id}")
    fields = form_fields(spec.form)
    shown = page.evaluate(_READ_FORM, [f.name for f in fields])  # one round trip, not 15
    assert shown["lang"] == "zh-CN"

    for f in fields:
        words, seen = field_words(step, f.name), shown["fields"][f.name]
        assert words is not None, f"{step}.{f.name} has no words"
        assert seen["label"].startswith(words.zh), (f.name, seen["label"])
        if words.help_zh:
            assert seen["help"] == words.help_zh
        if f.kind == "select":
            options = seen["options"][1:]
            assert options == [option_label(step, o) for o in f.options]
            assert options != f.options and all(_words_only(o) for o in options), options
        elif f.kind == "multi":
            assert [c.strip() for c in seen["choices"]] == [option_label(step, o)
                                                            for o in f.options]
        elif f.kind == "agency":  # a list of names, of the agencies that fit the field
            values, names = seen["values"][1:], seen["options"][1:]
            prefix = {"home_street": "street:", "admitted_at": "hospital:",
                      "hospital_code": "hospital:"}.get(f.name)
            assert values and (prefix is None or all(v.startswith(prefix) for v in values))
            assert prefix is not None or {"psb", "center", "women"} <= set(values)
            assert all(_words_only(n) for n in names), names
        elif f.kind == "date":
            assert (seen["type"], seen["lang"]) == ("date", "zh-CN")
    assert _words_only(shown["form"]), shown["form"]
    for part, text in shown["parts"].items():
        assert text is not None and _words_only(text), (part, text)

    example = _example(step)
    _fill(page, step, example)
    page.click("#submit")
    page.wait_for_url("**/inbox?done=*")
    with _db() as session:
        task = session.get(HumanTask, task_id)
        assert task.status == "done", page.content()[:2000]
        with without_great_expectations():  # as the page's service checks it
            expected = check(spec.form, example, suite=spec.suite).model_dump(mode="json")
        assert task.record == expected
        assert task.completed_by == "center"


def _date_shown(page: Any, input_id: str) -> str:
    """What a date input shows: the text of its fields inside the browser's own (user-agent)
    shadow tree, which only the DevTools protocol reaches."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    finally:
        cdp.detach()

    def find(node: dict[str, Any]) -> dict[str, Any] | None:
        attrs = node.get("attributes", [])
        if node.get("nodeName") == "INPUT" and dict(zip(attrs[::2], attrs[1::2],
                                                        strict=True)).get("id") == input_id:
            return node
        for child in node.get("shadowRoots", []) + node.get("children", []):
            found = find(child)
            if found is not None:
                return found
        return None

    def text(node: dict[str, Any]) -> str:
        own = node.get("nodeValue", "") if node.get("nodeType") == 3 else ""
        return own + "".join(text(c) for c in node.get("shadowRoots", []) + node.get(
            "children", []))

    found = find(root)
    assert found is not None, input_id
    return "".join(text(found).split())


def test_the_browser_shows_dates_in_chinese(desktop_browser: Any, web_url: str,
                                           person: Any) -> None:
    """Chromium decides a date input's format from its own language (a Chinese worker's, see
    conftest.py): the page gives it a native date input marked zh-CN, and it reads 年/月/日."""
    case = open_case()
    task_id = add_task(case, step="r3.escort", owner="center", ladder=CENTER_LADDER)
    context = desktop_browser.new_context(base_url=web_url, locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, person("center", "worker"), f"/tasks/{task_id}")
        assert page.evaluate("navigator.language") == "zh-CN"
        day = page.locator("#f-handed_over_on")
        assert (day.get_attribute("type"), day.get_attribute("lang")) == ("date", "zh-CN")
        assert _date_shown(page, "f-handed_over_on") == "年/月/日"  # never mm/dd/yyyy
        day.fill("2026-12-03")
        assert _date_shown(page, "f-handed_over_on") == "2026/12/03"
        assert day.input_value() == "2026-12-03"  # the value sent stays ISO, whatever is shown
    finally:
        context.close()


def test_the_english_page_labels_the_form_in_english(center: Any) -> None:
    case = open_case()
    task_id = add_task(case, step="r3.assessment", owner="center", ladder=CENTER_LADDER)
    try:
        center.goto(f"/tasks/{task_id}?lang=en")
        assert center.locator("label[for='f-home_safe']").inner_text().startswith(
            field_words("r3.assessment", "home_safe").en)
        assert center.locator("#f-home_street option[value='street:xingqing-fenghuang']"
                              ).inner_text() == "Fenghuang North St."
        assert center.locator("#f-home_street optgroup").first.get_attribute(
            "label") == "Xingqing District"
    finally:
        center.goto("/inbox?lang=zh")


# --- a refused form ---------------------------------------------------------------------------


def test_a_refusal_speaks_chinese_next_to_its_fields_and_keeps_what_was_typed(
        center: Any) -> None:
    case = open_case()
    task_id = add_task(case, step="r3.assessment", owner="center", ladder=CENTER_LADDER)
    center.goto(f"/tasks/{task_id}")
    center.check("#f-guardian_able")
    center.fill("#f-notes", "母亲在家")
    center.click("#submit")  # no street office chosen
    error = center.locator(".field[data-field='home_street'] .error")
    assert error.inner_text() == "“家庭所在地街道办事处”为必填项。"
    assert center.locator("#f-home_street").get_attribute("aria-invalid") == "true"
    assert center.locator("#problems li[data-field='home_street'] a").inner_text() == (
        "“家庭所在地街道办事处”为必填项。")  # the summary links to the field
    assert center.is_checked("#f-guardian_able") and not center.is_checked("#f-home_safe")
    assert center.input_value("#f-notes") == "母亲在家"

    # A value no list offers (an old client, a hand-made request): still words, never a regex.
    center.eval_on_selector("#f-home_street", "s => { s.add(new Option('?', 'Street X'));"
                                              " s.value = 'Street X'; }")
    center.click("#submit")
    assert center.locator(".field[data-field='home_street'] .error").inner_text() == (
        "“家庭所在地街道办事处”须为列表中的单位。")
    html = center.content()
    assert "^[a-z]" not in html and "String should match" not in html
    assert "home_street" not in center.locator("main").inner_text()

    center.select_option("#f-home_street", "street:xingqing-fenghuang")
    center.click("#submit")
    center.wait_for_url("**/inbox?done=*")
    with _db() as session:
        task = session.get(HumanTask, task_id)
        assert task.status == "done" and task.decision == {
            "guardian_able": True, "home_safe": False, "home_street": "street:xingqing-fenghuang"}


def test_a_missing_choice_is_named_by_its_words() -> None:
    """The service's message, as the API and the CLI give it too."""
    from app.domain.errors import ValidationFailed

    spec = step_spec("s1.acknowledge")
    with pytest.raises(ValidationFailed) as exc:
        check(spec.form, {}, suite=spec.suite)
    [error] = exc.value.errors
    assert (error.field, error.message_zh) == ("outcome", "“办理结果”为必填项。")


# --- what a task shows besides its form -------------------------------------------------------


def test_a_task_shows_the_earlier_decisions_the_case_and_the_ladder(page: Any,
                                                                   person: Any) -> None:
    case = open_case()
    r2, case_id = _run(case, "R2")
    _task_on(r2, case_id, "r2.outreach", "center", done={"outcome": "accepted"},
             ago=timedelta(days=3))
    _task_on(r2, case_id, "r2.identity", "psb", ago=timedelta(days=1), done={
        "outcome": "family_found", "has_hukou": True, "origin_district": "jinfeng",
        "infant_or_parent_imprisoned": False})
    r3, _ = _run(case, "R3", parent=r2)
    task_id = _task_on(r3, case_id, "r3.assessment", "center")
    other, _ = _run(case, "J3")  # another line of work on the same case
    _task_on(other, case_id, "j3.investigation", "psb", done={"offence_confirmed": True})

    sign_in(page, person("center", "worker"), f"/tasks/{task_id}")
    assert page.locator("h1").inner_text().endswith("评估监护能力和家庭安全状况")
    assert page.locator("#task-procedure").inner_text() == "送返与回访"
    assert page.locator("#task-owner").inner_text() == "市未成年人社会保护中心"
    assert page.locator("#task-deadline").inner_text() == "3 个工作日"
    assert "剩余" in page.locator("#task-due").inner_text()
    assert page.locator("#task-ladder li").all_inner_texts() == [
        "市未成年人社会保护中心", "市未成年人社会保护中心分管领导", "领导小组办公室"]
    assert page.locator("#task-ladder li.current").inner_text() == "市未成年人社会保护中心"
    assert page.locator("#task-rung").inner_text() == (
        "当前为第 1 级（共 3 级）；逾期未办将升级至市未成年人社会保护中心分管领导。")

    history = page.locator("#history > ol > li")
    assert [h.split("\n")[0] for h in history.all_inner_texts()] == [
        "寻找儿童并劝导接受救助：同意接受救助 流浪儿童救助 · 市未成年人社会保护中心 · "
        + history.nth(0).locator("small").inner_text().rsplit(" · ", 1)[1],
        "身份核查与寻亲：已查找到亲属 流浪儿童救助 · 市公安局 · "
        + history.nth(1).locator("small").inner_text().rsplit(" · ", 1)[1]]
    assert history.nth(1).locator("ul li").all_inner_texts() == [
        "是否有户籍：是", "户籍所在区县：金凤区", "是否为婴幼儿或父母服刑在押：否"]
    assert "犯罪" not in page.locator("#history").inner_text()  # J3 is not this line's

    # The case as R3's worker may see it (access.py: identity and contact), in words.
    assert page.locator("#case-view [data-field='district']").inner_text() == "兴庆区"
    assert page.locator("#case-view [data-field='categories']").inner_text() == "流浪儿童"
    assert page.locator("#case-view [data-field='child.sex']").inner_text() == "女"
    assert page.locator("#case-view [data-field='child.name']").inner_text().startswith("测试童")
    assert page.locator("#case-view [data-field='source']").count() == 0  # not R3's to see

    # A coordinator sees every step of the case, the J3 one too.
    sign_in(page, person("center", "coordinator"), f"/tasks/{task_id}")
    assert page.locator("#history > ol > li").count() == 3


def test_an_s1_task_shows_the_report_to_the_agency_it_was_routed_to(page: Any,
                                                                   person: Any) -> None:
    report = hotline_report(concerns=["living_on_street", "begging"])
    with _db() as session:
        receipt = hotline.receive_report(session=session, data=report, actor="test",
                                         now=clock.now())
    routed = {r["agency"]: r["procedure_run"] for r in receipt.routed}
    assert set(routed) == {"center", "psb"}
    with _db() as session:
        case_id = services.get_case(session=session, case_ref=receipt.case).id
    task_id = _task_on(routed["psb"], case_id, "s1.acknowledge", "psb",
                       ladder=("psb", "psb/supervisor", "office"))

    police = person("psb", "worker")
    sign_in(page, police, f"/tasks/{task_id}")
    shown = page.locator("#hotline-report")
    assert shown.locator("[data-field='description']").inner_text() == report["description"]
    assert shown.locator("[data-field='where']").inner_text() == "兴庆区 凤凰北街街道"
    assert shown.locator("[data-field='received_on']").inner_text() == report["received_on"]
    assert shown.locator("[data-field='concerns']").inner_text() == "流浪街头、乞讨"
    assert report["reporter"]["name"] not in page.content()  # never the reporter
    assert page.locator("#f-outcome option").all_inner_texts()[1:] == [
        "签收办理", "不属本单位职责"]
    with _db() as session:
        reads = session.exec(select(AuditEvent).where(
            AuditEvent.action == "hotline_report.read",
            AuditEvent.actor == f"user:{police[0]}")).all()
    assert [(e.task_id, e.detail["report_id"]) for e in reads] == [
        (task_id, receipt.report_id)]

    # The center's S1 task is the center's: the police's page of it is refused, and the
    # center's workers read the report on their own task only.
    center_task = _task_on(routed["center"], case_id, "s1.acknowledge", "center")
    assert page.goto(f"/tasks/{center_task}").status == 403
    assert report["description"] not in page.content()
    sign_in(page, person("center", "worker"), f"/tasks/{center_task}")
    assert page.locator("#hotline-report").count() == 1
    # A task of another step of the same case does not show the report.
    r2_task = _task_on(routed["center"], case_id, "r2.outreach", "center")
    page.goto(f"/tasks/{r2_task}")
    assert page.locator("#hotline-report").count() == 0


# --- after a submit ---------------------------------------------------------------------------


def test_after_a_submit_the_inbox_says_what_comes_next_and_shows_it_when_it_opens(
        page: Any, person: Any) -> None:
    case = open_case()
    run, case_id = _run(case, "R2")
    task_id = _task_on(run, case_id, "r2.outreach", "center")
    sign_in(page, person("center", "worker"), f"/tasks/{task_id}")
    page.select_option("#f-outcome", "accepted")
    page.click("#submit")
    page.wait_for_url(f"**/inbox?done=*&after={task_id}")
    inbox_url = page.url
    text = page.locator("#done-text").inner_text()
    assert "下一步“接收入站并进行健康检查”，由市未成年人社会保护中心办理" in text, text
    assert page.locator("#done").get_attribute("data-waiting") == "true"
    assert page.locator("#empty").count() == 0  # never "no task" while the next one comes

    # The flow opens the next step a moment later (as the engine does, into the store): the
    # page shows it without being reloaded.
    opened: list[int] = []
    timer = threading.Timer(1.5, lambda: opened.append(_task_on(run, case_id, "r2.intake",
                                                                "center")))
    timer.start()
    page.evaluate("window.__same_page = true")
    link = page.locator("#next-task a")
    link.wait_for(timeout=15000)
    assert page.evaluate("window.__same_page") is True and page.url == inbox_url
    assert link.get_attribute("href") == f"/tasks/{opened[0]}"
    assert link.inner_text() == "“接收入站并进行健康检查”，由市未成年人社会保护中心办理"
    assert page.locator(f"#inbox-list tr[data-task='{opened[0]}']").count() == 1
    assert page.locator("#done").get_attribute("data-waiting") == "false"
    page.reload()  # and so does a reload
    assert page.locator(f"#next-task a[href='/tasks/{opened[0]}']").count() == 1


def test_after_the_last_step_the_inbox_says_the_procedure_ends(page: Any,
                                                              person: Any) -> None:
    case = open_case()
    run, case_id = _run(case, "R3")
    task_id = _task_on(run, case_id, "r3.closing", "center")
    sign_in(page, person("center", "worker"), f"/tasks/{task_id}")
    page.select_option("#f-outcome", "closed")
    page.click("#submit")
    page.wait_for_url("**/inbox?done=*")
    assert page.locator("#done-text").inner_text().endswith("流程到此结束：回访结束，已结案。")
    assert page.locator("#done").get_attribute("data-waiting") == "false"
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # nothing to wait for: the page stays still
        assert page.locator("#next-waiting").count() == 0
        time.sleep(0.3)
