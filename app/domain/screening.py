"""Screening lists: the columns, categories and risk flags, and how a cell is read. Pure."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from typing import Any, Literal

from app.domain.idcard import normalize_id_number
from app.domain.text import (
    TextRefused,
    clean_text,
    looks_like_formula,
    strip_invisible,
    unescape_formula,
)

# The categories of "who is protected" (PROCEDURES.md, 三(二)) with the labels communities use.
# The codes are those of a child record (Category below).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "street": ("流浪儿童", "流浪"),
    "orphan_scattered": ("分散供养孤儿", "孤儿（分散供养）", "散居孤儿"),
    "orphan_institution": ("机构养育孤儿", "孤儿（机构养育）"),
    "disabled": ("残疾儿童", "残疾"),
    "seriously_ill": ("重病儿童", "重病"),
    "parents_disabled_or_ill": ("父母重残重病", "父母重度残疾或重病"),
    "parents_imprisoned": ("父母服刑", "父母服刑在押"),
    "parents_in_rehab": ("父母强制戒毒", "父母强制隔离戒毒"),
    "one_parent_dead_other_unable": ("一方死亡另一方无力抚养", "父母一方死亡另一方无力抚养"),
    "poor_family": ("贫困家庭", "贫困家庭儿童"),
    "left_behind": ("农村留守儿童", "留守儿童"),
}

# What the screening worker saw, beyond the categories: the risk assessment reads these.
RISKS: dict[str, tuple[str, ...]] = {
    "out_of_school": ("辍学", "失学辍学"),
    "no_effective_guardian": ("无人监护", "监护缺失"),
    "guardian_neglect_or_abuse": ("监护不当", "疑似虐待", "监护人失职"),
    "mental_distress": ("心理问题", "心理困扰"),
    "needs_medical_care": ("就医困难", "需要医疗救助"),
    "unemployed_family_member": ("家庭成员无业", "家长失业"),
}

DISTRICT_NAMES: dict[str, str] = {
    "兴庆区": "xingqing", "金凤区": "jinfeng", "西夏区": "xixia",
    "贺兰县": "helan", "永宁县": "yongning", "灵武市": "lingwu",
}
SEX_NAMES: dict[str, str] = {"男": "M", "女": "F", "m": "M", "f": "F"}

# The columns of a screening list: field → (Chinese header, English alias). Required first.
COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "name"),
    "sex": ("性别", "sex"),
    "birth_date": ("出生日期", "birth_date"),
    "id_number": ("身份证号", "id_number"),
    "district": ("区县", "district"),
    "categories": ("困境类别", "categories"),
    "address": ("住址", "address"),
    "risks": ("风险情况", "risks"),
    "guardian_name": ("监护人姓名", "guardian_name"),
    "guardian_relation": ("监护人关系", "guardian_relation"),
    "guardian_phone": ("监护人电话", "guardian_phone"),
}
REQUIRED_COLUMNS = ("name", "sex", "birth_date", "id_number", "district", "categories")
# What kind of value each column holds, for the checks made before the suite
# (app/domain/text.py): names and free text are text, refused when a cell begins like a formula
# or holds a control character. The others (dates, choices, the ID number, the phone) have
# checks of their own, so a "-" or "+" there is not taken for a formula (a phone may begin
# with +). Categories and risks are lists whose items may stand on lines of their own.
TEXT_FIELDS = frozenset({"name", "address", "categories", "risks", "guardian_name",
                         "guardian_relation"})
NAME_FIELDS = frozenset({"name", "guardian_name"})
MULTILINE_FIELDS = frozenset({"address", "categories", "risks"})
# The two columns a rejects file adds; a corrected rejects file is read with them ignored.
ROW_COLUMN = ("行号", "row")
REASONS_COLUMN = ("问题", "reasons")

_SEPARATORS = re.compile(r"[;,；，、|/\s]+")
_SLASH_DATE = re.compile(r"([0-9]{4})[/.]([0-9]{1,2})[/.]([0-9]{1,2})")

# A child record's categories (保护对象类别): the codes of CATEGORIES.
Category = Literal[
    "street", "orphan_scattered", "orphan_institution", "disabled", "seriously_ill",
    "parents_disabled_or_ill", "parents_imprisoned", "parents_in_rehab",
    "one_parent_dead_other_unable", "poor_family", "left_behind",
]

_LABELS = {label: code for code, labels in CATEGORIES.items() for label in (code, *labels)}
_RISK_LABELS = {label: code for code, labels in RISKS.items() for label in (code, *labels)}


def header_field(header: str) -> str | None:
    """The field a column header names (Chinese or English, any case), or None."""
    text = header.strip()
    for name, (zh, en) in COLUMNS.items():
        if text == zh or text.lower() == en:
            return name
    return None


def is_rejects_column(header: str) -> bool:
    text = header.strip()
    return any(text == zh or text.lower() == en for zh, en in (ROW_COLUMN, REASONS_COLUMN))


def cell_text(value: Any) -> str | None:
    """A cell as text, the way a person reads it; None for an empty cell.

    Spreadsheet numbers come back as int or float: an integral float loses its ".0" (a phone
    typed as a number), and a date cell becomes YYYY-MM-DD.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


# Why a cell is refused before the suite sees it: (code suffix, English, Chinese). The code of
# a problem is "<field>.<suffix>", e.g. "name.formula".
Refusal = tuple[str, str, str]

FORMULA_TEXT: Refusal = (
    "formula", "The cell begins like a spreadsheet formula (=, +, -, @, a tab or a carriage "
    "return); such text is not taken. Remove the leading sign.",
    "公式内容（以 =、+、-、@、制表符或回车开头，电子表格会当作公式执行），不予接收，"
    "请删去开头的符号。")
CONTROL_CHARACTER: Refusal = (
    "control_character", "The cell holds a control character (an invisible special "
    "character); remove it.",
    "含有控制字符（看不见的特殊字符），请删去后重新填写。")


def formula_cell(letter: str) -> Refusal:
    """Why an .xlsx formula cell is refused (its value is the formula's, not what was typed)."""
    return ("formula_cell",
            f"Formula cell (column {letter}): replace the formula by its value (copy, then "
            "paste values only).",
            f"公式单元格（{letter}列），不予接收，请将公式替换为数值（复制后“选择性粘贴—值”）。")


def merged_cell(cells: str) -> Refusal:
    """Why a row that a merged range of an .xlsx sheet covers is refused."""
    return ("merged_cell",
            f"Merged cells ({cells}): unmerge them and fill in every row's cell.",
            f"合并单元格（{cells}），不予接收，请取消合并，并在每一行分别填写。")


def read_cell(field: str, value: Any) -> tuple[str | None, Refusal | None]:
    """A cell of a screening list as the suite judges it, or why it is refused before that.

    Every text loses its invisible characters (app/domain/text.py), and the apostrophe a rejects
    file put before a formula-like text (`unescape_formula`), so that a corrected rejects file
    is judged as the list was. A text field (TEXT_FIELDS) beginning like a formula (=, +, -,
    @, tab, CR; also after spaces) or holding a control character is refused; the ID number is
    normalized (`normalize_id_number`); the other fields go to the suite as text.

    Returns:
        (the text, None), the text None for an empty cell; or (the text as read, the refusal).
    """
    if not isinstance(value, str):
        if field not in TEXT_FIELDS:
            return cell_text(value), None
        value = cell_text(value) or ""  # a number in a text column: -1 is text "-1" there
    raw = unescape_formula(strip_invisible(value))
    if field in TEXT_FIELDS:
        if looks_like_formula(raw) or looks_like_formula(raw.strip()):
            return cell_text(raw), FORMULA_TEXT
        try:
            text = clean_text(raw, multiline=field in MULTILINE_FIELDS, name=field in NAME_FIELDS)
        except TextRefused:
            return cell_text(raw), CONTROL_CHARACTER
        return text or None, None
    text = cell_text(raw)
    if field == "id_number" and text is not None:
        text = normalize_id_number(text) or None
    return text, None


def norm_date(text: str | None) -> str | None:
    """"2014/6/1" or "2014.6.1" → "2014-06-01"; anything else as given (the suite judges it)."""
    if text is None:
        return None
    match = _SLASH_DATE.fullmatch(text)
    if match:
        year, month, day = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text


def norm_choice(text: str | None, names: dict[str, str]) -> str | None:
    """A code given as itself or by its Chinese name; anything else as given."""
    if text is None:
        return None
    return names.get(text, names.get(text.lower(), text))


def split_list(text: str | None) -> list[str]:
    """"留守儿童、贫困家庭" → ["留守儿童", "贫困家庭"]: any usual separator."""
    return [part for part in _SEPARATORS.split(text or "") if part]


def category_codes(text: str | None) -> list[str] | None:
    """The category codes of a cell, in order, without repeats; None if one is unknown."""
    return _codes(text, _LABELS)


def risk_codes(text: str | None) -> list[str] | None:
    """The risk codes of a cell, in order, without repeats; None if one is unknown."""
    return _codes(text, _RISK_LABELS)


def _codes(text: str | None, labels: dict[str, str]) -> list[str] | None:
    codes: list[str] = []
    for part in split_list(text):
        code = labels.get(part, labels.get(part.lower()))
        if code is None:
            return None
        if code not in codes:
            codes.append(code)
    return codes


def identity_key(*, id_number: str | None, name: str, birth_date: date | str,
                 district: str) -> str:
    """A row's natural key: the same person sent again gives the same key.

    A digest, so that it can be indexed and compared without keeping another copy of the
    identity in clear.
    """
    birth = birth_date.isoformat() if isinstance(birth_date, date) else birth_date
    raw = "\x1f".join([id_number or "", name.strip(), birth, district])
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def mask_id(id_number: str | None) -> str | None:
    """An ID number as a list may show it: region and last four characters."""
    if not id_number:
        return None
    return id_number[:6] + "*" * max(len(id_number) - 10, 0) + id_number[-4:]
