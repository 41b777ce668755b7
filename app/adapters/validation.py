"""One gate for every entry point: the record's suite, then its typed model; field-level errors."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from app.domain.errors import ValidationFailed, refusal
from app.domain.idcard import check_digit, is_valid_id_number, normalize_id_number
from app.domain.text import (
    INVISIBLE,
    TextRefused,
    clean_text,
    has_control,
    strip_invisible,
)

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

# What a typed text may not hold, whatever the field: an invisible format character (a zero-width
# space or joiner, the BOM, a direction mark, embedding, override or isolate; app/domain/text.py
# INVISIBLE). Pasted into a name it changes what a reader sees ("\u202e" shows the rest of a
# name backwards) without being seen itself, so the text is refused and the person types it
# again; a screening list's cells, which nobody retypes, lose them instead (docs/screening.md).
INVISIBLE_EN = ("The text holds an invisible formatting character (a zero-width or "
                "text-direction character); type it again without it.")
INVISIBLE_ZH = "{label}含有不可见的格式字符（零宽字符或文字方向控制符），请删除后重新输入。"
CONTROL_EN = "The text contains a control character."
CONTROL_ZH = "{label}含有控制字符。"
# The control characters a step form's free text may hold: line breaks and tabs.
_FORM_TEXT_CONTROLS = frozenset("\t\n\r")


def has_invisible(text: str) -> bool:
    """Whether the text holds one of the invisible format characters (INVISIBLE)."""
    return any(ch in INVISIBLE for ch in text)


def typed_text(label_zh: str, *, multiline: bool = False, name: bool = False) -> Any:
    """A `BeforeValidator` function for a text a person typed (app/domain/text.py:clean_text):
    surrounding spaces trimmed; an invisible format character, a control character, or a name
    beginning like a formula, refused with the field's Chinese label in the message. The
    function keeps its rule (`multiline`, `name`) for the API's document
    (`typed_text_rule`, `text_pattern`)."""

    def clean(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the field's type says what is wrong
        if has_invisible(value):
            raise refusal("invisible_character", INVISIBLE_EN,
                          INVISIBLE_ZH.format(label=label_zh))
        try:
            return clean_text(value, multiline=multiline, name=name)
        except TextRefused as exc:
            code = ("control_character" if has_control(strip_invisible(value),
                                                       multiline=multiline) else "formula")
            raise refusal(code, f"The text {exc}.", f"{label_zh}{exc.reason_zh}。") from None

    clean.typed_text = TypedText(multiline=multiline, name=name)  # type: ignore[attr-defined]
    return clean


@dataclass(frozen=True)
class TypedText:
    """The rule of a `typed_text` field, for its JSON schema."""

    multiline: bool
    name: bool


def typed_text_rule(metadata: list[Any]) -> TypedText | None:
    """The `typed_text` rule among a pydantic field's metadata (its BeforeValidator), if any."""
    for item in metadata:
        rule = getattr(getattr(item, "func", None), "typed_text", None)
        if isinstance(rule, TypedText):
            return rule
    return None


def text_problems(data: Any, label: Callable[[tuple[Any, ...]], str],
                  path: tuple[Any, ...] = ()) -> list[Any]:
    """Every text in a form (at any depth) that holds an invisible format character or a
    control character other than a line break or a tab: a step form's free text (notes,
    a school's name…) is held to what `typed_text` asks of a name or an address."""
    from expectations.runner import FieldError

    out = []
    if isinstance(data, str):
        leaf = str(path[-1]) if path and isinstance(path[-1], str) else "text"
        field = ".".join(str(p) for p in path) or "form"
        if has_invisible(data):
            out.append(FieldError(field=field, code=f"{leaf}.invisible_character",
                                  message=INVISIBLE_EN,
                                  message_zh=INVISIBLE_ZH.format(label=f"“{label(path)}”")))
        elif any(unicodedata.category(ch) == "Cc" and ch not in _FORM_TEXT_CONTROLS
                 for ch in data):
            out.append(FieldError(field=field, code=f"{leaf}.control_character",
                                  message=CONTROL_EN,
                                  message_zh=CONTROL_ZH.format(label=f"“{label(path)}”")))
    elif isinstance(data, dict):
        for key, value in data.items():
            out += text_problems(value, label, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += text_problems(value, label, (*path, i))
    return out


# --- the same rules as JSON Schema patterns, for the API's document --------------------------
#
# ECMA 262 (OpenAPI's dialect) and Python read these patterns alike: character classes of
# \uXXXX escapes, groups, alternation and bounded repeats, nothing else. Each is built from the
# predicates the checks above use, so the document and the gate cannot drift apart.


def _char_class(chars: set[str]) -> str:
    """The characters as the body of a [...] class: printable ASCII as itself, anything else
    as a \\uXXXX escape, runs as ranges."""

    def one(point: int) -> str:
        ch = chr(point)
        if 0x21 <= point <= 0x7e:
            return "\\" + ch if ch in "\\]^-[" else ch
        return f"\\u{point:04x}"

    points, out = sorted(ord(c) for c in chars), []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        first, last = points[i], points[j]
        out.append(one(first) if first == last else
                   f"{one(first)}-{one(last)}" if last > first + 1 else one(first) + one(last))
        i = j + 1
    return "".join(out)


@cache
def _char_sets() -> dict[str, frozenset[str]]:
    bmp = [chr(i) for i in range(0x10000)]  # every whitespace and control character is here
    return {"invisible": frozenset(INVISIBLE),
            "control": frozenset(c for c in bmp if unicodedata.category(c) == "Cc"),
            "space": frozenset(c for c in bmp if c.isspace()),  # what str.strip() takes off
            "formula": frozenset("=+-@")}


def text_pattern(min_len: int, max_len: int, *, multiline: bool = False,
                 name: bool = False) -> str:
    """The pattern of a `typed_text` field whose kept text (surrounding spaces trimmed) is
    `min_len` to `max_len` characters long: no invisible character, no control character
    (but line breaks and tabs in a `multiline` text, CR LF counting as one), a name not
    beginning like a formula. The lengths are those of the kept text, so they are in the
    pattern: `maxLength` would count the spaces the server trims."""
    sets = _char_sets()
    kept_controls = frozenset("\t\n") if multiline else frozenset()
    refused = sets["invisible"] | (sets["control"] - kept_controls)
    spaces = (sets["space"] - sets["control"]) | kept_controls
    cr_lf = "|\\r\\n" if multiline else ""
    space = f"(?:[{_char_class(spaces)}]{cr_lf})"
    char = f"(?:[^{_char_class(refused)}]{cr_lf})"
    solid = f"[^{_char_class(refused | spaces)}]"
    first = f"[^{_char_class(refused | spaces | sets['formula'])}]" if name else solid
    kept = []
    if min_len <= 1 <= max_len:
        kept.append(first)
    if max_len >= 2:
        kept.append(f"{first}{char}{{{max(min_len - 2, 0)},{max_len - 2}}}{solid}")
    optional = "?" if min_len == 0 else ""
    return f"^{space}*(?:{'|'.join(kept)}){optional}{space}*$"


def form_text_pattern(*, required: bool = False) -> str:
    """The pattern of a step form's free text (text_problems): no invisible character, no
    control character but line breaks and tabs; `required`: not blank either (the suite's
    "given")."""
    sets = _char_sets()
    refused = _char_class(sets["invisible"] | (sets["control"] - _FORM_TEXT_CONTROLS))
    if not required:
        return f"^[^{refused}]*$"
    spaces = _char_class(sets["space"] - (sets["control"] - _FORM_TEXT_CONTROLS))
    return f"^[^{refused}]*[^{refused}{spaces}][^{refused}]*$"


def blank_pattern() -> str:
    """A blank text as a form's check sees it (nothing but spaces, line breaks and tabs)."""
    sets = _char_sets()
    return f"^[{_char_class(sets['space'] - (sets['control'] - _FORM_TEXT_CONTROLS))}]*$"


def or_blank(alternatives: str) -> str:
    """The pattern of a `typed_text` field whose suite checks `alternatives` (a regex of the
    text as sent) when it is given: those, or a blank text (spaces that are not control
    characters: the typed text refuses those)."""
    sets = _char_sets()
    return f"^(?:{alternatives}|[{_char_class(sets['space'] - sets['control'])}]*)$"


def id_number_pattern(*, optional: bool) -> str:
    """An ID number as typed: 17 digits and a check digit or X (x too: it is upper-cased),
    surrounding spaces allowed (they are trimmed); `optional`: a blank text too."""
    sets = _char_sets()
    space = f"[{_char_class(sets['space'] - (sets['control'] - _FORM_TEXT_CONTROLS))}]"
    return f"^{space}*(?:[0-9]{{17}}[0-9Xx]){'?' if optional else ''}{space}*$"


# --- a JSON body's types, as its document says them ------------------------------------------
#
# pydantic's models read JSON leniently: "yes" and 1 are a boolean, "5" is an integer, "0" and
# 0 are a date (1970-01-01), "1.5" is an amount. The API's document promises JSON's own types,
# and a date as YYYY-MM-DD, so the API holds a body to them (`type_problems`) beside its gate.

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TYPE_ERRORS = {"string": ("string_type", "Input should be a valid string"),
                "boolean": ("bool_type", "Input should be a valid boolean"),
                "integer": ("int_type", "Input should be a valid integer"),
                "number": ("float_type", "Input should be a valid number"),
                "array": ("list_type", "Input should be a valid list"),
                "object": ("model_type", "Input should be an object"),
                "date": ("date_parsing", "Input should be a valid date as YYYY-MM-DD")}


def is_iso_date(value: Any) -> bool:
    """Whether `value` is a date written YYYY-MM-DD (not "0", "20240101" or a week date)."""
    from datetime import date

    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def iso_date(label_zh: str) -> Callable[[Any], Any]:
    """A `BeforeValidator` function for a date parameter: only YYYY-MM-DD (pydantic alone
    reads "0" as 1970-01-01, a number of seconds, and "2026-01-01T00:00" as a date)."""

    def check_date(value: Any) -> Any:
        if not is_iso_date(value):
            raise refusal("date_parsing", "Input should be a valid date as YYYY-MM-DD.",
                          f"{label_zh}须为有效日期（年-月-日）。")
        return value

    return check_date


def _json_type_of(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    return isinstance(value, {"string": str, "array": list, "object": dict}[kind])


def type_problems(schema: dict[str, Any], data: Any,
                  label: Callable[[tuple[Any, ...]], str] = _common_label) -> list[Any]:
    """Where `data` does not have the JSON type its JSON `schema` gives (a string, a boolean,
    an integer, a number, an array, an object, a date as YYYY-MM-DD), one FieldError a field,
    as pydantic's strict mode would say it ("granted.bool_type"). Everything else (required
    fields, choices, lengths, patterns) is the gate's to judge, not this."""
    from expectations.runner import FieldError

    defs = schema.get("$defs", {})
    out: list[Any] = []

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        return node

    def problem(path: tuple[Any, ...], kind: str, english: str) -> None:
        field = ".".join(str(p) for p in path) or "form"
        out.append(FieldError(field=field, code=f"{field}.{kind}", message=english,
                              message_zh=message_zh(kind, label(path))))

    def walk(node: dict[str, Any], value: Any, path: tuple[Any, ...]) -> None:
        node = resolve(node)
        branches = [resolve(b) for b in node.get("anyOf", node.get("oneOf", []))] or [node]
        typed = [b for b in branches if "type" in b]
        if not typed:
            return  # an enum or const alone: the gate says which values
        match = next((b for b in typed if _json_type_of(value, b["type"])), None)
        if match is None:
            first = next((b for b in typed if b["type"] != "null"), typed[0])
            kind = "date" if first.get("format") == "date" else first["type"]
            code, english = _TYPE_ERRORS.get(kind, ("type", "Input has the wrong type"))
            problem(path, "date_type" if kind == "date" else code, english)
            return
        if match.get("format") == "date" and not is_iso_date(value):
            problem(path, *_TYPE_ERRORS["date"])
        elif match["type"] == "object" and isinstance(value, dict):
            for key, prop in match.get("properties", {}).items():
                if key in value:
                    walk(prop, value[key], (*path, key))
        elif match["type"] == "array" and isinstance(value, list) and "items" in match:
            for i, item in enumerate(value):
                walk(match["items"], item, (*path, i))

    walk(schema, data, ())
    return out


def body_problems(schema: dict[str, Any], data: Any,
                  label: Callable[[tuple[Any, ...]], str] = _common_label) -> list[Any]:
    """What the API refuses in a JSON body beside its gate: a text with an invisible or a
    control character (text_problems), a value of another JSON type than its schema's
    (type_problems)."""
    return text_problems(data, label) + type_problems(schema, data, label)


def refuse_with(problems: list[Any], gate: Callable[[], Any]) -> None:
    """Refuse a body for `problems` found beside its gate, together with what the gate itself
    finds (run now, writing nothing): the gate's word first, then a problem of a field it
    did not name. Nothing is refused when there are no problems."""
    if not problems:
        return
    errors: list[Any] = []
    try:
        gate()
    except ValidationFailed as exc:
        errors = list(exc.errors)
    seen = {e.field for e in errors}
    for p in problems:
        if p.field not in seen:
            seen.add(p.field)
            errors.append(p)
    raise ValidationFailed(errors)


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
    namer = field_namer(model)
    parsed = None
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        seen = {e.field for e in errors}
        errors += [e for e in _pydantic_errors(exc, label=namer) if e.field not in seen]
    # A free text's invisible or control characters (a typed text has said so itself).
    seen = {e.field for e in errors}
    errors += [e for e in text_problems(data, namer) if e.field not in seen]
    if errors or parsed is None:
        raise ValidationFailed(errors)
    return parsed
