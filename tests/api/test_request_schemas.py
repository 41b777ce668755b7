"""The OpenAPI document says what the API takes: each request body's real schema, dates as
YYYY-MM-DD, the methods of each path; and the gate behind it refuses what the document
refuses, with its own codes and messages (zero-width and direction characters in names, JSON's
own types, dates that are dates)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.validation import (
    blank_pattern,
    form_text_pattern,
    id_number_pattern,
    text_pattern,
    text_problems,
    typed_text,
)
from app.domain.errors import ValidationFailed
from tests.api.conftest import add_task
from tests.helpers import hotline_report, intake_form, open_case

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
BODIES = {"/api/v1/cases": "case-open.json", "/api/v1/intake": "hotline-report.json"}
# The invisible format characters the gate refuses in a typed text: zero-width, BOM, direction.
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u202a",
             "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def ecma_search(pattern: str, text: str) -> re.Match[str] | None:
    """A JSON-Schema pattern as a client reads it (ECMA-262): `$` only at the very end,
    where Python's `$` also matches before a final newline."""
    return re.search(re.sub(r"(?<!\\)\$", r"\\Z", pattern), text)


@pytest.fixture(scope="module")
def document(client: Any) -> dict[str, Any]:
    return dict(client.get("/api/v1/openapi.json").json())


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema validator for a schema of the document, its $refs resolved there."""
    full = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(
        full, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _body_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    return dict(document["paths"][path]["post"]["requestBody"]["content"]["application/json"][
        "schema"])


@pytest.fixture(scope="module")
def coordinator(login: Any) -> dict[str, str]:
    return login("center", "coordinator")


def _fields(r: Any, status: int = 422) -> dict[str, dict[str, str]]:
    assert r.status_code == status, r.text
    return {f["field"]: f for f in r.json()["error"]["fields"]}


# --- the request bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/cases", "/api/v1/intake",
                                  "/api/v1/tasks/{task_id}/complete"])
def test_an_empty_object_is_no_body_the_document_takes(document: dict[str, Any],
                                                       path: str) -> None:
    schema = _body_schema(document, path)
    assert document["paths"][path]["post"]["requestBody"]["required"] is True
    assert not _validator(document, schema).is_valid({})


@pytest.mark.parametrize("path", sorted(BODIES))
def test_the_examples_are_bodies_the_document_takes(document: dict[str, Any],
                                                    path: str) -> None:
    example = json.loads((EXAMPLES / BODIES[path]).read_text(encoding="utf-8"))
    errors = list(_validator(document, _body_schema(document, path)).iter_errors(example))
    assert not errors, [e.message for e in errors]


def test_every_steps_example_is_its_own_form_and_one_the_document_takes(
        document: dict[str, Any]) -> None:
    from app.config.procedures import step_spec
    from app.entrypoints.api.routers.tasks import described_form

    anyone = _validator(document, _body_schema(document, "/api/v1/tasks/{task_id}/complete"))
    examples = [p for p in EXAMPLES.glob("*.*.json")]
    assert len(examples) > 80
    for path in examples:
        step = path.name.split("-", 1)[0].removesuffix(".json")
        form = json.loads(path.read_text(encoding="utf-8"))
        step_spec(step)  # a real step
        own = jsonschema.Draft202012Validator(
            described_form(step), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        assert not list(own.iter_errors(form)), (path.name, [e.message for e in
                                                            own.iter_errors(form)])
        assert anyone.is_valid(form), path.name


def test_each_step_form_is_a_component_named_by_its_steps(document: dict[str, Any]) -> None:
    branches = _body_schema(document, "/api/v1/tasks/{task_id}/complete")["anyOf"]
    names = [b["$ref"].rsplit("/", 1)[1] for b in branches]
    assert len(names) == len(set(names)) >= 90
    identity = next(document["components"]["schemas"][n] for n in names
                    if "`r2.identity`" in document["components"]["schemas"][n].get(
                        "description", ""))
    assert identity["required"] == ["outcome"]
    approval = next(document["components"]["schemas"][n] for n in names
                    if "`m2.approval`" in document["components"]["schemas"][n].get(
                        "description", ""))
    # The suite's check across fields, with its code, in the form's description.
    assert "amount_approved.above_request" in approval["description"]
    amount = approval["properties"]["amount_approved"]["anyOf"][0]
    assert (amount["type"], amount["multipleOf"], amount["minimum"]) == ("number", 0.01, 0)


def test_a_task_gives_the_schema_its_completion_is_checked_by(
        client: Any, login: Any, document: dict[str, Any]) -> None:
    from app.entrypoints.api.routers.tasks import described_form

    task = add_task(open_case(), step="r2.identity")
    worker = login("psb", "worker")
    detail = client.get(f"/api/v1/tasks/{task}", headers=worker).json()
    assert detail["form_schema"] == described_form("r2.identity")
    assert "pattern" in detail["form_schema"]["properties"]["notes"]["anyOf"][0]


def test_the_intake_forms_fields_say_what_the_gate_takes(document: dict[str, Any]) -> None:
    child = document["components"]["schemas"]["ChildIn"]["properties"]
    name = re.compile(child["name"]["pattern"])
    assert name.search("  测试童 ") and not name.search("测试\u200b童")
    assert not name.search("=HYPERLINK()") and not name.search("   ")
    id_number = re.compile(child["id_number"]["anyOf"][0]["pattern"])
    assert id_number.search(" 11010519491231002x ") and not id_number.search("1101")
    report = _body_schema(document, "/api/v1/intake")
    assert "street.unknown" in report["description"]
    assert "birth_date.after_intake" in report["description"]


# --- the patterns hold the gate's rule, character for character -----------------------------------

_TRICKY = st.sampled_from([" ", "\u3000", "\u00a0", "\t", "\n", "\r", "\r\n", "\x00", "\x07",
                           "\x7f", "\x85", "=", "+", "-", "@", "a", "童", "0", "X", "x",
                           *INVISIBLE])
TEXTS = st.lists(st.one_of(_TRICKY, st.characters(codec="utf-8")), max_size=12).map("".join)


def _typed_ok(text: str, low: int, high: int, *, multiline: bool, name: bool) -> bool:
    try:
        kept = typed_text("字段", multiline=multiline, name=name)(text)
    except ValueError:  # pydantic's refusal (PydanticCustomError is a ValueError)
        return False
    return low <= len(kept) <= high


@settings(max_examples=600, deadline=None, derandomize=True)
@given(text=TEXTS)
def test_a_typed_texts_pattern_takes_what_the_typed_text_takes(text: str) -> None:
    for low, high, multiline, name in ((1, 6, False, True), (0, 5, True, False),
                                       (2, 8, False, False), (5, 9, True, False)):
        pattern = text_pattern(low, high, multiline=multiline, name=name)
        assert bool(ecma_search(pattern, text)) == _typed_ok(
            text, low, high, multiline=multiline, name=name), (text, low, high, multiline, name)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=TEXTS)
def test_a_free_texts_pattern_takes_what_a_steps_gate_takes(text: str) -> None:
    refused = bool(text_problems({"notes": text}, lambda loc: "备注"))
    assert bool(ecma_search(form_text_pattern(), text)) == (not refused)
    assert bool(ecma_search(form_text_pattern(required=True), text)) == (
        not refused and bool(text.strip()))
    assert bool(ecma_search(blank_pattern(), text)) == (not refused and not text.strip())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.lists(st.sampled_from(["1", "0", "9", "X", "x", " ", "\t", "\u3000", "a",
                                      "\u200b"]), max_size=22).map("".join))
def test_an_id_numbers_pattern_takes_what_intake_keeps(text: str) -> None:
    from app.domain.idcard import normalize_id_number

    kept = normalize_id_number(text)
    clean = not text_problems({"id_number": text}, lambda loc: "身份证号码")
    shaped = bool(re.fullmatch(r"[0-9]{17}[0-9X]", kept))
    assert bool(ecma_search(id_number_pattern(optional=False), text)) == (clean and shaped)
    assert bool(ecma_search(id_number_pattern(optional=True), text)) == (
        clean and (shaped or kept == ""))


# --- zero-width and direction characters, refused wherever a person types a name or text -------


@pytest.mark.parametrize("char", INVISIBLE)
def test_an_invisible_character_in_a_childs_or_guardians_name_is_refused(
        client: Any, coordinator: dict[str, str], char: str) -> None:
    form = intake_form()
    form["child"]["name"] = f"测试{char}童"
    form["guardians"][0]["name"] = f"{char}监护人"
    fields = _fields(client.post("/api/v1/cases", json=form, headers=coordinator))
    assert {f: e["code"] for f, e in fields.items()} == {
        "child.name": "name.invisible_character", "guardians.0.name": "name.invisible_character"}
    assert fields["child.name"]["message_zh"] == (
        "姓名含有不可见的格式字符（零宽字符或文字方向控制符），请删除后重新输入。")
    assert char not in json.dumps(fields, ensure_ascii=False)  # never the value back


def test_an_invisible_character_in_a_reports_names_and_text_is_refused(
        client: Any, coordinator: dict[str, str]) -> None:
    report = hotline_report()
    report["reporter"]["name"] = "王\u202e五"
    report["child"]["name"] = "\u2066热线童\u2069"
    report["description"] = "孩子在桥下\u200b睡觉"
    fields = _fields(client.post("/api/v1/intake", json=report, headers=coordinator))
    assert {f: e["code"] for f, e in fields.items()} == {
        "reporter.name": "name.invisible_character", "child.name": "name.invisible_character",
        "description": "description.invisible_character"}
    assert fields["reporter.name"]["message_zh"].startswith("报告人姓名含有不可见的格式字符")


def test_an_invisible_character_in_a_step_forms_text_is_refused(client: Any,
                                                                login: Any) -> None:
    task = add_task(open_case(), step="r2.identity")
    worker = login("psb", "worker")
    form = {"outcome": "family_found", "notes": "父亲\u202e已联系"}
    fields = _fields(client.post(f"/api/v1/tasks/{task}/complete", json=form, headers=worker))
    assert fields["notes"]["code"] == "notes.invisible_character"
    assert fields["notes"]["message_zh"].startswith("“备注”含有不可见的格式字符")
    form["notes"] = "父亲\n已联系"  # a line break is fine
    assert client.post(f"/api/v1/tasks/{task}/complete", json=form,
                       headers=worker).status_code == 200


# --- JSON's own types, dates as dates ------------------------------------------------------------


def test_a_body_of_other_json_types_than_its_schema_is_refused_field_by_field(
        client: Any, coordinator: dict[str, str], login: Any) -> None:
    form = intake_form()
    form["child"]["has_hukou"] = 1  # pydantic alone would read it as true
    fields = _fields(client.post("/api/v1/cases", json=form, headers=coordinator))
    assert fields["child.has_hukou"]["code"] == "child.has_hukou.bool_type"
    assert fields["child.has_hukou"]["message_zh"].endswith("须为“是”或“否”。")

    worker = login("psb", "worker")
    task = add_task(open_case(), step="r2.identity")  # a form without a suite: the model's
    fields = _fields(client.post(f"/api/v1/tasks/{task}/complete", headers=worker,
                                 json={"outcome": "family_found", "has_hukou": "yes"}))
    assert fields["has_hukou"]["code"] == "has_hukou.bool_type"
    task = add_task(open_case(), step="m2.approval")  # its suite says it first, in its words
    fields = _fields(client.post(f"/api/v1/tasks/{task}/complete", headers=worker,
                                 json={"outcome": "approved", "amount_approved": "12.5"}))
    assert fields["amount_approved"]["code"] == "amount_approved.not_a_number"


@pytest.mark.parametrize("step", ["p1.sessions", "r2.placement"])
def test_a_date_is_a_date_in_a_steps_form(client: Any, login: Any, step: str) -> None:
    """pydantic alone reads "0" and 0 as 1970-01-01 and a midnight as a date; with a suite
    (p1.sessions) or without (r2.placement), a step's date is YYYY-MM-DD or refused."""
    from app.config.procedures import step_spec

    example = json.loads((EXAMPLES / f"{step}.json").read_text(encoding="utf-8"))
    dated = [k for k, v in example.items() if isinstance(v, str) and re.fullmatch(
        r"\d{4}-\d{2}-\d{2}", v)]
    assert dated, f"{step}'s example has a date"
    worker = login("psb", "worker")
    for wrong in ("0", 0, "2026-01-01T00:00:00", "20260101"):
        task = add_task(open_case(), step=step)
        fields = _fields(client.post(f"/api/v1/tasks/{task}/complete", headers=worker,
                                     json={**example, dated[0]: wrong}))
        assert dated[0] in fields, (wrong, fields)
    assert (step_spec("p1.sessions").suite, step_spec("r2.placement").suite) == (
        "counselling_session", None)


@pytest.mark.parametrize("until", ["0", "86400", "20260101", "2026-01-01T00:00", "2026-02-30"])
def test_a_date_parameter_is_yyyy_mm_dd(client: Any, login: Any, until: str,
                                        document: dict[str, Any]) -> None:
    manager = login("office", "manager")
    fields = _fields(client.get("/api/v1/indicators", params={"until": until},
                                headers=manager))
    assert fields["query.until"]["code"] == "until.date_parsing"
    assert fields["query.until"]["message_zh"] == "结束日期须为有效日期（年-月-日）。"
    assert client.get("/api/v1/indicators", params={"until": "2026-01-31"},
                      headers=manager).status_code == 200


def test_every_date_parameter_of_the_document_is_a_date(document: dict[str, Any]) -> None:
    dates = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for p in operation.get("parameters", []):
                for branch in p["schema"].get("anyOf", [p["schema"]]):
                    if "date" in p["name"] or branch.get("format") == "date":
                        dates.append((method, path, p["name"], branch.get("format")))
    assert dates and all(fmt == "date" for *_, fmt in dates
                         if fmt is not None), dates


# --- the methods of a path ------------------------------------------------------------------


def test_a_method_a_path_does_not_take_is_a_405_naming_every_method_it_does(
        client: Any, document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        allowed = sorted(m.upper() for m in operations)
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - set(allowed):
            r = client.request(method, url)
            assert r.status_code == 405, (method, path, r.status_code)
            assert r.headers["allow"] == ", ".join(allowed), (method, path)
            assert r.json()["error"]["code"] == "method_not_allowed"


# --- a refused body in milliseconds: no Great Expectations in the API ---------------------------


def test_the_api_checks_bodies_without_importing_great_expectations(
        store: str, coordinator: dict[str, str]) -> None:
    """A fresh API process refuses an intake at once and takes a report without importing
    Great Expectations (its import alone takes seconds): the suites run in plain Python."""
    script = """
import json, sys, time
from fastapi.testclient import TestClient
from app.entrypoints.api import create_app
client = TestClient(create_app())
client.get("/api/v1/health")
headers = json.loads(sys.argv[1])
times = []
for body in ({}, {"source": "12355"}):
    began = time.perf_counter()
    status = client.post("/api/v1/intake", json=body, headers=headers).status_code
    times.append((status, time.perf_counter() - began))
print(json.dumps({"times": times, "ge": "great_expectations" in sys.modules,
                  "pandas": "pandas" in sys.modules}))
"""
    done = subprocess.run([sys.executable, "-c", script, json.dumps(coordinator)],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy(),
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert [status for status, _ in out["times"]] == [422, 422]
    assert not out["ge"] and not out["pandas"], out
    assert out["times"][0][1] < 2.0, out  # generous: milliseconds on an idle machine


def test_the_gate_still_decides_and_keeps_its_codes(
        client: Any, coordinator: dict[str, str]) -> None:
    """Beside the document's types, the suites' and models' codes stay the answer."""
    form = intake_form()
    form["child"]["sex"] = "X"
    form["child"]["birth_date"] = "2030-01-01"
    fields = _fields(client.post("/api/v1/cases", json=form, headers=coordinator))
    assert fields["child.sex"]["code"] == "sex.invalid"
    assert fields["child.birth_date"]["code"] == "birth_date.after_intake"
    assert fields["child.sex"]["message_zh"] == "性别须为 M（男）或 F（女）。"
    with pytest.raises(ValidationFailed):
        from app.services.cases import check_intake

        check_intake(form)
