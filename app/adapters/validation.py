"""One gate for every entry point: the record's suite, then its typed model; field-level errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from app.domain.errors import ValidationFailed, refusal
from app.domain.idcard import check_digit, is_valid_id_number, normalize_id_number
from app.domain.text import TextRefused, clean_text, has_control, strip_invisible

_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")




def _pydantic_errors(exc: ValidationError, prefix: str = "",
                     label: Callable[[tuple[Any, ...]], str] | None = None) -> list[Any]:
    """pydantic's errors as FieldErrors: the English is pydantic's own, the Chinese a sentence
    of ours that names the field by its words (`label`: a field's path → its Chinese name;
    default: the shared words of flows/words.py, else the field's code)."""
    from expectations.runner import FieldError

    name = label or _common_label
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "form"
        ctx = err.get("ctx") or {}
        if err["type"] == "refused" and "message_zh" in ctx:  # see refusal()
            leaf = str(err["loc"][-1]) if err["loc"] else "form"
            out.append(FieldError(field=prefix + field, code=f"{leaf}.{ctx['code']}",
                                  message=err["msg"], message_zh=str(ctx["message_zh"])))
            continue
        out.append(FieldError(field=prefix + field, code=f"{field}.{err['type']}",
                              message=err["msg"],
                              message_zh=message_zh(err["type"], name(tuple(err["loc"])), ctx)))
    return out


# --- pydantic's error types in Chinese ----------------------------------------------------

_DATE = "“{f}”须为有效日期（年-月-日）。"
_NUMBER = "“{f}”须为数字。"
# pydantic's error type → a Chinese sentence: {f} is the field's words, the other names are
# the error's context (a limit, never the value that was sent).
ZH_MESSAGES: dict[str, str] = {
    "missing": "“{f}”为必填项。",
    "string_pattern_mismatch": "“{f}”的格式不正确，请按填写说明填写。",
    "literal_error": "“{f}”须从所列选项中选择。",
    "enum": "“{f}”须从所列选项中选择。",
    "date_parsing": _DATE, "date_from_datetime_parsing": _DATE, "date_type": _DATE,
    "date_from_datetime_inexact": _DATE,
    "datetime_parsing": "“{f}”须为有效的日期和时间。",
    "datetime_type": "“{f}”须为有效的日期和时间。",
    "greater_than_equal": "“{f}”不能小于 {ge}。",
    "greater_than": "“{f}”须大于 {gt}。",
    "less_than_equal": "“{f}”不能大于 {le}。",
    "less_than": "“{f}”须小于 {lt}。",
    "string_too_long": "“{f}”不能超过 {max_length} 个字。",
    "string_too_short": "“{f}”至少需要 {min_length} 个字。",
    "too_long": "“{f}”最多 {max_length} 项。",
    "too_short": "“{f}”至少需要 {min_length} 项。",
    "bool_parsing": "“{f}”须为“是”或“否”。", "bool_type": "“{f}”须为“是”或“否”。",
    "int_parsing": "“{f}”须为整数。", "int_type": "“{f}”须为整数。",
    "int_from_float": "“{f}”须为整数。",
    "float_parsing": _NUMBER, "float_type": _NUMBER, "decimal_parsing": _NUMBER,
    "decimal_type": _NUMBER, "finite_number": _NUMBER,
    "decimal_max_digits": "“{f}”最多 {max_digits} 位数字。",
    "decimal_max_places": "“{f}”最多保留 {decimal_places} 位小数。",
    "decimal_whole_digits": "“{f}”的整数部分最多 {whole_digits} 位。",
    "string_type": "“{f}”须为文字。",
    "list_type": "“{f}”须为一组选项。",
    "dict_type": "“{f}”的格式不正确。", "model_type": "“{f}”的格式不正确。",
    "model_attributes_type": "“{f}”的格式不正确。",
    "extra_forbidden": "此表单没有“{f}”这一项。",
    "value_error": "“{f}”的内容不符合要求，请检查。",
    "assertion_error": "“{f}”的内容不符合要求，请检查。",
}
_FORM_ZH = "表单"  # what a sentence calls the form as a whole (a model-level error)
_AGENCY_PATTERN = r"^[a-z]+(:[a-z0-9-]+)?$"  # flows/forms.py AgencyCode


def message_zh(kind: str, field_zh: str, ctx: dict[str, Any] | None = None) -> str:
    """The Chinese sentence for one of pydantic's error types, naming the field by its words;
    a type not in the table reads "“…”无效。"."""
    ctx = ctx or {}
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == _AGENCY_PATTERN:
        return f"“{field_zh}”须为列表中的单位。"
    if kind in ("too_short", "string_too_short") and ctx.get("min_length") == 1:
        return f"“{field_zh}”不能为空。"
    if kind in ("value_error", "assertion_error") and field_zh == _FORM_ZH:
        return "表单的内容前后不一致，请检查后再提交。"
    template = ZH_MESSAGES.get(kind, "“{f}”无效。")
    values = {k: _plain(v) for k, v in ctx.items() if k != "f"}
    try:
        return template.format(f=field_zh, **values)
    except (KeyError, IndexError):  # a context pydantic did not give: say it without
        return f"“{field_zh}”无效。"


def _plain(value: Any) -> str:
    """A limit as a person writes it: 0 rather than 0.0 or Decimal('0')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _common_label(loc: tuple[Any, ...]) -> str:
    """A field's words when no step is known: the shared words of flows/words.py for its last
    named part, else its code."""
    from flows.words import COMMON_FIELDS

    names = [str(p) for p in loc if isinstance(p, str)]
    if not names:
        return _FORM_ZH
    words = COMMON_FIELDS.get(names[-1])
    return words.zh if words else ".".join(names)


@cache
def _step_of(model: type[BaseModel]) -> str | None:
    """The step whose form or decision `model` is, if any."""
    from flows.catalog import base_procedures

    for spec in base_procedures().values():
        for step in spec.steps:
            if model is step.form or model is step.decision:
                return step.name
    return None


def field_namer(model: type[BaseModel]) -> Callable[[tuple[Any, ...]], str]:
    """A field's path → its Chinese words, for the errors of `model`: a step's form by the
    step's vocabulary (app/config/vocabulary.py), anything else by the shared words."""
    step = _step_of(model)
    if step is None:
        return _common_label

    def name(loc: tuple[Any, ...]) -> str:
        from app.config.vocabulary import field_label

        if not loc or not isinstance(loc[0], str):
            return _FORM_ZH
        return field_label(step, loc[0], "zh")

    return name


# --- typed text and ID numbers: the same rule at intake, in the API and in hotline reports --


def typed_text(label_zh: str, *, multiline: bool = False, name: bool = False) -> Any:
    """A `BeforeValidator` function for a text a person typed (app/domain/text.py:clean_text):
    invisible characters stripped, surrounding spaces trimmed; a control character, or a
    name beginning like a formula, refused with the field's Chinese label in the message."""

    def clean(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the field's type says what is wrong
        try:
            return clean_text(value, multiline=multiline, name=name)
        except TextRefused as exc:
            code = ("control_character" if has_control(strip_invisible(value),
                                                       multiline=multiline) else "formula")
            raise refusal(code, f"The text {exc}.", f"{label_zh}{exc.reason_zh}。") from None

    return clean


def id_number_typed(value: Any) -> Any:
    """A `BeforeValidator`: an ID number as typed → as kept (a final lower-case x upper-cased)."""
    return normalize_id_number(value) if isinstance(value, str) else value


@cache
def _id_number_messages() -> dict[str, tuple[str, str]]:
    """The child_intake suite's words for each id_number code: a guardian's number is refused
    with the same text as the child's."""
    from expectations.runner import SUITES_DIR

    spec = json.loads((SUITES_DIR / "child_intake.json").read_text(encoding="utf-8"))
    return {e["meta"]["code"]: (e["meta"]["message"], e["meta"]["message_zh"])
            for e in spec["expectations"] if e["meta"]["field"] == "id_number"}


def checked_id_number(value: str | None) -> str | None:
    """An `AfterValidator`: the GB 11643-1999 check the child_intake suite makes of the child's
    number (18 characters, check digit, a real birth date inside), for another person's."""
    if value is None or is_valid_id_number(value):
        return value
    if not _ID_SHAPE.fullmatch(value):
        code = "id_number.format"
    elif check_digit(value[:17]) != value[17]:
        code = "id_number.check_digit"
    else:
        code = "id_number.birth_date_invalid"
    message, message_zh = _id_number_messages()[code]
    raise refusal(code.split(".", 1)[1], message, message_zh)


def check(model: type[BaseModel], data: Any, *, suite: str | None = None,
          suite_record: dict[str, Any] | None = None,
          suite_fields: dict[str, str] | None = None) -> BaseModel:
    """Validate `data` as `model`, after the suite has checked `suite_record` (default: data).

    `suite_fields` renames the suite's flat field names to the form's paths ("name" →
    "child.name"), so both checks speak of a field by the same name and each is reported once.
    Raises ValidationFailed with every problem found; nothing has been written when it does.
    """
    rename = suite_fields or {}
    errors: list[Any] = []
    if suite is not None:
        from expectations.runner import validate_record

        record = suite_record if suite_record is not None else data
        if not isinstance(record, dict):
            record = {}
        for e in validate_record(suite, record):
            errors.append(e.model_copy(update={"field": rename.get(e.field, e.field)}))
    if not isinstance(data, dict):
        from expectations.runner import FieldError

        raise ValidationFailed(errors or [FieldError(
            field="form", code="form.not_an_object", message="the form must be a JSON object",
            message_zh="表单必须是 JSON 对象")])
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        seen = {e.field for e in errors}
        errors += [e for e in _pydantic_errors(exc, label=field_namer(model))
                   if e.field not in seen]
        raise ValidationFailed(errors) from None
    if errors:
        raise ValidationFailed(errors)
    return parsed
