"""Validate one submitted form record against its Great Expectations suite (suites/<name>.json).

How a record is checked:

1. Every field the suite declares (suite meta "fields": text, choice, date, number or bool) is
   type-checked in plain Python. Column <field> gets the typed value, or null when the field is
   missing, blank or of the wrong type; <field>_given says whether a non-blank value was sent and
   <field>_is_<kind> whether it had the right type (null when not given). A choice field keeps any
   string as is; another type becomes a value outside every set. Keys the suite does not declare
   are dropped.
2. The suite's derive function adds cross-field columns from those typed values with pure
   functions (app.rules.idcard), e.g. id_number_check_ok, age_at_intake, years_in_care. A derived
   column is null when its inputs are unusable, so one bad input is reported once, at its source.
3. Great Expectations validates the one-row DataFrame. Each failed expectation becomes a
   FieldError built from that expectation's meta; at most one error is reported per field, the
   first failure in suite order, which is why a field's checks go from basic to specific.

Privacy: submitted values never leave this module. Errors carry only the fixed meta text of the
suite; results are requested as BOOLEAN_ONLY, so GE does not even collect unexpected sample
values; an internal failure is raised without GE's message, which may quote data. Keep it so: never
put result details, exception text or the record itself into a FieldError, a log line or an
exception.

Cost: great_expectations takes seconds to import, so it is imported on first validation, not at
module import. The ephemeral context, the pandas data source and the parsed suites are built once
per process and reused; validations are serialised by a lock because GE's objects are shared.
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic

from app.rules.idcard import age_on, birth_date_from_id, check_digit

__all__ = ["FieldError", "suite_names", "validate_record"]

SUITES_DIR = Path(__file__).with_name("suites")
META_KEYS = ("field", "code", "message", "message_zh")

# Any non-string sent for a choice field becomes this; it is in no value set.
_NOT_A_CHOICE = "\x00not-a-choice"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


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
    if suite not in _specs():
        raise ValueError(f"unknown suite {suite!r}; known suites: {', '.join(_specs())}")
    if not isinstance(record, dict):
        raise TypeError("record must be a dict")
    row = _row(suite, _specs()[suite]["meta"]["fields"], record)
    gx_state = _gx_state()
    with _LOCK:
        results = _validate_row(gx_state, gx_state.suites[suite], row)
    failed: set[str] = set()
    for result in results:
        code = result.expectation_config.meta["code"]
        if (result.exception_info or {}).get("raised_exception"):
            # GE's message is left out on purpose: it can quote the row's values.
            raise RuntimeError(f"suite {suite!r} could not evaluate expectation {code!r}")
        if not result.success:
            failed.add(code)
    # Walk the file, not GE's results, whose order GE does not promise.
    errors: dict[str, FieldError] = {}
    for expectation in _specs()[suite]["expectations"]:
        meta = expectation["meta"]
        if meta["code"] in failed:
            errors.setdefault(meta["field"], FieldError(**{key: meta[key] for key in META_KEYS}))
    return list(errors.values())


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


def _row(suite: str, fields: dict[str, str], record: dict) -> dict[str, Any]:
    """Build the typed and derived columns for one record."""
    row: dict[str, Any] = {}
    for field, kind in fields.items():
        raw = record.get(field)
        given = _is_given(raw)
        row[f"{field}_given"] = given
        if kind == "choice":
            row[field] = (raw if isinstance(raw, str) else _NOT_A_CHOICE) if given else None
            continue
        value = _PARSERS[kind](raw) if given else None
        row[field] = value
        row[f"{field}_is_{kind}"] = (value is not None) if given else None
    row.update(_DERIVE.get(suite, _derive_nothing)(row))
    return row


# --- Step 2: per-suite derived columns (None means "cannot tell, not checked") -----------------


def _derive_nothing(row: dict[str, Any]) -> dict[str, Any]:
    return {}


def _derive_child_intake(row: dict[str, Any]) -> dict[str, Any]:
    birth, intake, id_number = row["birth_date"], row["intake_date"], row["id_number"]
    both_dates = birth is not None and intake is not None
    shaped = id_number is not None and _ID_SHAPE.fullmatch(id_number) is not None
    check_ok = check_digit(id_number[:17]) == id_number[17] if shaped else None
    id_birth = birth_date_from_id(id_number) if check_ok else None
    return {
        "id_number_check_ok": check_ok,
        "id_birth_real": (id_birth is not None) if check_ok else None,
        "id_birth_matches": (
            (id_birth == birth) if id_birth is not None and birth is not None else None
        ),
        "birth_not_after_intake": (birth <= intake) if both_dates else None,
        "age_at_intake": age_on(birth, intake) if both_dates else None,
    }


def _derive_settlement_claim(row: dict[str, Any]) -> dict[str, Any]:
    admission, discharge = row["admission_date"], row["discharge_date"]
    total, insurance = row["amount_total"], row["amount_insurance"]
    return {
        "discharge_not_before_admission": (
            (discharge >= admission) if admission is not None and discharge is not None else None
        ),
        "insurance_within_total": (
            (insurance <= total) if insurance is not None and total is not None else None
        ),
        # Only when the procedure supplies the admitting hospital (its context check).
        "hospital_is_admitting": (
            (row["hospital_code"] == row["admitting_hospital"])
            if row["hospital_code"] is not None and row["admitting_hospital"] is not None
            else None
        ),
    }


def _derive_hukou_application(row: dict[str, Any]) -> dict[str, Any]:
    placement, application = row["placement_date"], row["application_date"]
    both_dates = placement is not None and application is not None
    return {"years_in_care": age_on(placement, application) if both_dates else None}


_DERIVE: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "child_intake": _derive_child_intake,
    "settlement_claim": _derive_settlement_claim,
    "hukou_application": _derive_hukou_application,
}


# --- Step 3: Great Expectations, built once per process ----------------------------------------


@dataclass(frozen=True)
class _GxState:
    batch_definition: Any
    suites: dict[str, Any]


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

    suites = {}
    for name, spec in _specs().items():
        suite = gx.ExpectationSuite(**copy.deepcopy(spec))  # GE writes into the meta it gets
        # GE logs and drops an expectation it cannot build instead of raising.
        if len(suite.expectations) != len(spec["expectations"]):
            raise RuntimeError(f"suite {name!r} has expectations Great Expectations cannot build")
        codes = [expectation["meta"]["code"] for expectation in spec["expectations"]]
        if len(set(codes)) != len(codes):
            raise RuntimeError(f"suite {name!r} uses a code twice; results are matched by code")
        suites[name] = suite
    return _GxState(batch_definition=batch_definition, suites=suites)


def _validate_row(gx_state: _GxState, suite: Any, row: dict[str, Any]) -> list[Any]:
    import pandas as pd

    frame = pd.DataFrame([row])
    batch = gx_state.batch_definition.get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(suite, result_format="BOOLEAN_ONLY").results
