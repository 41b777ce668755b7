"""A form's JSON schema as its gate checks it (app/adapters/validation.py): what the API's
document gives for a request body, and a task's `form_schema`.

pydantic's schema of a form says its types, choices and lengths. The gate asks more, and this
adds it, so a client built from the document sends what the server takes:

- a `typed_text` field (a name, an address, a description): no invisible or control
  character, surrounding spaces trimmed before the length counts, a name not beginning like a
  formula, all in one `pattern` (validation.text_pattern);
- any other free text of a form: no invisible character, no control character but line
  breaks and tabs (validation.text_problems);
- an amount (Decimal) is a JSON number, not a string: the API takes JSON's types only
  (validation.type_problems);
- the form's suite (expectations/): the fields it requires, the choices, patterns, lengths and
  ranges it checks (expectations/described.py), and in the form's description the checks
  across fields JSON Schema cannot state, each with its code.

`describe` edits a schema in place, given a way to follow its `$ref`s: pydantic's own
definitions for `form_schema`, the document's components for the API (see
app/entrypoints/api/schemas.py, `Documented`).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from app.adapters.validation import (
    blank_pattern,
    form_text_pattern,
    text_pattern,
    typed_text_rule,
)

Resolve = Callable[[dict[str, Any]], dict[str, Any]]
CROSS_TITLE = "Checked across fields (a refusal is a 422 naming the field and the code):"


def _nested(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, alone, in a list or optional (ChildIn, list[GuardianIn])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _nested(arg)
            if found is not None:
                return found
    return None


def _free_text(branch: dict[str, Any]) -> bool:
    """A string branch that says nothing of its content: no pattern, choice or format."""
    return (branch.get("type") == "string"
            and not {"pattern", "enum", "const", "format"} & set(branch))


def _branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return prop["anyOf"] if "anyOf" in prop else [prop]


def _model_nodes(prop: dict[str, Any], resolve: Resolve) -> list[dict[str, Any]]:
    """The schemas of the model(s) a property holds: itself, in a list, or optional."""
    out = []
    for branch in _branches(prop):
        node = branch.get("items", branch) if branch.get("type") == "array" else branch
        node = resolve(node)
        if node.get("type") == "object" and "properties" in node:
            out.append(node)
    return out


def describe(node: dict[str, Any], model: type[BaseModel], *, resolve: Resolve,
             suite: str | None = None) -> None:
    """Make `node`, pydantic's schema of `model`, say what the gate checks (this module's
    docstring). Nested models are described too. Idempotent: it sets, never appends."""
    from expectations.described import suite_rules

    rules = suite_rules(suite) if suite else None
    required: list[str] = list(node.get("required", []))
    lines: list[str] = []  # the checks the schema cannot say, for the description
    for name, prop in node.get("properties", {}).items():
        info = model.model_fields[name]
        inner = _nested(info.annotation)
        if inner is not None:
            for inner_node in _model_nodes(prop, resolve):
                describe(inner_node, inner, resolve=resolve)
            continue
        rule = rules.fields.get(name) if rules else None
        unsaid = _describe_field(prop, typed_text_rule(info.metadata), rule,
                                 _decimal_limits([info.annotation, *info.metadata]))
        lines += [f"- `{name}` {code}: {message}" for code, message in unsaid]
        if rule is not None and rule.required and name not in required:
            required.append(name)
    if required:
        node["required"] = required
    lines += [f"- `{c.field}` {c.code}: {c.message}" for c in rules.cross] if rules else []
    if lines:
        text = inspect.cleandoc(model.__doc__ or "")
        node["description"] = "\n\n".join(
            part for part in (text, CROSS_TITLE + "\n" + "\n".join(lines)) if part)


def _decimal_limits(found: list[Any]) -> tuple[int | None, int | None]:
    """A Decimal field's max_digits and decimal_places, wherever pydantic keeps them (the
    field's metadata, or an Annotated type inside an Optional)."""
    digits = places = None
    todo = list(found)
    while todo:
        item = todo.pop()
        digits = getattr(item, "max_digits", None) or digits
        places = getattr(item, "decimal_places", None) if places is None else places
        todo += list(getattr(item, "metadata", []) or [])
        todo += [a for a in typing.get_args(item) if not isinstance(a, str | int | float)]
    return digits, places


def _describe_field(prop: dict[str, Any], typed: Any, rule: Any,
                    decimal: tuple[int | None, int | None] = (None, None)
                    ) -> list[tuple[str, str]]:
    """Describe one field (this module's docstring); the suite's checks of it the schema
    could not take, as (code, message)."""
    branches = _branches(prop)
    # An amount is a JSON number: pydantic's Decimal also reads a string, the API does not;
    # its digits are a multiple of 0.01 below 10^10 (max_digits 12, decimal_places 2).
    if any(b.get("type") == "number" for b in branches):
        branches[:] = [b for b in branches if not _free_text(b)]
        digits, places = decimal
        for branch in (b for b in branches if b.get("type") == "number"):
            if places is not None:
                branch["multipleOf"] = float(f"1e-{places}") if places else 1
            if digits is not None:
                top = 10 ** (digits - (places or 0))
                branch.setdefault("exclusiveMaximum", top)
                if "minimum" not in branch and "exclusiveMinimum" not in branch:
                    branch["exclusiveMinimum"] = -top
    free = [b for b in branches if _free_text(b)]
    for branch in free:
        if typed is not None:
            low, high = branch.pop("minLength", 0), branch.pop("maxLength", 10_000)
            branch["pattern"] = text_pattern(low, high, multiline=typed.multiline,
                                             name=typed.name)
        else:
            branch["pattern"] = form_text_pattern()
    unsaid = _merge_suite(prop, branches, free, rule) if rule is not None else []
    if "anyOf" in prop and len(prop["anyOf"]) == 1:
        prop.update(prop.pop("anyOf")[0])
    return unsaid


_KIND_TYPES = {"text": {"string"}, "choice": {"string"}, "number": {"number", "integer"},
               "bool": {"boolean"}, "date": set()}


def _closed(pattern: str) -> bool:
    """A pattern that says every character (anchored at both ends, no `.`, `\\S` or negated
    class): it keeps out what the free-text pattern keeps out."""
    return (pattern.startswith("^") and pattern.endswith("$")
            and not any(t in pattern for t in (".", "\\S", "\\W", "\\D", "[^")))


def _merge_suite(prop: dict[str, Any], branches: list[dict[str, Any]],
                 free: list[dict[str, Any]], rule: Any) -> list[tuple[str, str]]:
    """The suite's words for one field, on the branches of its kind (expectations/described);
    a pattern that cannot stand for the model's own (another pattern, or one that does not
    say every character) is left to the description: returned as (code, message)."""
    unsaid: list[tuple[str, str]] = []
    if rule.required:
        branches[:] = [b for b in branches if b.get("type") != "null"]
        prop.pop("default", None)
    words = dict(rule.keywords)
    targets = [b for b in branches if b.get("type") in _KIND_TYPES[rule.kind]
               and b.get("format") != "date"]
    if words.get("minLength") == 0:
        del words["minLength"]  # says nothing
    # A blank text is not "given": the suite lets it through, and so does a free-text model.
    excludes_blank = bool({"pattern", "enum"} & set(words)) or bool(
        words.get("minLength"))
    blank_too = rule.kind in ("text", "choice") and rule.blank_ok and bool(free) and (
        excludes_blank)
    model_max = next((b.get("maxLength") for b in free if "maxLength" in b), None)
    for branch in targets:
        if "enum" in words:
            branch["enum"] = [v for v in branch.get("enum", words["enum"]) if v in words["enum"]]
        if "pattern" in words:
            own = branch.get("pattern")
            if own == words["pattern"]:
                pass
            elif (own is None or branch in free) and _closed(words["pattern"]):
                branch["pattern"] = words["pattern"]  # the suite's: stricter than free text
            elif rule.sources["pattern"] not in unsaid:
                unsaid.append(rule.sources["pattern"])
        for key, pick in (("minLength", max), ("maxLength", min), ("minimum", max),
                          ("maximum", min), ("exclusiveMinimum", max),
                          ("exclusiveMaximum", min)):
            if key in words:
                branch[key] = pick(branch[key], words[key]) if key in branch else words[key]
        if rule.required and branch in free and "pattern" not in words:
            branch["pattern"] = form_text_pattern(required=True)
    if blank_too:
        blank = {"type": "string", "pattern": blank_pattern()}
        if model_max is not None:
            blank["maxLength"] = model_max
        branches.append(blank)
        if "anyOf" not in prop:
            only = {k: prop.pop(k) for k in list(prop) if k not in ("title", "description",
                                                                     "default")}
            prop["anyOf"] = [only, blank]
            branches[:] = prop["anyOf"]
    return unsaid


def form_schema(model: type[BaseModel], *, suite: str | None = None) -> dict[str, Any]:
    """The form's JSON schema as its gate checks it, self-contained (its `$defs`)."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    describe(schema, model, resolve=resolve, suite=suite)
    return schema
