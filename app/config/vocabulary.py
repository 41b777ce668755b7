"""The name a person reads for every code: one lookup for the pages, the API's display fields,
the CLI tables, the notifications and the monthly report.

The words themselves live next to what they name (flows/words.py says where); this module
only finds them. A code with no words comes back as itself, so a missing word shows as a
code on a page (and a test in tests/unit/ or tests/web/test_words_on_pages.py fails) rather
than as an error.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from app.domain.sealing import is_marker
from flows.words import COMMON_FIELDS, COMMON_OPTIONS, Words

LANGS = ("zh", "en")

# The states of the case store's rows, by kind of row (models/tables.py).
STATUSES: dict[str, dict[str, Words]] = {
    "case": {"open": Words("进行中", "Open"), "closed": Words("已结案", "Closed")},
    "run": {"starting": Words("正在启动", "Starting"), "running": Words("进行中", "Running"),
            "completed": Words("已完成", "Completed"), "failed": Words("运行失败", "Failed")},
    "task": {"open": Words("待办", "Open"), "done": Words("已完成", "Done"),
             "cancelled": Words("已取消", "Cancelled")},
    "timer": {"pending": Words("等待中", "Pending"), "fired": Words("已到期", "Fired"),
              "cancelled": Words("已取消", "Cancelled")},
}


def _lang(lang: str) -> str:
    return lang if lang in LANGS else "zh"


def procedure_name(code: str, lang: str = "zh") -> str:
    """"R2" → 流浪儿童救助 / Street child rescue."""
    from app.config.procedures import all_procedures

    spec = all_procedures().get(code.upper())
    if spec is None:
        return code
    if _lang(lang) == "zh" and spec.title_zh:
        return spec.title_zh
    return spec.title


def step_name(step: str, lang: str = "zh") -> str:
    """"r2.outreach" → 寻找儿童并劝导其接受救助 / Find the child and persuade them…."""
    spec = _step(step)
    if spec is None:
        return step
    if _lang(lang) == "zh" and spec.title_zh:
        return spec.title_zh
    return spec.title


def outcome_name(code: str, outcome: str, lang: str = "zh") -> str:
    """A procedure's outcome ("R2", "returned_home") → 已送返家庭 / Returned home."""
    from app.config.procedures import all_procedures

    spec = all_procedures().get(code.upper())
    words = spec.outcome_words.get(outcome) if spec is not None else None
    return words.in_(_lang(lang)) if words else outcome


def status_name(kind: str, status: str, lang: str = "zh") -> str:
    """A row's status ("task", "open") → 待办 / Open."""
    words = STATUSES.get(kind, {}).get(status)
    return words.in_(_lang(lang)) if words else status


def agency_name(code: str, lang: str = "zh") -> str:
    """An agency, or a rung of a ladder, by its name: "psb" → 市公安局, "psb/supervisor" →
    市公安局分管领导, "street:xingqing-fenghuang" → 凤凰北街街道."""
    base, _, rung = code.partition("/")
    words = _agencies().get(base)
    if words is None:
        return code
    name = words.in_(_lang(lang))
    if rung:
        name += "分管领导" if _lang(lang) == "zh" else " (supervisor)"
    return name


def district_name(code: str, lang: str = "zh") -> str:
    """"xingqing" (or "district:xingqing") → 兴庆区 / Xingqing District."""
    from app.domain.agencies import DISTRICTS

    names = DISTRICTS.get(code.removeprefix("district:"))
    if names is None:
        return code
    return names[1] if _lang(lang) == "en" else names[0]


def field_words(step: str, field: str) -> Words | None:
    """The words of a form field of a step: the area's own, else the shared ones."""
    area = _area_words(step)
    return area[0].get(field) or COMMON_FIELDS.get(field)


def field_label(step: str, field: str, lang: str = "zh") -> str:
    words = field_words(step, field)
    return words.in_(_lang(lang)) if words else field


def option_words(step: str, value: str) -> Words | None:
    """The words of a choice on a step's form: the area's own, else the shared ones."""
    area = _area_words(step)
    return area[1].get(value) or COMMON_OPTIONS.get(value)


def option_label(step: str, value: str, lang: str = "zh") -> str:
    words = option_words(step, value)
    return words.in_(_lang(lang)) if words else value


def _step(step: str):  # type: ignore[no-untyped-def]
    from app.config.procedures import all_procedures

    spec = all_procedures().get(step.split(".", 1)[0].upper())
    if spec is None:
        return None
    return next((s for s in spec.steps if s.name == step), None)


def _area_words(step: str) -> tuple[dict[str, Words], dict[str, Words]]:
    from app.config.procedures import all_procedures

    spec = all_procedures().get(step.split(".", 1)[0].upper())
    if spec is None:
        return {}, {}
    return _area_tables(spec.area)


@cache
def _area_tables(area: str) -> tuple[dict[str, Words], dict[str, Words]]:
    module = importlib.import_module(f"flows.{area}.spec")
    return getattr(module, "FIELDS", {}), getattr(module, "OPTIONS", {})


@cache
def _agencies() -> dict[str, Words]:
    """Every agency of the reference data by code (no database: the names are reference
    data, app/domain/agencies.py)."""
    from app.domain.agencies import reference_agencies

    return {a.code: Words(a.name_zh, a.name_en) for a in reference_agencies()}


# --- added for the task page (app/entrypoints/web/task_view.py): the values of a case and of a
# hotline report, which the case view and the S1 tasks show. ---------------------------------

# A child's sex as the case store keeps it (app/services/cases.py ChildIn.sex).
SEXES: dict[str, Words] = {"M": Words("男", "Male"), "F": Words("女", "Female")}

# Who brought the case (app/services/cases.py CaseOpen.source).
SOURCES: dict[str, Words] = {
    "hotline": Words("热线报告", "Hotline report"),
    "community": Words("社区报告", "Community"),
    "patrol": Words("巡查发现", "Patrol"),
    "coordinator": Words("中心登记", "Registered by the center"),
    "hospital": Words("医院报告", "Hospital"),
    "screening": Words("筛查名单", "Screening list"),
}

# The child's categories (保护对象类别, app/domain/screening.py Category); the Chinese is the first
# label of the screening lists (app/domain/screening.py CATEGORIES).
CATEGORY_EN: dict[str, str] = {
    "street": "Street child",
    "orphan_scattered": "Orphan in family care",
    "orphan_institution": "Orphan in an institution",
    "disabled": "Child with a disability",
    "seriously_ill": "Seriously ill child",
    "parents_disabled_or_ill": "Parents severely disabled or ill",
    "parents_imprisoned": "Parents imprisoned",
    "parents_in_rehab": "Parents in compulsory drug rehabilitation",
    "one_parent_dead_other_unable": "One parent dead, the other unable to care",
    "poor_family": "Child of a poor family",
    "left_behind": "Left-behind child",
}

# What a hotline reporter can say about a child (app/domain/triage.py Concern).
CONCERNS: dict[str, Words] = {
    "living_on_street": Words("流浪街头", "Living on the street"),
    "begging": Words("乞讨", "Begging"),
    "runaway": Words("离家出走", "Ran away from home"),
    "abandoned": Words("被遗弃", "Abandoned"),
    "abuse": Words("遭受虐待", "Abuse"),
    "neglect": Words("监护缺失或疏于照料", "Neglect"),
    "left_alone": Words("独自在家无人照看", "Left alone"),
    "trafficking_suspected": Words("疑似被拐卖", "Suspected trafficking"),
    "injured_or_ill": Words("受伤或患病", "Injured or ill"),
    "out_of_school": Words("失学辍学", "Out of school"),
    "left_behind": Words("留守无人照料", "Left behind"),
    "distress": Words("心理或情绪困扰", "In distress"),
    "other": Words("其他情况", "Other"),
}


def sex_name(code: str, lang: str = "zh") -> str:
    """"F" → 女 / Female."""
    words = SEXES.get(code)
    return words.in_(_lang(lang)) if words else code


def source_name(code: str, lang: str = "zh") -> str:
    """A case's source ("hotline") → 热线报告 / Hotline report."""
    words = SOURCES.get(code)
    return words.in_(_lang(lang)) if words else code


def _listed(labels: Mapping[str, tuple[str, ...]], english: Mapping[str, str], code: str,
            lang: str) -> str:
    """A code of a screening list's column: its first Chinese label, or its English word."""
    if code not in labels:
        return code
    return english.get(code, code) if _lang(lang) == "en" else labels[code][0]


def category_name(code: str, lang: str = "zh") -> str:
    """A child's category ("street") → 流浪儿童 / Street child."""
    from app.domain.screening import CATEGORIES

    return _listed(CATEGORIES, CATEGORY_EN, code, lang)


def concern_name(code: str, lang: str = "zh") -> str:
    """What a hotline report says ("living_on_street") → 流浪街头 / Living on the street."""
    words = CONCERNS.get(code)
    return words.in_(_lang(lang)) if words else code


# --- the pages, the API's display fields and the CLI tables: everything else a person reads,
# and the audit trail as sentences (issue 17). ----------------------------------------------

YES_NO: dict[bool, Words] = {True: Words("是", "Yes"), False: Words("否", "No")}

# How far a task has climbed its ladder (HumanTask.rung): 0 is its first owner.
RUNG_FIRST = Words("未升级", "Not escalated")
RUNG_UP = Words("第{n}级升级", "Escalated, level {n}")

# A guardian's relation is typed freely (app/services/cases.py GuardianIn.relation): the common ones
# read as words in either language, anything else as it was typed. "grandparent" and "other"
# are the forms' own words (flows/words.py COMMON_OPTIONS).
RELATIONS: dict[str, Words] = {
    "father": Words("父亲", "Father"),
    "mother": Words("母亲", "Mother"),
    "parent": Words("父母", "Parent"),
    "grandfather": Words("祖父", "Grandfather"),
    "grandmother": Words("祖母", "Grandmother"),
    "maternal_grandfather": Words("外祖父", "Maternal grandfather"),
    "maternal_grandmother": Words("外祖母", "Maternal grandmother"),
    "stepfather": Words("继父", "Stepfather"),
    "stepmother": Words("继母", "Stepmother"),
    "brother": Words("兄弟", "Brother"),
    "sister": Words("姐妹", "Sister"),
    "sibling": Words("兄弟姐妹", "Sibling"),
    "uncle": Words("叔伯或舅舅", "Uncle"),
    "aunt": Words("姑姨或舅妈", "Aunt"),
    "relative": Words("亲属", "Relative"),
    "foster_parent": Words("寄养家长", "Foster parent"),
    "guardian": Words("监护人", "Guardian"),
}

# The dossier's risks (app/domain/screening.py RISKS): the Chinese is the screening lists' first
# label for each, the English is here.
RISK_EN: dict[str, str] = {
    "out_of_school": "Out of school",
    "no_effective_guardian": "No effective guardian",
    "guardian_neglect_or_abuse": "Guardian neglect or abuse",
    "mental_distress": "Mental distress",
    "needs_medical_care": "Needs medical care",
    "unemployed_family_member": "A family member out of work",
}

# Who did something, when it is not a user (app/adapters/audit.py callers): "user:NAME",
# "agency:CODE" and "procedure:CODE" are read from their code.
ACTORS: dict[str, Words] = {
    "system": Words("系统", "The system"),
    "sweep": Words("期限检查", "The deadline sweep"),
    "hotline": Words("热线平台", "The hotline platform"),
    "coordinator": Words("协调员", "A coordinator"),
    "cli": Words("系统管理员", "The operator"),
}

# What a procedure tells an agency (p.notify in flows/*/*.py) and has no other words for: the
# others read as the procedure's outcome or as a choice of its forms ("r3.ran_away").
NOTICES: dict[str, Words] = {
    "m1.admission_refused": Words("医院拒绝收治", "The hospital refused admission"),
    "record.correction_needed": Words("记录未通过核对，需要更正", "The record must be corrected"),
    # S1's feedback to the hotline platform (p.feedback, the graph's notify:s1.* nodes).
    "s1.acknowledged": Words("向热线平台反馈：已签收", "Told the hotline platform: acknowledged"),
    "s1.declined": Words("向热线平台反馈：不属本单位职责", "Told the hotline platform: declined"),
    "s1.result": Words("向热线平台反馈办理结果", "Told the hotline platform the result"),
}

# What the hotline platform is told (app/services/hotline.py FEEDBACK): "acknowledged", else
# S1's outcome.
FEEDBACK_ACKNOWLEDGED = Words("已签收", "Acknowledged")
SEALED_READ: dict[bool, Words] = {True: Words("准予查阅", "allowed"),
                                  False: Words("拒绝查阅", "refused")}
# What a reader who is not judicial reads in place of a sealed run's content (J3; the marker of
# app/domain/sealing.py): a step's decision, an event's details.
SEALED = Words("已封存", "Sealed")

# Every audit action (grep `action="` in app/ and flows/) as a sentence: `{actor}` first, the
# details in words. A detail the sentence leaves out stays in the store and the API's `detail`.
ACTIONS: dict[str, Words] = {
    "case.opened": Words("{actor} 立案，来源：{source}",
                         "{actor} opened the case (source: {source})"),
    "case.read": Words("{actor} 查看了案件信息", "{actor} read the case"),
    "case.placed": Words("{actor} 记录安置日期 {placed_on}",
                         "{actor} recorded the placement on {placed_on}"),
    "case.family_found": Words("{actor} 记录已找到家人",
                               "{actor} recorded that the family is found"),
    "procedure.started": Words("{actor} 启动 {procedure}", "{actor} started {procedure}"),
    "procedure.finished": Words("{procedure} 结束：{outcome}", "{procedure} ended: {outcome}"),
    "run.recovering": Words("{actor} 恢复中断的 {procedure}（第{recovery}次）",
                            "{actor} recovered {procedure} after a crash (attempt {recovery})"),
    "task.opened": Words("{actor} 将任务 {task}「{step}」交 {owner} 办理，期限 {due_at}",
                         "{actor} gave task {task}, “{step}”, to {owner}, due {due_at}"),
    "task.read": Words("{actor} 查看了任务 {task} 所需的案件信息",
                       "{actor} read the case fields of task {task}"),
    "hotline_report.read": Words("{actor} 查看了任务 {task} 的热线报告",
                                 "{actor} read the hotline report of task {task}"),
    "task.completed": Words("{actor} 完成 {step}", "{actor} completed {step}"),
    "task.escalated": Words("{actor} 将任务 {task}「{step}」升级至 {to}（{rung}），新期限 {due_at}",
                            "{actor} escalated task {task}, “{step}”, to {to}: {rung}, due "
                            "{due_at}"),
    "record.refused": Words("{actor} 退回任务 {task} 的记录：{problems} 处需要更正",
                            "{actor} refused the record of task {task}: {problems} problem(s)"),
    "record.sealed": Words("{actor} 封存犯罪记录 {sealed_record}（{authority}）",
                           "{actor} sealed criminal record {sealed_record} ({authority})"),
    "sealed_record.read": Words("{actor} 申请查阅封存记录 {sealed_record}：{allowed}",
                                "{actor} asked to read sealed record {sealed_record}: {allowed}"),
    "timer.set": Words("{actor} 开始计时，到期时间 {due_at}",
                       "{actor} set a waiting period until {due_at}"),
    "timer.fired": Words("{actor}：等待期满", "{actor}: a waiting period ended"),
    "timer.cancelled": Words("{actor} 取消等待", "{actor} cancelled a waiting period"),
    "notification.queued": Words("{actor} 通知 {agency}：{event}",
                                 "{actor} told {agency}: {event}"),
    "hotline.received": Words("{actor} 接收 {source} 热线报告 {reference}（{categories}），"
                              "转 {agencies} 办理",
                              "{actor} received {source} hotline report {reference} "
                              "({categories}), routed to {agencies}"),
    "hotline.feedback_queued": Words("{actor} 向热线平台反馈 {agency} 的办理情况：{status}",
                                     "{actor} told the hotline platform of {agency}: {status}"),
    "screening.imported": Words("{actor} 导入 {community} 的筛查名单：共 {rows} 行，"
                                "接收 {accepted} 行，退回 {rejected} 行",
                                "{actor} imported {community}'s screening list: {rows} rows, "
                                "{accepted} accepted, {rejected} refused"),
    "screening.duplicates.read": Words("{actor} 查看了疑似重复记录",
                                       "{actor} read the possible duplicates"),
    "screening.duplicate.merged": Words("{actor} 将疑似重复记录并入已有儿童",
                                        "{actor} merged a possible duplicate into the child on "
                                        "file"),
    "screening.duplicate.kept_apart": Words("{actor} 确认疑似重复记录为另一名儿童",
                                            "{actor} kept a possible duplicate apart"),
    "screening.proposal.confirmed": Words("{actor} 确认筛查建议，启动 {procedure}",
                                          "{actor} confirmed a screening proposal: {procedure}"),
    "user.added": Words("{actor} 添加 {agency} 的用户", "{actor} added a user of {agency}"),
    "token.issued": Words("{actor} 签发访问令牌", "{actor} issued an access token"),
    "token.revoked": Words("{actor} 注销访问令牌", "{actor} revoked an access token"),
    "login.succeeded": Words("{actor} 登录", "{actor} signed in"),
    "login.failed": Words("登录失败（用户名或密码错误）",
                          "a sign-in failed (wrong username or password)"),
    "login.throttled": Words("登录失败次数过多，暂停登录",
                             "sign-ins refused after too many failures"),
    "user.deactivated": Words("{actor} 停用用户", "{actor} deactivated a user"),
    "user.reactivated": Words("{actor} 恢复用户", "{actor} reactivated a user"),
    "outbox.dead": Words("{actor} 多次投递失败，放弃一条消息",
                         "{actor} gave up a message after repeated failures"),
    "agency.robot_set": Words("{actor} 设置 {agency} 的群机器人",
                              "{actor} set {agency}'s group robot"),
    "agency.robot_cleared": Words("{actor} 移除 {agency} 的群机器人",
                                  "{actor} removed {agency}'s group robot"),
}
# The parts a sentence has only when its event has them.
PARTS: dict[str, Words] = {
    "decision": Words("：{decision}", ": {decision}"),
    "reason": Words("（原因：{reason}）", " (reason: {reason})"),
    "procedures": Words("，启动 {procedures}", "; started {procedures}"),
    "correction": Words("（更正记录）", " (correct the record)"),
    "unknown": Words("{actor} {action}", "{actor} {action}"),
    # An event of a sealed run, for a reader who is not judicial: its content is not said.
    "sealed": Words("：已封存", ": sealed"),
}
# The sentences an event of a sealed run has without its sealed details.
SEALED_ACTIONS: dict[str, Words] = {
    "record.sealed": Words("{actor} 封存犯罪记录 {sealed_record}",
                           "{actor} sealed criminal record {sealed_record}"),
}


def yes_no(value: bool | None, lang: str = "zh") -> str:
    """True → 是 / Yes; None → ""."""
    return "" if value is None else YES_NO[bool(value)].in_(_lang(lang))


def rung_name(rung: int, lang: str = "zh") -> str:
    """0 → 未升级 / Not escalated; 2 → 第2级升级 / Escalated, level 2."""
    words = RUNG_FIRST if rung <= 0 else RUNG_UP
    return words.in_(_lang(lang)).format(n=rung)


def owner_name(owner: str, owner_role: str = "worker", lang: str = "zh") -> str:
    """A task's owner by name: "psb" at the supervisor's rung → 市公安局分管领导."""
    rung = f"{owner}/supervisor" if owner_role == "supervisor" and "/" not in owner else owner
    return agency_name(rung, lang)


def task_name(step: str, title: str = "", lang: str = "zh") -> str:
    """A task by its step's name, marked when it is the engine's "correct the data" round
    (app/services/engine.py titles it so)."""
    name = step_name(step, lang)
    if "(correct the data)" in title:
        name += PARTS["correction"].in_(_lang(lang))
    return name


def run_name(code: str, params: Mapping[str, Any] | None = None, lang: str = "zh") -> str:
    """A procedure run by name, with the agency or place it was started for when it has one:
    S1 for the police → 热线转办（市公安局）."""
    name = procedure_name(code, lang)
    for key in ("agency", "street", "community", "hospital"):
        value = (params or {}).get(key)
        if isinstance(value, str) and value:
            return f"{name}（{agency_name(value, lang)}）" if _lang(lang) == "zh" \
                else f"{name} ({agency_name(value, lang)})"
    return name


def risk_name(code: str, lang: str = "zh") -> str:
    """A dossier's risk ("out_of_school") → 辍学 / Out of school."""
    from app.domain.screening import RISKS

    return _listed(RISKS, RISK_EN, code, lang)


def relation_name(text: str, lang: str = "zh") -> str:
    """A guardian's relation: "father" or "父亲" → 父亲 / Father; anything else as typed."""
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    words = RELATIONS.get(key) or (COMMON_OPTIONS.get(key) if key in ("grandparent", "other")
                                   else None)
    if words is None:  # typed in Chinese: the English page still reads a word
        words = next((w for w in RELATIONS.values() if w.zh == text.strip()), None)
    return words.in_(_lang(lang)) if words else text


def hotline_category_name(code: str, lang: str = "zh") -> str:
    """A hotline report's category ("street_child") by the title hotline.toml gives it,
    "Street child (流浪儿童)": 流浪儿童 / Street child."""
    from app.config.hotline import current

    rule = current().categories.get(code)
    if rule is None:
        return code
    found = _TITLE.match(rule.title)
    if found is None:
        return rule.title
    return found["en"] if _lang(lang) == "en" else found["zh"]


_TITLE = re.compile(r"^(?P<en>[^()（）]+?)\s*[(（](?P<zh>[^()（）]+)[)）]\s*$")


def notice_name(event: str, lang: str = "zh") -> str:
    """What a procedure told an agency ("r3.ran_away") → 再次外出流浪."""
    words = NOTICES.get(event)
    if words is None and "." in event:
        prefix, name = event.split(".", 1)
        from app.config.procedures import all_procedures

        spec = all_procedures().get(prefix.upper())
        words = spec.outcome_words.get(name) if spec is not None else None
        words = words or option_words(f"{prefix}.", name)
    return words.in_(_lang(lang)) if words else event


def local_time(value: datetime | date | str | None) -> str:
    """An instant in Beijing time, "YYYY-MM-DD HH:MM"; a day as "YYYY-MM-DD"."""
    from app.domain.workdays import TZ

    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value \
                else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def join(items: Iterable[str], lang: str = "zh") -> str:
    """Names in a row: 、 in Chinese, commas in English."""
    return ("、" if _lang(lang) == "zh" else ", ").join(i for i in items if i)


def value_name(step: str, field: str, value: Any, lang: str = "zh") -> str:
    """One value of a step's form or decision in words: a choice by its words, an agency or a
    district by name, a yes or no, a day or an instant in Beijing time, a list item by item;
    free text and numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value, lang)
    if isinstance(value, list | tuple):
        return join((value_name(step, field, v, lang) for v in value), lang)
    if isinstance(value, datetime | date):
        return local_time(value)
    if not isinstance(value, str):
        return str(value)
    words = option_words(step, value)
    if words is not None:
        return words.in_(_lang(lang))
    if value.split("/", 1)[0] in _agencies():
        return agency_name(value, lang)
    if _ISO_DAY.match(value):
        return local_time(value)
    return value


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+([+-]\d{2}:\d{2}|Z)?)?$")


def decision_words(step: str, decision: Mapping[str, Any] | None, lang: str = "zh") -> str:
    """A step's decision in words: the outcome's words first, then each other field as
    "label：value" (已找到家庭（有户籍：是，户籍所在区县：兴庆区）)."""
    lang = _lang(lang)
    if not decision:
        return ""
    if is_marker(decision):
        return SEALED.in_(lang)
    head = value_name(step, "outcome", decision["outcome"], lang) \
        if decision.get("outcome") is not None else ""
    rest = [f"{field_label(step, k, lang)}{'：' if lang == 'zh' else ': '}"
            f"{value_name(step, k, v, lang)}"
            for k, v in decision.items() if k != "outcome" and v is not None and v != []]
    if not rest:
        return head
    more = ("，" if lang == "zh" else "; ").join(rest)
    if not head:
        return more
    return f"{head}（{more}）" if lang == "zh" else f"{head} ({more})"


def actor_name(actor: str, agency: str | None = None, lang: str = "zh") -> str:
    """Who did it: 系统, 期限检查, an agency by name, a procedure by name, or a user as their
    agency's name with the username (市公安局（li）)."""
    lang = _lang(lang)
    if actor in ACTORS:
        return ACTORS[actor].in_(lang)
    kind, _, code = actor.partition(":")
    if kind == "agency" and code:
        return agency_name(code, lang)
    if kind == "procedure" and code:
        return procedure_name(code, lang)
    if kind == "user" and code:
        if agency:
            name = agency_name(agency, lang)
            return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"
        return code
    return actor


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def event_text(event: Any, lang: str = "zh", *, steps: Mapping[int, str] | None = None,
               runs: Mapping[int, Any] | None = None) -> str:
    """An audit event (an AuditEvent, or the API's dict of one) as a sentence without its time:
    "市公安局（li） 完成 身份核查与寻亲：已找到家庭".

    `steps` (task id → step) and `runs` (procedure run id → its run, or a dict with "code" and
    "params") name what the event's details only number. Every value is in words: agencies,
    steps, procedures, outcomes and choices by name, instants in Beijing time; never a code of
    the procedures nor a Python value. The case page hides the case fields a read covered
    ("fields"), and so does this.
    """
    lang = _lang(lang)
    action = str(_get(event, "action") or "")
    detail: Mapping[str, Any] = _get(event, "detail") or {}
    # A sealed run's event, as a reader who is not judicial has it: its content details are
    # the sealed marker (app/domain/sealing.py), never said; the sentence says "sealed".
    sealed = any(is_marker(v) for v in detail.values())
    if sealed:
        detail = {k: v for k, v in detail.items() if not is_marker(v)}
    task_id = _get(event, "task_id")
    run_id = _get(event, "procedure_run_id")
    run = (runs or {}).get(run_id) if run_id is not None else None
    step = str(detail.get("step") or (steps or {}).get(task_id) or "")
    agency = detail.get("agency")
    values: dict[str, Any] = {
        "actor": actor_name(str(_get(event, "actor") or ""),
                            agency if isinstance(agency, str) else None, lang),
        "action": action,
        "task": f"#{task_id}" if task_id is not None else "",
        "step": step_name(step, lang) if step else "",
        "procedure": run_name(str(detail.get("code") or _get(run, "code") or ""),
                              _get(run, "params") if run is not None else None, lang)
        if (detail.get("code") or run is not None) else "",
        "owner": agency_name(str(detail.get("owner", "")), lang),
        "to": agency_name(str(detail.get("to", "")), lang),
        "agency": agency_name(agency, lang) if isinstance(agency, str) else "",
        "rung": rung_name(int(detail.get("rung") or 0), lang),
        "due_at": local_time(detail.get("due_at")),
        "placed_on": local_time(detail.get("placed_on")),
        "source": source_name(str(detail.get("source", "")), lang),
        "reference": detail.get("reference", ""),
        "categories": join((hotline_category_name(c, lang)
                            for c in detail.get("categories") or ()), lang),
        "agencies": join((agency_name(a, lang) for a in detail.get("agencies") or ()), lang),
        "procedures": join((procedure_name(c, lang)
                            for c in detail.get("procedures") or ()), lang),
        "event": notice_name(str(detail.get("event", "")), lang),
        "problems": len(detail.get("problems") or ()),
        "sealed_record": f"#{detail.get('sealed_record_id', '')}",
        "authority": agency_name(str(detail.get("authority", "")), lang),
        "allowed": SEALED_READ[bool(detail.get("allowed"))].in_(lang),
        "recovery": detail.get("recovery", ""),
        "community": agency_name(str(detail.get("community", "")), lang),
        "rows": detail.get("rows", ""),
        "accepted": detail.get("accepted", ""),
        "rejected": detail.get("rejected", ""),
    }
    if action == "procedure.finished":
        code = str(_get(run, "code") or "")
        values["outcome"] = outcome_name(code, str(detail.get("outcome", "")), lang) if code \
            else ""
    if action == "hotline.feedback_queued":
        status = str(detail.get("status", ""))
        values["status"] = FEEDBACK_ACKNOWLEDGED.in_(lang) if status == "acknowledged" \
            else outcome_name("S1", status, lang)
    if action == "hotline.received" and detail.get("source") in ("12355", "12345"):
        values["source"] = str(detail["source"])
    template = (SEALED_ACTIONS.get(action) if sealed else None) or ACTIONS.get(
        action, PARTS["unknown"])
    text = template.in_(lang).format_map(_Blank(values))
    if sealed and action not in SEALED_ACTIONS:
        text += PARTS["sealed"].in_(lang)
    if action == "task.completed":
        said = decision_words(step, detail.get("decision"), lang)
        if said:
            text += PARTS["decision"].in_(lang).format(decision=said)
    if action == "procedure.started" and detail.get("reason"):
        text += PARTS["reason"].in_(lang).format(reason=detail["reason"])
    if action == "hotline.received" and values["procedures"]:
        text += PARTS["procedures"].in_(lang).format(procedures=values["procedures"])
    return text


def event_sentence(event: Any, lang: str = "zh", *, steps: Mapping[int, str] | None = None,
                   runs: Mapping[int, Any] | None = None) -> str:
    """The event with its time in Beijing: "2026-12-04 20:46 市公安局（li） 完成 身份核查与寻亲：
    已找到家庭"."""
    return f"{local_time(_get(event, 'at'))} {event_text(event, lang, steps=steps, runs=runs)}"


class _Blank(dict):  # type: ignore[type-arg]
    """A template's missing value reads as nothing, never as a KeyError or a code."""

    def __missing__(self, key: str) -> str:
        return ""


class Vocabulary:
    """Every lookup in one language, for the templates (`w.step(r.step)`) and the tables."""

    def __init__(self, lang: str) -> None:
        self.lang = _lang(lang)

    def procedure(self, code: str) -> str:
        return procedure_name(code, self.lang)

    def run(self, code: str, params: Mapping[str, Any] | None = None) -> str:
        return run_name(code, params, self.lang)

    def step(self, step: str) -> str:
        return step_name(step, self.lang)

    def task(self, step: str, title: str = "") -> str:
        return task_name(step, title, self.lang)

    def outcome(self, code: str, outcome: str | None) -> str:
        return outcome_name(code, outcome, self.lang) if outcome else ""

    def status(self, kind: str, status: str) -> str:
        return status_name(kind, status, self.lang)

    def agency(self, code: str | None) -> str:
        return agency_name(code, self.lang) if code else ""

    def agencies(self) -> list[tuple[str, str]]:
        """Every agency of the reference data, (code, name), in its order."""
        return [(code, words.in_(self.lang)) for code, words in _agencies().items()]

    def owner(self, owner: str, owner_role: str = "worker") -> str:
        return owner_name(owner, owner_role, self.lang)

    def district(self, code: str | None) -> str:
        if not code:
            return ""
        name = district_name(code, self.lang)
        other = COMMON_OPTIONS.get(code) if name == code else None
        return other.in_(self.lang) if other else name

    def category(self, code: str) -> str:
        return category_name(code, self.lang)

    def categories(self, codes: Iterable[str] | None) -> str:
        return join((category_name(c, self.lang) for c in codes or ()), self.lang)

    def risks(self, codes: Iterable[str] | None) -> str:
        return join((risk_name(c, self.lang) for c in codes or ()), self.lang)

    def source(self, code: str | None) -> str:
        return source_name(code, self.lang) if code else ""

    def sex(self, code: str | None) -> str:
        return sex_name(code, self.lang) if code else ""

    def yes_no(self, value: bool | None) -> str:
        return yes_no(value, self.lang)

    def relation(self, text: str | None) -> str:
        return relation_name(text, self.lang) if text else ""

    def rung(self, rung: int) -> str:
        return rung_name(rung, self.lang)

    def field(self, step: str, field: str) -> str:
        return field_label(step, field, self.lang)

    def option(self, step: str, value: str) -> str:
        return option_label(step, value, self.lang)

    def value(self, step: str, field: str, value: Any) -> str:
        return value_name(step, field, value, self.lang)

    def decision(self, step: str, decision: Mapping[str, Any] | None) -> str:
        if is_marker(decision):
            return SEALED.in_(self.lang)
        return decision_words(step, decision, self.lang)

    def sealed(self) -> str:
        """已封存 / Sealed: what stands for a sealed run's content (app/domain/sealing.py)."""
        return SEALED.in_(self.lang)

    def is_sealed(self, event: Any) -> bool:
        """Whether an audit event's details hold the sealed marker (its content not said)."""
        return any(is_marker(v) for v in (_get(event, "detail") or {}).values())

    def actor(self, actor: str, agency: str | None = None) -> str:
        return actor_name(actor, agency, self.lang)

    def when(self, value: datetime | date | str | None) -> str:
        return local_time(value)

    def join(self, items: Iterable[str]) -> str:
        return join(items, self.lang)

    def event(self, event: Any, *, steps: Mapping[int, str] | None = None,
              runs: Mapping[int, Any] | None = None) -> str:
        return event_text(event, self.lang, steps=steps, runs=runs)

    def sentence(self, event: Any, *, steps: Mapping[int, str] | None = None,
                 runs: Mapping[int, Any] | None = None) -> str:
        return event_sentence(event, self.lang, steps=steps, runs=runs)
