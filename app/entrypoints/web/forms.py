"""A step's HTML form, generated from its pydantic model's JSON schema, and the submitted
fields turned back into the JSON object the service layer checks (as the API receives it).

Enums are selects, lists of enums checkboxes, booleans a checkbox, dates date inputs, numbers
number inputs, long text a textarea, and an agency code (flows/forms.py AgencyCode) a select of
the agencies that fit the field (`agency_kind`). Nothing is validated here: the service does
it, so the page gives the same field-level messages as the API and the CLI.

A person reads words, never codes: `labelled` gives each input its label and help text and
each choice its words from the vocabulary (flows/words.py, app/config/vocabulary.py), in the page's
language; the values sent stay the codes, so `parse_form` builds the JSON the API receives.
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
    kind: str  # select|multi|checkbox|date|integer|number|textarea|text|agency
    required: bool
    options: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    default: Any = None
    agency_kind: str | None = None  # kind "agency": street|community|hospital|any


# The JSON schema pattern of an agency code (flows/forms.py AgencyCode): such a field is a
# select of agencies, never a text box.
AGENCY_PATTERN = r"^[a-z]+(:[a-z0-9-]+)?$"
# Which agencies an agency field offers, decided from the field's name (`agency_kind`): these
# names say it outright; otherwise `*_street` (or `street`) a street office, `*_community` (or
# `community`) a community workstation, a name with `hospital` in it a hospital, else any.
AGENCY_FIELDS: dict[str, str] = {"admitted_at": "hospital"}  # M1: the admitting hospital


def agency_kind(name: str) -> str:
    """Which agencies a field of type AgencyCode offers, from its name: "home_street" →
    "street", "community" → "community", "hospital_code" → "hospital", "referred_by" → "any"."""
    if name in AGENCY_FIELDS:
        return AGENCY_FIELDS[name]
    if name == "street" or name.endswith("_street"):
        return "street"
    if name == "community" or name.endswith("_community"):
        return "community"
    if "hospital" in name:
        return "hospital"
    return "any"


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
    elif first.get("pattern") == AGENCY_PATTERN:
        f.kind, f.agency_kind = "agency", agency_kind(name)
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


# --- what a person reads: labels, help text, choices in words --------------------------------


@dataclass
class Choice:
    """One choice of a select or a row of checkboxes: the code sent, the words shown."""

    value: str
    label: str


@dataclass
class Input:
    """A form field as the page shows it, in one language."""

    field: FormField
    label: str
    help: str = ""
    choices: list[Choice] = field(default_factory=list)  # select, multi
    groups: list[tuple[str, list[Choice]]] = field(default_factory=list)  # agency: optgroups

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def kind(self) -> str:
        return self.field.kind


# The groups of the "any agency" select, by the reference data's level of an agency.
AGENCY_GROUPS = (("municipal", ("office", "municipal", "institution")), ("hospital", ("hospital",)),
                 ("district", ("district",)), ("street", ("street",)),
                 ("community", ("community",)))


def agency_groups(kind: str, lang: str, t: Any) -> list[tuple[str, list[Choice]]]:
    """The agencies an agency field offers, grouped: street offices or community workstations
    by district, hospitals, or every agency by level (`t` names the levels)."""
    from app.config.vocabulary import district_name
    from app.domain.agencies import reference_agencies

    rows = reference_agencies()

    def name(a: Any) -> str:
        return str(a.name_en if lang == "en" else a.name_zh)

    if kind in ("street", "community"):
        districts = dict.fromkeys(a.district for a in rows if a.level == kind)
        return [(district_name(d, lang), [Choice(a.code, name(a)) for a in rows
                                          if a.level == kind and a.district == d])
                for d in districts]
    if kind == "hospital":
        return [(t("agency.level.hospital"),
                 [Choice(a.code, name(a)) for a in rows if a.level == "hospital"])]
    groups = []
    for group, levels in AGENCY_GROUPS:
        choices = [Choice(a.code, name(a) if a.level not in ("street", "community")
                          else f"{name(a)}（{district_name(a.district, lang)}）"
                          if lang != "en" else f"{name(a)} ({district_name(a.district, lang)})")
                   for a in rows if a.level in levels]
        if choices:
            groups.append((t(f"agency.level.{group}"), choices))
    return groups


def labelled(fields: list[FormField], step: str, lang: str, t: Any) -> list[Input]:
    """The step's inputs with their words in `lang`: a label and help text from the step's
    vocabulary, each choice's words, the agencies that fit an agency field."""
    from app.config.vocabulary import field_words, option_label

    out = []
    for f in fields:
        words = field_words(step, f.name)
        item = Input(field=f, label=words.in_(lang) if words else f.name,
                     help=words.help_in(lang) if words else "")
        if f.kind in ("select", "multi"):
            item.choices = [Choice(o, option_label(step, o, lang)) for o in f.options]
        elif f.kind == "agency":
            item.groups = agency_groups(f.agency_kind or "any", lang, t)
        out.append(item)
    return out


def problem_list(problems: list[dict[str, Any]], inputs: list[Input], lang: str,
                 t: Any) -> list[dict[str, Any]]:
    """A refusal's messages in the page's language, each with the input it belongs to
    (`name`: "needs.0" is the input "needs"; None: the form as a whole) and its label."""
    labels = {i.name: i.label for i in inputs}
    out = []
    for p in problems:
        name = str(p["field"]).split(".", 1)[0]
        known = name in labels
        out.append({"field": p["field"], "name": name if known else None,
                    "label": labels[name] if known else t("task.form_problem"),
                    "message": p["message"] if lang == "en" else p["message_zh"]})
    return out
