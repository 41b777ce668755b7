"""The words a person reads for the codes of the procedures, in Chinese and in English.

Codes (`r2.outreach`, `not_responsible`, `guardian_able`) stay in the API, the database, the
flows and the logs; a person reads words. Each word is written once, next to what it names:
a step's title in its StepSpec, a procedure's name and outcomes in its ProcedureSpec, the
fields and options of an area's forms in `FIELDS` and `OPTIONS` of that area's `spec.py`, and
the fields and options that several areas share here, in `COMMON_FIELDS` and
`COMMON_OPTIONS`. `app/config/vocabulary.py` looks them up; a test checks that every field and
option of every form has its words, and that no word is written twice.
"""

from __future__ import annotations

from typing import NamedTuple

from app.domain.agencies import DISTRICTS


class Words(NamedTuple):
    """A code's name in Chinese and English, with an optional line of help for a form field."""

    zh: str
    en: str
    help_zh: str = ""
    help_en: str = ""

    def in_(self, lang: str) -> str:
        """The name in `lang` ("zh" or "en")."""
        return self.en if lang == "en" else self.zh

    def help_in(self, lang: str) -> str:
        """The help text in `lang`, or ""."""
        return self.help_en if lang == "en" else self.help_zh


# Form fields that the steps of several areas share.
COMMON_FIELDS: dict[str, Words] = {
    "notes": Words("备注", "Notes", "办理情况的补充说明（选填）。",
                   "Anything else worth recording (optional)."),
    "outcome": Words("办理结果", "Outcome"),
    "acted_on": Words("办理日期", "Date acted on", "本环节措施实际办理的日期。",
                      "The day the action of this step was taken."),
    "amount": Words("金额（元）", "Amount (yuan)", "以元为单位。", "In yuan."),
    "amount_paid": Words("实付金额（元）", "Amount paid (yuan)", "实际支付的金额，以元为单位。",
                         "The amount actually paid, in yuan."),
    "paid_on": Words("支付日期", "Date paid"),
    "application_date": Words("申请日期", "Application date"),
    "child_seen": Words("是否见到儿童本人", "Child seen in person"),
    "school": Words("学校名称", "School"),
    "situation": Words("儿童现状", "Child's situation", "本次走访时儿童的总体情况。",
                       "How the child is at this visit."),
    "visit_date": Words("走访日期", "Visit date"),
    # Shared by education, employment, medical and psych.
    "amount_requested": Words("申请金额（元）", "Amount requested (yuan)", "以元为单位。",
                              "In yuan."),
    "amount_approved": Words("核准金额（元）", "Amount approved (yuan)",
                             "审核确定的金额，以元为单位；不予批准的可不填。",
                             "The amount approved, in yuan; leave empty when refused."),
    "disability_grade": Words("残疾等级", "Disability grade", "按残疾人证填写一至四级，一级最重。",
                              "1 to 4, as on the disability certificate; grade 1 is the most "
                              "severe."),
    "referral_date": Words("转介日期", "Referral date"),
    "starts_on": Words("开始日期", "Start date", "自哪一天起实施或开始就读、走访。",
                       "The day it begins."),
}

# Choices that the forms of several areas share.
COMMON_OPTIONS: dict[str, Words] = {
    # The six districts (flows.forms.District), named as in the reference data.
    **{code: Words(zh, en) for code, (zh, en) in DISTRICTS.items()},
    "other": Words("其他", "Other"),
    # Where a child is cared for (四(三)2: 救助保护机构、社会福利机构代养、家庭寄养).
    "center": Words("救助保护机构", "Rescue station (Minor Protection Center)"),
    "welfare": Words("儿童福利机构", "Child welfare institution"),
    "foster": Words("家庭寄养", "Foster family"),
    "ok": Words("情况正常", "All well"),
    "concern": Words("需要关注", "Cause for concern"),
    "closed": Words("结案", "Close the case"),
    "referred": Words("已转介", "Referred"),
    "prosecution": Words("提起公诉", "Prosecution"),
    # Shared by education, employment and medical.
    "approved": Words("批准", "Approved"),
    "rejected": Words("不予批准", "Rejected"),
    "grandparent": Words("祖父母或外祖父母", "Grandparent"),
    # The categories of disability, as on the disability certificate (残疾人证).
    "visual": Words("视力残疾", "Visual"),
    "hearing": Words("听力残疾", "Hearing"),
    "speech": Words("言语残疾", "Speech"),
    "physical": Words("肢体残疾", "Physical"),
    "intellectual": Words("智力残疾", "Intellectual"),
    "mental": Words("精神残疾", "Mental"),
    "multiple": Words("多重残疾", "Multiple"),
}
