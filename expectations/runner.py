"""Validate submitted form records against their Great Expectations suites (suites/<name>.json).

How records are checked (validate_record for one, validate_records for a batch; same rules):

1. Every field the suite declares (suite meta "fields": text, choice, date, number or bool) is
   type-checked in plain Python. Column <field> gets the typed value, or null when the field is
   missing, blank or of the wrong type; <field>_given says whether a non-blank value was sent and
   <field>_is_<kind> whether it had the right type (null when not given). A choice field keeps any
   string as is; another type becomes a value outside every set. Keys the suite does not declare
   are dropped. Columns are built field by field over all the records at once.
2. The suite's derive function adds cross-field columns from those typed values with pure
   functions (app.domain.idcard), e.g. id_number_check_ok, age_at_intake, years_in_care. A derived
   column is null when its inputs are unusable, so one bad input is reported once, at its source.
3. Great Expectations validates the DataFrame (one row per record) in one pass over the suite.
   Each failed expectation becomes a FieldError built from that expectation's meta; at most one
   error is reported per field and record, the first failure in suite order, which is why a
   field's checks go from basic to specific. A short command (`protect case open`, `protect
   intake`: inside `without_great_expectations`) has expectations/plain.py decide the same
   failures in plain Python instead, from the same columns, since GE's import alone costs it
   more than the whole command; tests/unit/test_expectations_plain.py holds the two to one
   answer.

How GE is run: what GE works out from the suite alone is worked out once per process and suite,
not on every validation. A GE Validator is built once over the pandas data source; for each
suite the expectations are turned into GE Expectation objects, GE lists the metrics each needs
(get_validation_dependencies) and GE's MetricsCalculator builds the metric graph. A validation
then loads the DataFrame into the validator's execution engine, resolves that graph (GE's pandas
metric providers compute every metric over the data) and hands each expectation its metrics
(Expectation._validate, the method every GE expectation implements to decide success). This is
what Validator.graph_validate does, minus rebuilding the same expectations, dependencies and graph
each time, which cost about 70 ms per one-record validation of child_intake (see
docs/BENCHMARKS.md, B3).

Privacy: submitted values never leave this module. Errors carry only the fixed meta text of the
suite. Results are requested as BOOLEAN_ONLY, so GE does not even collect unexpected values; for a
batch, "return_unexpected_index_query" adds only the failing rows' index labels (the DataFrame
has a RangeIndex, so labels are row positions). The data is unloaded from GE's engine after each
validation. An internal failure is raised without GE's message, which may quote data. Keep it
so: never put result details, exception text or a record into a FieldError, a log line or an
exception. (GE's COMPLETE format would list the failing values, and its unexpected_index_list
carries each failing row's value next to the index columns; do not use it.)

Cost: great_expectations takes seconds to import, so it is imported on first validation, not at
module import. The ephemeral context, the validator, the parsed suites and each suite's metric
graph are built once per process and reused; validations are serialised by a lock because GE's
objects are shared.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import numbers
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic

from app.domain.idcard import age_on, birth_date_from_id, check_digit
from app.domain.screening import category_codes, risk_codes
from expectations import plain

__all__ = ["FieldError", "suite_names", "validate_record", "validate_records",
           "without_great_expectations"]

SUITES_DIR = Path(__file__).with_name("suites")
META_KEYS = ("field", "code", "message", "message_zh")

# Any non-string sent for a choice field becomes this; it is in no value set.
_NOT_A_CHOICE = "\x00not-a-choice"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
# What GE 1.24's pandas engine returns for "return_unexpected_index_query": the failing rows'
# index labels. Anything else is refused rather than guessed at.
_INDEX_QUERY = re.compile(r"df\.filter\(items=\[([0-9, ]*)\], axis=0\)")

# The two ways a suite is run: one record, where only success matters, and a batch, where GE
# also says which rows failed.
_ONE = "BOOLEAN_ONLY"
_ROWS = {"result_format": "BOOLEAN_ONLY", "return_unexpected_index_query": True}


class FieldError(pydantic.BaseModel):
    """One problem with one form field, safe to show to the person who filled in the form."""

    field: str  # the form field the message is about
    code: str  # stable machine code, e.g. "id_number.check_digit"
    message: str  # English: what is wrong and what is expected, never the submitted value
    message_zh: str  # the same in Chinese


def suite_names() -> list[str]:
    """List the suites validate_record accepts.

    Returns:
        Suite names (file names in expectations/suites without ".json"), sorted.
    """
    return list(_specs())


def validate_record(suite: str, record: dict) -> list[FieldError]:
    """Check one submitted record against a suite.

    Args:
        suite: A name from suite_names(), e.g. "child_intake".
        record: Flat dict of JSON-style values as submitted; dates as "YYYY-MM-DD" strings.

    Returns:
        One FieldError per field that fails, in suite order; [] when the record is valid.

    Raises:
        ValueError: If the suite is unknown.
        TypeError: If record is not a dict.
        RuntimeError: If Great Expectations could not evaluate an expectation (a bug in a suite
            or in this module, never a property of the record).
    """
    _check_suite(suite)
    if not isinstance(record, dict):
        raise TypeError("record must be a dict")
    if _plain_for(suite):
        return _errors(suite, 1, plain.failing(_specs()[suite], _columns(suite, [record]), 1))[0]
    frame = _frame(suite, [record])
    gx_state = _gx_state()
    with _LOCK:
        results = _run(gx_state, _plan(gx_state, suite, _ONE), frame)
    failing = {code: [0] for code, result in results.items() if not result["success"]}
    return _errors(suite, 1, failing)[0]


def validate_records(suite: str, records: Sequence[dict]) -> list[list[FieldError]]:
    """Check a batch of submitted records against a suite in one Great Expectations validation.

    Each record is judged exactly as validate_record judges it, with the same codes.

    Args:
        suite: A name from suite_names(), e.g. "child_intake".
        records: Flat dicts of JSON-style values as submitted (a list or tuple).

    Returns:
        One list per record, in the order given: that record's FieldErrors (at most one per
        field, in suite order), [] for a valid record. [] for an empty batch.

    Raises:
        ValueError: If the suite is unknown.
        TypeError: If records is not a list or tuple, or one of them is not a dict (the message
            names its position only).
        RuntimeError: If Great Expectations could not evaluate an expectation.
    """
    _check_suite(suite)
    if not isinstance(records, list | tuple):
        raise TypeError("records must be a list of dicts")
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise TypeError(f"record at position {position} must be a dict")
    if not records:
        return []
    if _plain_for(suite):
        return _errors(suite, len(records), plain.failing(
            _specs()[suite], _columns(suite, records), len(records)))
    frame = _frame(suite, records)
    gx_state = _gx_state()
    with _LOCK:
        results = _run(gx_state, _plan(gx_state, suite, _ROWS), frame)
    failing = {
        code: _failing_rows(suite, code, result, len(records))
        for code, result in results.items()
        if not result["success"]
    }
    return _errors(suite, len(records), failing)


_WITHOUT_GE: ContextVar[bool] = ContextVar("expectations_without_ge", default=False)


@contextmanager
def without_great_expectations() -> Iterator[None]:
    """Inside this block, suites are evaluated by expectations/plain.py: the same suites, the
    same typed and derived columns and the same answers, without importing Great Expectations
    (or pandas). For a short command (`protect case open`, `protect intake`…), whose whole run
    costs less than GE's import; a long-running process keeps GE, imported once."""
    token = _WITHOUT_GE.set(True)
    try:
        yield
    finally:
        _WITHOUT_GE.reset(token)


def _plain_for(suite: str) -> bool:
    return _WITHOUT_GE.get() and plain.supports(_specs()[suite])


def _check_suite(suite: str) -> None:
    if suite not in _specs():
        raise ValueError(f"unknown suite {suite!r}; known suites: {', '.join(_specs())}")


def _errors(suite: str, count: int, failing: dict[str, list[int]]) -> list[list[FieldError]]:
    """Turn the failing rows of each expectation into each record's FieldErrors.

    Walks the suite file, not GE's results, whose order GE does not promise: a record gets an
    error for a field from the first expectation on that field it fails, and its errors are in
    the order of those expectations, as validate_record has always reported them.
    """
    errors: list[list[FieldError]] = [[] for _ in range(count)]
    if not failing:
        return errors
    reported: dict[str, set[int]] = {}
    for expectation in _specs()[suite]["expectations"]:
        meta = expectation["meta"]
        rows = failing.get(meta["code"])
        if not rows:
            continue
        done = reported.setdefault(meta["field"], set())
        error = FieldError(**{key: meta[key] for key in META_KEYS})
        for row in rows:
            if row not in done:
                done.add(row)
                errors[row].append(error.model_copy())
    return errors


def _failing_rows(suite: str, code: str, result: dict[str, Any], count: int) -> list[int]:
    """The positions of the rows that failed one expectation, read from GE's index query."""
    query = (result.get("result") or {}).get("unexpected_index_query")
    match = _INDEX_QUERY.fullmatch(query) if isinstance(query, str) else None
    # The query itself is never quoted: it is GE output about the data.
    if match is None:
        raise RuntimeError(f"suite {suite!r}: no failing rows from expectation {code!r}")
    rows = [int(label) for label in match.group(1).split(", ")] if match.group(1) else []
    if not rows or not all(0 <= row < count for row in rows):
        raise RuntimeError(f"suite {suite!r}: bad failing rows from expectation {code!r}")
    return rows


# --- Step 1: type-check the declared fields ---------------------------------------------------


def _is_given(raw: Any) -> bool:
    return raw is not None and not (isinstance(raw, str) and not raw.strip())


def _as_text(raw: Any) -> str | None:
    return raw if isinstance(raw, str) else None


def _as_date(raw: Any) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    # fromisoformat alone would also take "20240101" and week dates like "2024-W01-1".
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _as_number(raw: Any) -> float | None:
    # bool is an int subclass, and True would otherwise count as the amount 1.
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real | Decimal):
        return None
    try:
        number = float(raw)
    except OverflowError:  # an int too big for a float: keep it, the range checks refuse it
        number = math.inf if raw > 0 else -math.inf
    # GE counts NaN as null, so a NaN would skip every range check.
    return None if math.isnan(number) else number


def _as_bool(raw: Any) -> bool | None:
    return raw if isinstance(raw, bool) else None


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "text": _as_text,
    "date": _as_date,
    "number": _as_number,
    "bool": _as_bool,
}


def _parse_all(parse: Callable[[Any], Any], raws: list[Any], given: list[bool]) -> list[Any]:
    """Parse one field of every record; a string seen before reuses its result (dates repeat)."""
    seen: dict[str, Any] = {}
    values: list[Any] = []
    append = values.append
    for raw, is_given in zip(raws, given, strict=True):
        if not is_given:
            append(None)
        elif type(raw) is str:  # exactly str: 1, 1.0 and True would share one dict key
            value = seen.get(raw, seen)
            if value is seen:
                value = seen[raw] = parse(raw)
            append(value)
        else:
            append(parse(raw))
    return values


def _columns(suite: str, records: Sequence[dict]) -> dict[str, list[Any]]:
    """Build the typed and derived columns for some records, one list per column."""
    columns: dict[str, list[Any]] = {}
    for name, kind in _specs()[suite]["meta"]["fields"].items():
        raws = [record.get(name) for record in records]
        given = [_is_given(raw) for raw in raws]
        columns[f"{name}_given"] = given
        if kind == "choice":
            columns[name] = [
                (raw if isinstance(raw, str) else _NOT_A_CHOICE) if is_given else None
                for raw, is_given in zip(raws, given, strict=True)
            ]
            continue
        values = _parse_all(_PARSERS[kind], raws, given)
        columns[name] = values
        columns[f"{name}_is_{kind}"] = [
            (value is not None) if is_given else None
            for value, is_given in zip(values, given, strict=True)
        ]
    columns.update(_DERIVE.get(suite, _derive_nothing)(columns))
    return columns


def _frame(suite: str, records: Sequence[dict]) -> Any:
    """The records as a DataFrame for GE; its RangeIndex makes index labels row positions."""
    import pandas as pd

    return pd.DataFrame(_columns(suite, records))


# --- Step 2: per-suite derived columns (None means "cannot tell, not checked") -----------------


def _derive_nothing(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {}


def _derive_child_intake(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    births, intakes = columns["birth_date"], columns["intake_date"]
    both = [birth is not None and intake is not None
            for birth, intake in zip(births, intakes, strict=True)]
    return {
        **_id_number_columns(columns["id_number"], births),
        "birth_not_after_intake": [(birth <= intake) if ok else None
                                   for birth, intake, ok in zip(births, intakes, both,
                                                                strict=True)],
        "age_at_intake": [age_on(birth, intake) if ok else None
                          for birth, intake, ok in zip(births, intakes, both, strict=True)],
    }


def _derive_settlement_claim(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        "discharge_not_before_admission": [
            (discharge >= admission) if admission is not None and discharge is not None else None
            for admission, discharge in zip(
                columns["admission_date"], columns["discharge_date"], strict=True,
            )
        ],
        "insurance_within_total": [
            (insurance <= total) if insurance is not None and total is not None else None
            for total, insurance in zip(
                columns["amount_total"], columns["amount_insurance"], strict=True,
            )
        ],
        # Only when the procedure supplies the admitting hospital (its context check).
        "hospital_is_admitting": [
            (code == admitting) if code is not None and admitting is not None else None
            for code, admitting in zip(
                columns["hospital_code"], columns["admitting_hospital"], strict=True,
            )
        ],
    }


def _derive_hukou_application(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        "years_in_care": [
            age_on(placement, application)
            if placement is not None and application is not None else None
            for placement, application in zip(
                columns["placement_date"], columns["application_date"], strict=True,
            )
        ],
    }


def _derive_family_eligibility(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        # A congenitally disabled child is a disabled child (R6 enrols them in insurance).
        "congenital_implies_disabled": [
            (disabled or not congenital) if congenital is not None and disabled is not None
            else None
            for congenital, disabled in zip(
                columns["congenital_disability"], columns["disabled"], strict=True,
            )
        ],
    }


def _derive_assistance_grant(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    granted = columns["granted"]
    return {
        # Only a grant needs its date and a positive amount; a refusal needs neither.
        "granted_on_when_granted": [
            (day is not None) if ok is True else None
            for ok, day in zip(granted, columns["granted_on"], strict=True)
        ],
        "amount_when_granted": [
            (amount is not None and amount > 0) if ok is True else None
            for ok, amount in zip(granted, columns["amount"], strict=True)
        ],
    }


def _required_when(flags: list[Any], given: list[bool]) -> list[Any]:
    """True/False where a flag asks for a value (was it given?), None where it does not."""
    return [(was_given if flag else None) for flag, was_given in zip(flags, given, strict=True)]


def _derive_school_enrolment(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {"enrolled_on_when_attending": _required_when(
        [a is True for a in columns["attending"]], columns["enrolled_on_given"])}


def _derive_dropout_report(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        "last_attended_not_after_report": [
            (last <= reported) if last is not None and reported is not None else None
            for last, reported in zip(
                columns["last_attended_on"], columns["reported_on"], strict=True,
            )
        ],
    }


def _derive_return_effort(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {"returned_on_when_returned": _required_when(
        [o == "returned" for o in columns["outcome"]], columns["returned_on_given"])}


def _academic_year_consecutive(value: str | None) -> bool | None:
    if value is None or not re.fullmatch(r"20[0-9]{2}-20[0-9]{2}", value):
        return None  # the format check reports it
    first, second = value.split("-")
    return int(second) == int(first) + 1


def _derive_education_aid_application(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {"academic_year_consecutive": [
        _academic_year_consecutive(v) for v in columns["academic_year"]]}


def _not_after(earlier: list[Any], later: list[Any]) -> list[bool | None]:
    """earlier <= later, row by row; None where either is missing."""
    return [(a <= b) if a is not None and b is not None else None
            for a, b in zip(earlier, later, strict=True)]


_CENT = 0.005  # amounts are compared to the cent: float sums of two-decimal yuan are not exact


def _derive_sealed_record(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {"offence_before_sealing": _not_after(columns["offence_date"], columns["sealed_on"])}


def _derive_medical_assistance(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        "treatment_in_order": _not_after(columns["treatment_from"], columns["treatment_to"]),
        "insurance_within_costs": [
            (paid <= total + _CENT) if paid is not None and total is not None else None
            for total, paid in zip(columns["costs_total"], columns["insurance_paid"], strict=True)
        ],
        "request_within_out_of_pocket": [
            (asked <= total - paid + _CENT)
            if None not in (total, paid, asked) and paid <= total + _CENT else None
            for total, paid, asked in zip(columns["costs_total"], columns["insurance_paid"],
                                          columns["amount_requested"], strict=True)
        ],
    }


def _derive_assistance_approval(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    # Only when the procedure supplies the amount requested (M2's check after the approval).
    return {
        "approved_within_request": [
            (approved <= asked + _CENT) if approved is not None and asked is not None else None
            for approved, asked in zip(columns["amount_approved"], columns["amount_requested"],
                                       strict=True)
        ],
    }


def _derive_service_delivery(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        # A delivered service has a start date; one not delivered need not.
        "started_on_given_when_delivered": [
            (given or not delivered) if delivered is not None else None
            for delivered, given in zip(
                columns["delivered"], columns["started_on_given"], strict=True,
            )
        ],
        "ended_not_before_start": _not_before(columns["started_on"], columns["ended_on"]),
    }


def _derive_counselling_session(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        "first_on_given_when_held": [
            (given or held == 0) if held is not None else None
            for held, given in zip(
                columns["sessions_held"], columns["first_on_given"], strict=True,
            )
        ],
        "last_not_before_first": _not_before(columns["first_on"], columns["last_on"]),
    }


def _not_before(starts: list[Any], ends: list[Any]) -> list[bool | None]:
    """end >= start for each pair of dates; None when either is missing."""
    return [(end >= start) if start is not None and end is not None else None
            for start, end in zip(starts, ends, strict=True)]


def _id_number_columns(id_numbers: list[Any], births: list[Any]) -> dict[str, list[Any]]:
    """The check digit, the birth date inside the number, and whether it is the one entered."""
    check_oks, births_real, births_match = [], [], []
    for id_number, birth in zip(id_numbers, births, strict=True):
        shaped = id_number is not None and _ID_SHAPE.fullmatch(id_number) is not None
        check_ok = check_digit(id_number[:17]) == id_number[17] if shaped else None
        id_birth = birth_date_from_id(id_number) if check_ok else None
        check_oks.append(check_ok)
        births_real.append((id_birth is not None) if check_ok else None)
        births_match.append(
            (id_birth == birth) if id_birth is not None and birth is not None else None
        )
    return {"id_number_check_ok": check_oks, "id_birth_real": births_real,
            "id_birth_matches": births_match}


def _derive_screening_row(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    births, as_ofs = columns["birth_date"], columns["as_of"]
    return {
        **_id_number_columns(columns["id_number"], births),
        "birth_not_after_screening": _not_after(births, as_ofs),
        "age_at_screening": [
            age_on(birth, on) if birth is not None and on is not None else None
            for birth, on in zip(births, as_ofs, strict=True)
        ],
        # Each item of the list must be known; a blank cell is the required check's business.
        "categories_known": [
            bool(category_codes(text)) if text is not None else None
            for text in columns["categories"]
        ],
        "risks_known": [
            (risk_codes(text) is not None) if text is not None else None
            for text in columns["risks"]
        ],
        "guardian_details_have_a_name": [
            has_name if (relation or phone) else None
            for has_name, relation, phone in zip(
                columns["guardian_name_given"], columns["guardian_relation_given"],
                columns["guardian_phone_given"], strict=True,
            )
        ],
    }


_DERIVE: dict[str, Callable[[dict[str, list[Any]]], dict[str, list[Any]]]] = {
    "child_intake": _derive_child_intake,
    "settlement_claim": _derive_settlement_claim,
    "hukou_application": _derive_hukou_application,
    "family_eligibility": _derive_family_eligibility,
    "assistance_grant": _derive_assistance_grant,
    "school_enrolment": _derive_school_enrolment,
    "dropout_report": _derive_dropout_report,
    "return_effort": _derive_return_effort,
    "education_aid_application": _derive_education_aid_application,
    "sealed_record": _derive_sealed_record,
    "medical_assistance": _derive_medical_assistance,
    "assistance_approval": _derive_assistance_approval,
    "service_delivery": _derive_service_delivery,
    "counselling_session": _derive_counselling_session,
    "screening_row": _derive_screening_row,
}


# --- Step 3: Great Expectations, built once per process ----------------------------------------


@dataclass(frozen=True)
class _Plan:
    """One suite, made ready once for one result format: what GE works out from the suite alone."""

    suite: str
    codes: tuple[str, ...]  # each expectation's meta code, in suite order
    expectations: tuple[Any, ...]  # GE Expectation objects bound to the validator's batch id
    metric_ids: tuple[dict[str, Any], ...]  # per expectation: metric name -> id in the graph
    result_formats: tuple[Any, ...]  # per expectation, as GE parsed it
    graph: Any  # GE ValidationGraph of every metric the suite needs
    runtime_configuration: dict[str, Any]


@dataclass(frozen=True)
class _GxState:
    batch_definition: Any
    validator: Any  # GE Validator whose execution engine and batch id every validation uses
    empty: Any  # DataFrame loaded between validations, so no record stays in GE's engine
    suites: dict[str, Any]
    plans: dict[tuple[str, str], _Plan] = field(default_factory=dict)


_LOCK = threading.Lock()
_STATE: _GxState | None = None


@functools.cache
def _specs() -> dict[str, dict[str, Any]]:
    """The suite files as parsed JSON, by suite name; read once per process."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SUITES_DIR.glob("*.json"))
    }


def _gx_state() -> _GxState:
    global _STATE
    with _LOCK:
        if _STATE is None:
            _STATE = _build_gx_state()
        return _STATE


def _build_gx_state() -> _GxState:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from great_expectations.exceptions import DataContextRequiredError

    config = DataContextConfig(
        # The default ephemeral config also sets up a temporary data docs site we never build.
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    # get_context() makes its context the process-wide current one; give that back to whoever
    # had it. Our objects stay bound to our context, so they keep working.
    try:
        previous = project_manager.get_current_project()
    except DataContextRequiredError:
        previous = None
    context = gx.get_context(mode="ephemeral", project_config=config)
    if previous is not None:
        project_manager.set_project(previous)
    asset = context.data_sources.add_pandas("form_records").add_dataframe_asset("record")
    batch_definition = asset.add_batch_definition_whole_dataframe("one_record")
    empty = pd.DataFrame()
    validator = context.get_validator(
        batch_request=batch_definition.build_batch_request(batch_parameters={"dataframe": empty}),
    )

    suites = {}
    for name, spec in _specs().items():
        suite = gx.ExpectationSuite(**copy.deepcopy(spec))  # GE writes into the meta it gets
        # GE logs and drops an expectation it cannot build instead of raising.
        if len(suite.expectations) != len(spec["expectations"]):
            raise RuntimeError(f"suite {name!r} has expectations Great Expectations cannot build")
        codes = [expectation["meta"]["code"] for expectation in spec["expectations"]]
        if len(set(codes)) != len(codes):
            raise RuntimeError(f"suite {name!r} uses a code twice; results are matched by code")
        # Every record must pass every expectation; "mostly" would judge a batch as a whole.
        if any("mostly" in expectation["kwargs"] for expectation in spec["expectations"]):
            raise RuntimeError(f"suite {name!r} uses mostly; records are judged one by one")
        suites[name] = suite
    return _GxState(batch_definition=batch_definition, validator=validator, empty=empty,
                    suites=suites)


def _plan(gx_state: _GxState, suite: str, result_format: Any) -> _Plan:
    """The suite made ready for one result format; built on first use. Call it under _LOCK."""
    key = (suite, json.dumps(result_format, sort_keys=True))
    if key not in gx_state.plans:
        gx_state.plans[key] = _build_plan(gx_state, suite, result_format)
    return gx_state.plans[key]


def _build_plan(gx_state: _GxState, suite: str, result_format: Any) -> _Plan:
    """Do once what Validator.graph_validate redoes on every call (GE 1.24, validator.py).

    GE's own steps, in its order: process the configurations (suite parameters), bind each to
    the batch id, build the Expectation, ask it for its metrics, and build the metric graph of
    the whole suite from each expectation's subgraph.
    """
    from great_expectations.validator.validation_graph import ValidationGraph

    validator = gx_state.validator
    engine = validator.execution_engine
    # catch_exceptions off: a failing metric raises (and _run hides its message) instead of
    # being logged with GE's message, which may quote data.
    runtime_configuration = {"result_format": result_format, "catch_exceptions": False}
    configurations = validator.process_expectations_for_validation(
        gx_state.suites[suite].expectation_configurations,
    )
    codes, expectations, metric_ids, result_formats, edges = [], [], [], [], []
    for configuration in configurations:
        configuration = copy.deepcopy(configuration)
        configuration.kwargs["batch_id"] = validator.active_batch_id
        expectation = configuration.to_domain_obj()
        dependencies = expectation.get_validation_dependencies(
            execution_engine=engine, runtime_configuration=copy.deepcopy(runtime_configuration),
        )
        subgraph = validator.metrics_calculator.build_metric_dependency_graph(
            metric_configurations=dependencies.get_metric_configurations(),
            runtime_configuration=runtime_configuration,
        )
        codes.append(configuration.meta["code"])
        expectations.append(expectation)
        metric_ids.append({
            name: metric.id for name, metric in dependencies.metric_configurations.items()
        })
        result_formats.append(dependencies.result_format)
        edges.extend(subgraph.edges)
    return _Plan(
        suite=suite,
        codes=tuple(codes),
        expectations=tuple(expectations),
        metric_ids=tuple(metric_ids),
        result_formats=tuple(result_formats),
        graph=ValidationGraph(execution_engine=engine, edges=edges),
        runtime_configuration=runtime_configuration,
    )


def _run(gx_state: _GxState, plan: _Plan, frame: Any) -> dict[str, dict[str, Any]]:
    """Validate a DataFrame with a prepared suite; GE's result per expectation code.

    Call it under _LOCK: the validator's engine holds one batch at a time.
    """
    validator = gx_state.validator
    engine = validator.execution_engine
    batch_id = validator.active_batch_id
    results: dict[str, dict[str, Any]] = {}
    engine.load_batch_data(batch_id, frame)
    try:
        try:
            metrics, aborted = plan.graph.resolve(
                runtime_configuration=plan.runtime_configuration, show_progress_bars=False,
            )
        except Exception:
            metrics, aborted = None, True
        if aborted:
            # GE's message is left out on purpose: it can quote the data.
            raise RuntimeError(f"suite {plan.suite!r}: GE could not compute the metrics")
        for code, expectation, ids, result_format in zip(
            plan.codes, plan.expectations, plan.metric_ids, plan.result_formats, strict=True,
        ):
            try:
                result = expectation._validate(
                    metrics={name: metrics[metric_id] for name, metric_id in ids.items()},
                    runtime_configuration={"result_format": copy.copy(result_format)},
                    execution_engine=engine,
                )
            except Exception:
                result = None
            if not isinstance(result, dict):  # GE may also answer with a result object
                result = result.to_json_dict() if hasattr(result, "to_json_dict") else None
            if result is None or result.get("success") not in (True, False):
                raise RuntimeError(f"suite {plan.suite!r} could not evaluate expectation {code!r}")
            results[code] = {**result, "success": bool(result["success"])}
    finally:
        engine.load_batch_data(batch_id, gx_state.empty)
    return results
