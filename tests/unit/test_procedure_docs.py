"""`protect procedures` and docs/procedures.md: drawn from the definitions, and up to date."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.config.procedures import load
from app.config.settings import SHIPPED_PROCEDURES
from app.entrypoints.cli import cli
from app.services.procedure_docs import DOCS_COMMAND, mermaid, render_docs
from flows.catalog import base_procedures
from tests.helpers import protect

DOCS = Path(__file__).resolve().parents[2] / "docs" / "procedures.md"
PROCS = base_procedures()


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_docs_procedures_md_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_docs(load(SHIPPED_PROCEDURES).procedures,
                                                           {}), \
        f"docs/procedures.md is out of date: run `{DOCS_COMMAND}`"


def test_the_docs_show_every_procedures_graph() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for code, spec in PROCS.items():
        assert f"## {code}" in text
        assert f"```mermaid\n{mermaid(spec)}\n```" in text


@pytest.mark.parametrize("code", PROCS)
def test_the_mermaid_graph_has_every_node_and_edge_of_the_definition(code) -> None:
    spec = PROCS[code]
    lines = mermaid(spec).splitlines()
    assert lines[0] == "flowchart TD"
    ids = {}
    for line in lines[1:]:
        if m := re.fullmatch(r"    (n\d+)(\S.*)", line):
            if not re.match(r" ?-", m[2]):
                ids[m[1]] = m[2]
    assert len(ids) == len(spec.nodes)
    arrows = [re.fullmatch(r"    (n\d+) -\.?->(?:\|\"([^\"]*)\"\|)? (n\d+)", line)
              for line in lines if "->" in line]
    assert all(arrows) and len(arrows) == len(spec.graph)
    names = dict(zip([f"n{i}" for i in range(len(spec.nodes))], spec.nodes, strict=True))
    drawn = {(names[a[1]], names[a[3]], a[2]) for a in arrows if a}
    assert drawn == {(e.source, e.target, e.when) for e in spec.graph}


def test_protect_procedures_lists_every_procedure() -> None:
    rows = json.loads(_invoke("procedures", "--json"))
    assert [(r["code"], r["area"]) for r in rows] == [(p.code, p.area) for p in PROCS.values()]
    assert all(r["title"] for r in rows)
    assert "R3   rescue     Return home" in _invoke("procedures")


def test_protect_procedures_show_prints_steps_owners_deadlines_ladders_and_the_graph() -> None:
    shown = json.loads(_invoke("procedures", "show", "m1", "--json"))
    assert shown["code"] == "M1"
    status = next(s for s in shown["steps"] if s["name"] == "m1.status")
    assert (status["owner"], status["deadline"], status["ladder"]) == (
        "mca", "3wd", ["mca", "mca/supervisor", "office"])
    discharge = next(s for s in shown["steps"] if s["name"] == "m1.discharge")
    assert (discharge["owner"], discharge["rung_deadline"]) == (None, "2wd")
    assert discharge["owner_rule"] == "the admitting hospital"
    assert shown["graph"]["outcomes"] == ["not_street_child", "settled"]
    assert shown["mermaid"] == mermaid(PROCS["M1"])
    text = _invoke("procedures", "show", "R3")
    assert "r3.visit" in text and "1mo, 3mo, 6mo, 12mo after the hand-over" in text
    assert "flowchart TD" in text


def test_an_unknown_procedure_is_a_clear_error_with_exit_2() -> None:
    human = protect("procedures", "show", "X9", check=False)
    assert human.returncode == 2
    known = ", ".join(sorted(base_procedures()))
    assert f"unknown procedure 'X9'; known: {known}" in human.stderr
    machine = protect("procedures", "show", "X9", "--json", check=False)
    assert machine.returncode == 2 and json.loads(machine.stdout)["error"] == "not_found"


def test_protect_procedures_settings_defaults_writes_the_shipped_file() -> None:
    assert _invoke("procedures", "settings", "--defaults") == \
        SHIPPED_PROCEDURES.read_text(encoding="utf-8")
