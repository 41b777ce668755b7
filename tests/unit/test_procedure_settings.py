"""The procedure settings file: every deadline, wait and ladder is a setting, checked at start."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import procedures as procedure_settings
from app.config.procedures import (
    LadderSettings,
    agency_nodes,
    load,
    procedure,
    render_settings,
    step_ladder,
    step_spec,
)
from app.config.rules_file import RulesFileError
from app.config.settings import SHIPPED_PROCEDURES, get_settings
from app.domain.ladder import ladder_for
from flows.catalog import base_procedures

BASE = base_procedures()
NODES = agency_nodes()


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "procedures.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch):
    """Point PROTECT_PROCEDURES_FILE at a file for one test; the process forgets it after."""

    def use(path: Path) -> None:
        monkeypatch.setenv("PROTECT_PROCEDURES_FILE", str(path))
        get_settings.cache_clear()
        procedure_settings.reset()

    yield use
    monkeypatch.undo()
    get_settings.cache_clear()
    procedure_settings.reset()


def test_the_shipped_file_writes_out_every_default_of_the_code() -> None:
    assert SHIPPED_PROCEDURES.read_text(encoding="utf-8") == render_settings(BASE), (
        "procedures.toml is out of date: protect procedures settings --defaults > procedures.toml")
    assert load(SHIPPED_PROCEDURES).procedures == BASE


def test_an_operator_file_changes_deadlines_a_ladder_and_the_visits(tmp_path) -> None:
    loaded = load(_file(tmp_path, """
[R2.steps.identity]
deadline = "2wd"
rung_deadline = "1wd"
escalate_to = ["office"]

[R3.waits]
visits = ["2mo", "12mo"]

[J2.waits]
clock = "3y"

[M1.steps.claim]
bureau = "finance"
"""))
    identity = loaded.procedures["R2"].step("r2.identity")
    assert (identity.deadline, identity.rung_deadline, identity.escalate_to) == (
        "2wd", "1wd", ("office",))
    assert loaded.procedures["R2"].step("r2.outreach") == BASE["R2"].step("r2.outreach")
    assert loaded.procedures["R3"].wait("visits").durations == ("2mo", "12mo")
    assert loaded.procedures["J2"].wait("clock").duration == "3y"
    assert loaded.procedures["M1"].step("m1.claim").bureau == "finance"
    assert step_ladder(identity, "psb", NODES, loaded.escalation) == ["psb", "office"]


def test_the_engine_and_the_flows_read_the_configured_file(tmp_path, configured) -> None:
    configured(_file(tmp_path, '[R3.steps.visit]\ndeadline = "3wd"\n'
                               '[R3.waits]\nvisits = ["6mo"]\n'))
    assert step_spec("r3.visit").deadline == "3wd"  # what engine.open_task reads
    assert procedure("R3").wait("visits").durations == ("6mo",)  # what the R3 flow reads
    assert step_spec("r3.closing").deadline == "5wd"  # not in the file: the default


def test_the_example_in_the_docs_is_a_valid_settings_file(tmp_path) -> None:
    engine_md = (SHIPPED_PROCEDURES.parent / "docs" / "engine.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```toml\n(.*?)```", engine_md, re.S)
    loaded = load(_file(tmp_path, example))
    assert loaded.procedures["R2"].step("r2.identity").deadline == "3wd"


def test_without_a_file_the_codes_defaults_apply() -> None:
    assert load(None).procedures == BASE


@pytest.mark.parametrize(("text", "key", "problem"), [
    ('[R9.steps.x]\ndeadline = "1d"', "R9",
     f"unknown procedure; known: {', '.join(sorted(BASE))}"),
    ('[R2.steps.outreech]\ndeadline = "1d"', "R2.steps.outreech", "R2 has no step 'outreech'"),
    ('[R2.steps.outreach]\ndeadline = "5 weeks"', "R2.steps.outreach.deadline",
     "invalid duration spec '5 weeks'"),
    ('[R2.steps.outreach]\nrung_deadline = "0wd"', "R2.steps.outreach.rung_deadline",
     "must be longer"),
    ('[R2.steps.outreach]\ndeadline = 5', "R2.steps.outreach.deadline", "valid string"),
    ('[R2.steps.outreach]\ndeadlin = "1d"', "R2.steps.outreach.deadlin",
     "unknown setting; allowed here: bureau, escalate_to, deadline, rung_deadline"),
    ('[R2]\nwait = {}', "R2.wait", "unknown setting; allowed here: steps, waits"),
    ('[R2.steps.identity]\nescalate_to = ["police", "office"]',
     "R2.steps.identity.escalate_to.0", "unknown agency 'police'"),
    ('[R2.steps.identity]\nescalate_to = ["center/supervisor", "mca"]',
     "R2.steps.identity.escalate_to", "must be 'office'"),
    ('[R2.steps.identity]\nescalate_to = ["welfare/supervisor", "office"]',
     "R2.steps.identity.escalate_to.0", "only a municipal bureau"),
    ('[R2.steps.placement]\nbureau = "district:helan"', "R2.steps.placement.bureau",
     "not a municipal bureau"),
    ('[escalation.village]\nbureau = "mca"', "escalation.village", "unknown agency level"),
    ('[escalation.street]\nescalate_to = ["street:nowhere", "office"]',
     "escalation.street.escalate_to.0", "unknown agency 'street:nowhere'"),
    ('[R3.waits]\nvisits = "1mo"', "R3.waits.visits", "a list of durations"),
    ('[R3.waits]\nvisits = []', "R3.waits.visits", "at least one duration"),
    ('[R3.waits]\nvisits = ["1mo", "1 mo"]', "R3.waits.visits", "a duration appears twice"),
    ('[R3.waits]\nvisits = ["1mo", "3 months"]', "R3.waits.visits",
     "invalid duration spec '3 months'"),
    ('[J2.waits]\nclock = ["1y"]', "J2.waits.clock", "one duration"),
    ('[J2.waits]\nclock = 2', "J2.waits.clock", "a duration such as"),
    ('[J2.waits]\nnap = "1d"', "J2.waits.nap", "J2 has no wait 'nap'; its waits: clock"),
    ("[R2.steps", "(file)", "not valid TOML"),
])
def test_an_invalid_file_is_refused_naming_the_file_the_key_and_the_problem(
        tmp_path, text, key, problem) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(RulesFileError) as caught:
        load(path)
    assert str(path) in str(caught.value) and caught.value.code == "invalid_procedure_settings"
    assert any(p.key == key and problem in p.message for p in caught.value.problems), \
        caught.value.problems


def test_every_problem_of_a_file_is_reported_at_once(tmp_path) -> None:
    path = _file(tmp_path, '[R2.steps.outreach]\ndeadline = "2 days"\n'
                           '[R3.steps.visit]\nbureau = "nobody"\n')
    with pytest.raises(RulesFileError) as caught:
        load(path)
    assert [p.key for p in caught.value.problems] == ["R2.steps.outreach.deadline",
                                                      "R3.steps.visit.bureau"]
    assert [list(p) for p in caught.value.to_dict()["problems"]] == [["key", "problem"]] * 2


def test_a_missing_file_is_refused(tmp_path) -> None:
    for path in (tmp_path / "nowhere.toml", tmp_path):
        with pytest.raises(RulesFileError, match="no such file"):
            load(path)


# --- ladders ----------------------------------------------------------------------------------

VISIT = BASE["R3"].step("r3.visit")
STREET = "street:lingwu-dongta"


def test_without_settings_a_step_climbs_the_ladder_rule() -> None:
    for proc in BASE.values():
        for step in proc.steps:
            owner = step.owner or STREET
            assert step_ladder(step, owner, NODES, {}) == ladder_for(owner, NODES, step.bureau)


def test_a_steps_own_ladder_comes_first_then_its_owner_levels() -> None:
    levels = {"street": LadderSettings(escalate_to=["district:lingwu", "office"]),
              "municipal": LadderSettings(escalate_to=["office"])}
    assert step_ladder(VISIT, STREET, NODES, levels) == [STREET, "district:lingwu", "office"]
    own = replace(VISIT, escalate_to=("mca", "mca/supervisor", "office"))
    assert step_ladder(own, STREET, NODES, levels) == [STREET, "mca", "mca/supervisor", "office"]
    outreach = BASE["R2"].step("r2.outreach")
    assert step_ladder(outreach, "center", NODES, levels) == ["center", "office"]


def test_the_bureau_above_a_local_owner_is_the_steps_else_its_levels() -> None:
    levels = {"street": LadderSettings(bureau="edu")}
    assert step_ladder(VISIT, STREET, NODES, levels)[-2] == "mca"  # the step names mca
    assert step_ladder(replace(VISIT, bureau=None), STREET, NODES, levels) == [
        STREET, "district:lingwu", "edu", "office"]
