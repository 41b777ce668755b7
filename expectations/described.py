"""What a suite asks of each field, in JSON Schema's words, for the API's document.

The runner (runner.py) judges a record; this module says beforehand what it will judge, as far
as JSON Schema can say it: a field the suite requires, the values a choice takes, a text's
pattern and length, a number's range. A check across fields (a derived column: a birth date
not after the intake date, an ID number's check digit, an amount within another) has no such
words: it is listed with its code and message, for the document's prose.

The words keep the runner's reading of a record (its step 1, and plain.py): a field is *given*
when it is present, not null and, for a text, not blank (`str.strip()` leaves something); its
other checks judge a given value of the field's kind only. So a blank text the suite does not
require passes every check, and the caller's schema must let it through (`FieldRule.blank_ok`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from expectations.runner import _specs

__all__ = ["CrossRule", "FieldRule", "SuiteRules", "suite_rules"]


@dataclass(frozen=True)
class FieldRule:
    """What the suite asks of one field."""

    kind: str  # the suite's kind: text, choice, date, number or bool
    required: bool = False  # it must be given (present, not null, not blank)
    # JSON Schema keywords a given value must meet: enum, pattern, minLength, maxLength,
    # minimum, maximum, exclusiveMinimum, exclusiveMaximum
    keywords: dict[str, Any] = field(default_factory=dict)
    # the expectation each keyword comes from: its code and message
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def blank_ok(self) -> bool:
        """Whether a blank text passes the suite (it is not required: nothing else is asked)."""
        return not self.required


@dataclass(frozen=True)
class CrossRule:
    """A check JSON Schema cannot state (a derived column): what it refuses, in words."""

    field: str
    code: str
    message: str
    message_zh: str


@dataclass(frozen=True)
class SuiteRules:
    fields: dict[str, FieldRule]
    cross: list[CrossRule]


def _pattern(regex: str) -> str:
    """A suite's Python regex (run with re.search, anchored with ^ and \\Z) in ECMA 262's
    words: \\Z, the end of the text, is `$` there (without the multiline flag)."""
    return regex.replace("\\Z", "$")


def _bounds(kwargs: dict[str, Any], *, length: bool) -> dict[str, Any]:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    strict_low, strict_high = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))
    out: dict[str, Any] = {}
    if length:  # lengths are whole numbers: a strict bound is the next one in
        if low is not None:
            out["minLength"] = int(low) + (1 if strict_low else 0)
        if high is not None:
            out["maxLength"] = int(high) - (1 if strict_high else 0)
        return out
    if low is not None:
        out["exclusiveMinimum" if strict_low else "minimum"] = low
    if high is not None:
        out["exclusiveMaximum" if strict_high else "maximum"] = high
    return out


@functools.cache
def suite_rules(suite: str) -> SuiteRules:
    """The suite's checks, field by field, in JSON Schema's words; the cross-field ones
    apart. Raises ValueError for a suite the runner does not know."""
    specs = _specs()
    if suite not in specs:
        raise ValueError(f"unknown suite {suite!r}")
    spec = specs[suite]
    kinds: dict[str, str] = spec["meta"]["fields"]
    required: set[str] = set()
    keywords: dict[str, dict[str, Any]] = {name: {} for name in kinds}
    sources: dict[str, dict[str, tuple[str, str]]] = {name: {} for name in kinds}
    cross: list[CrossRule] = []
    for expectation in spec["expectations"]:
        kind, kwargs, meta = expectation["type"], expectation["kwargs"], expectation["meta"]
        column = kwargs["column"]
        name = next((n for n in kinds if column in (n, f"{n}_given", f"{n}_is_{kinds[n]}")),
                    None)
        if name is None or (column != name and kind != "expect_column_values_to_be_in_set"):
            cross.append(CrossRule(meta["field"], meta["code"], meta["message"],
                                   meta["message_zh"]))
            continue
        if column == f"{name}_given":
            if True in kwargs["value_set"] and False not in kwargs["value_set"]:
                required.add(name)
            continue
        if column != name:
            continue  # <field>_is_<kind>: the field's JSON type says it
        words, before = keywords[name], set(keywords[name])
        if kind == "expect_column_values_to_be_in_set":
            allowed = list(kwargs["value_set"])
            words["enum"] = [v for v in words.get("enum", allowed) if v in allowed]
        elif kind == "expect_column_values_to_match_regex" and "pattern" not in words:
            words["pattern"] = _pattern(kwargs["regex"])
        elif kind == "expect_column_value_lengths_to_be_between":
            words.update(_bounds(kwargs, length=True))
        elif kind == "expect_column_values_to_be_between" and kinds[name] == "number":
            words.update(_bounds(kwargs, length=False))
        else:  # a second pattern, a range of dates: JSON Schema's words do not reach
            cross.append(CrossRule(meta["field"], meta["code"], meta["message"],
                                   meta["message_zh"]))
            continue
        for key in set(words) - before or set(words):
            sources[name][key] = (meta["code"], meta["message"])
    fields = {name: FieldRule(kind=kinds[name], required=name in required,
                              keywords=keywords[name], sources=sources[name])
              for name in kinds}
    return SuiteRules(fields=fields, cross=cross)
