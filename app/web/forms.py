"""A step's HTML form, generated from its pydantic model's JSON schema, and the submitted
fields turned back into the JSON object the service layer checks (as the API receives it).

Enums are selects, lists of enums checkboxes, booleans a checkbox, dates date inputs, numbers
number inputs, long text a textarea. Nothing is validated here: the service does it, so the
page gives the same field-level messages as the API and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

LONG_TEXT = 500  # a string field longer than this is a textarea


@dataclass
class FormField:
    """One input of a generated form."""

    name: str
    kind: str  # select|multi|checkbox|date|integer|number|textarea|text
    required: bool
    options: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    default: Any = None


def _variants(prop: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The non-null alternatives of a property, and whether null is one of them."""
    alts = prop.get("anyOf") or [prop]
    nullable = any(a.get("type") == "null" for a in alts)
    return [a for a in alts if a.get("type") != "null"], nullable


def _field(name: str, prop: dict[str, Any], required: bool) -> FormField:
    alts, _ = _variants(prop)
    options = [str(v) for a in alts for v in a.get("enum", [a["const"]] if "const" in a else [])]
    types = {a.get("type") for a in alts}
    first = alts[0] if alts else {}
    f = FormField(name=name, kind="text", required=required, default=prop.get("default"))
    if options and types <= {"string", "integer"}:
        f.kind, f.options = "select", options
    elif "array" in types:
        f.kind = "multi"
        f.options = [str(v) for v in first.get("items", {}).get("enum", [])]
    elif types == {"boolean"}:
        f.kind = "checkbox"
    elif first.get("format") == "date":
        f.kind = "date"
    elif "number" in types:
        f.kind = "number"
    elif "integer" in types:
        f.kind = "integer"
    elif (first.get("maxLength") or 0) > LONG_TEXT:
        f.kind = "textarea"
    num = next((a for a in alts if a.get("type") in ("number", "integer")), {})
    f.minimum = num.get("minimum", num.get("exclusiveMinimum"))
    f.maximum = num.get("maximum")
    f.max_length = first.get("maxLength")
    f.pattern = first.get("pattern")
    return f


def form_fields(model: type[BaseModel]) -> list[FormField]:
    """The inputs of a step's form, in the model's field order."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [_field(name, prop, name in required)
            for name, prop in schema.get("properties", {}).items()]


def _number(text: str, kind: str) -> Any:
    """A number as JSON would carry it; text that is not one goes on as text, for the
    service to refuse with its own message."""
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        return text


def parse_form(fields: list[FormField], data: Any) -> dict[str, Any]:
    """The submitted form (Starlette FormData) as the JSON object of the step's form.

    An empty optional input is left out (its default applies); an empty required one is sent
    as missing, so the service names it. An unchecked checkbox is false.
    """
    out: dict[str, Any] = {}
    for f in fields:
        if f.kind == "checkbox":
            out[f.name] = data.get(f.name) in ("on", "true", "1")
            continue
        if f.kind == "multi":
            values = [v for v in data.getlist(f.name) if isinstance(v, str)]
            if values or f.required:
                out[f.name] = values
            continue
        raw = data.get(f.name)
        text = raw.strip() if isinstance(raw, str) else ""
        if text == "":
            continue
        out[f.name] = _number(text, f.kind) if f.kind in ("integer", "number") else text
    return out


def submitted(fields: list[FormField], data: Any) -> dict[str, Any]:
    """What the person typed, to fill the form again after a refusal (never stored)."""
    values: dict[str, Any] = {}
    for f in fields:
        if f.kind == "multi":
            values[f.name] = list(data.getlist(f.name))
        elif f.kind == "checkbox":
            values[f.name] = data.get(f.name) in ("on", "true", "1")
        else:
            values[f.name] = data.get(f.name, "")
    return values
