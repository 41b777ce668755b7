"""The suites evaluated in plain Python, for a short command that cannot wait for Great
Expectations to import (about 4 s of CPU here, more than the whole command may take).

Only step 3 of expectations/runner.py is done differently: the typed and derived columns are
the runner's, built by the same code, and the errors are the runner's too (`_errors`, from the
suite file's meta). What this module does is decide, for each expectation of the suite, which
rows fail it, exactly as Great Expectations' pandas engine decides for the four kinds of
expectation the suites use (GE 1.24, expectations/metrics/column_map_metrics):

- a null value (None, NaN) is never a failure: GE drops null rows before a column-map check;
- expect_column_values_to_be_in_set: `column.isin(value_set)`, Python's `in`;
- expect_column_values_to_be_between: `min <= value <= max`, each bound optional and
  `strict_min` / `strict_max` making it `<`;
- expect_column_value_lengths_to_be_between: the same on `len(str(value))`;
- expect_column_values_to_match_regex: `column.astype(str).str.contains(regex)`, that is
  `re.search` on `str(value)`.

A suite with any other kind of expectation, or another keyword, is not evaluated here
(`supports` is False) and goes to GE. tests/test_expectations_plain.py holds the two to the
same answer on every suite, record by record.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

_Check = Callable[[Any], bool]
_BOUNDS = {"min_value", "max_value", "strict_min", "strict_max"}
_KWARGS = {
    "expect_column_values_to_be_in_set": {"value_set"},
    "expect_column_values_to_be_between": _BOUNDS,
    "expect_column_value_lengths_to_be_between": _BOUNDS,
    "expect_column_values_to_match_regex": {"regex"},
}


def supports(spec: dict[str, Any]) -> bool:
    """Whether every expectation of the suite file `spec` is one this module evaluates."""
    for expectation in spec["expectations"]:
        allowed = _KWARGS.get(expectation["type"])
        kwargs = set(expectation["kwargs"]) - {"column"}
        if allowed is None or not kwargs <= allowed or "column" not in expectation["kwargs"]:
            return False
    return True


def failing(spec: dict[str, Any], columns: dict[str, list[Any]], count: int
            ) -> dict[str, list[int]]:
    """Each failed expectation's meta code → the positions of the rows that fail it.

    Raises:
        RuntimeError: an expectation names a column the suite does not build, or its bounds
            cannot be compared with a value (as GE would fail to compute its metric).
    """
    out: dict[str, list[int]] = {}
    for expectation in spec["expectations"]:
        kwargs = expectation["kwargs"]
        code = expectation["meta"]["code"]
        values = columns.get(kwargs["column"])
        if values is None or len(values) != count:
            raise RuntimeError(f"expectation {code!r}: no column {kwargs['column']!r}")
        ok = _check(expectation["type"], _frozen(kwargs))
        try:
            rows = [row for row, value in enumerate(values) if not _null(value) and not ok(value)]
        except TypeError:  # never the value in the message: it is a submitted one
            raise RuntimeError(f"expectation {code!r} could not be evaluated") from None
        if rows:
            out[code] = rows
    return out


def _null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _frozen(kwargs: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The keywords as a cache key (a value set becomes a tuple)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in kwargs.items() if k != "column"))


@functools.cache
def _check(kind: str, kwargs: tuple[tuple[str, Any], ...]) -> _Check:
    """The test a non-null value must pass, built once per expectation."""
    args = dict(kwargs)
    if kind == "expect_column_values_to_be_in_set":
        allowed = args["value_set"]
        members = frozenset(allowed)
        return lambda value: value in members
    if kind == "expect_column_values_to_match_regex":
        pattern = re.compile(args["regex"])
        return lambda value: pattern.search(str(value)) is not None
    between = _between(args.get("min_value"), args.get("max_value"),
                       bool(args.get("strict_min")), bool(args.get("strict_max")))
    if kind == "expect_column_value_lengths_to_be_between":
        return lambda value: between(len(str(value)))
    return between


def _between(low: Any, high: Any, strict_low: bool, strict_high: bool) -> _Check:
    if low is None and high is None:
        raise RuntimeError("a range check needs min_value or max_value")

    def check(value: Any) -> bool:
        if isinstance(value, str) != isinstance(low if low is not None else high, str):
            raise TypeError("the value and the bounds are not of one kind")
        above = low is None or (value > low if strict_low else value >= low)
        below = high is None or (value < high if strict_high else value <= high)
        return bool(above and below)

    return check
