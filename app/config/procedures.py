"""The operator's procedure settings: every deadline, wait and escalation ladder, in one file.

`procedures.toml` at the project root ships the defaults written out; `PROTECT_PROCEDURES_FILE`
names another file, which may hold only the keys it changes. The file is read and checked once
per process, at start-up: an unknown procedure or step, a malformed duration or an unknown
agency stops the system with a message naming the file, the key and the problem. The specs
that `all_procedures()` returns carry the effective values, so the engine, the
flows and the pictures all read one truth. See docs/engine.md, "Procedure settings".
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import ErrorDetails

from app.config.rules_file import Invalid, RulesFile, in_order, problems, said, toml
from app.domain.calendar_data import Problem
from app.domain.errors import UnknownProcedure
from app.domain.ladder import TOP, AgencyNode, ladder_for
from app.domain.workdays import parse_duration
from flows.catalog import ProcedureSpec, StepSpec, WaitSpec, base_procedures

Level = Literal["community", "street", "district", "institution", "hospital", "municipal"]
LEVELS: tuple[str, ...] = get_args(Level)


# --- what a value must look like ---------------------------------------------------------------


def _duration(value: str) -> str:
    d = parse_duration(value)
    if d.amount == 0:
        raise ValueError(f"{value!r} is zero: a deadline or wait must be longer than that")
    return f"{d.amount}{d.unit}"


@lru_cache
def known_agencies() -> dict[str, str]:
    """Every agency code of the reference data, with its level."""
    from app.domain.agencies import reference_agencies

    return {a.code: a.level for a in reference_agencies()}


def agency_nodes() -> dict[str, AgencyNode]:
    """The reference agencies as the ladder rule sees them (no database needed)."""
    from app.domain.agencies import reference_agencies

    return {a.code: AgencyNode(a.level, a.parent_code, a.bureau) for a in reference_agencies()}


def _municipal() -> list[str]:
    return sorted(c for c, level in known_agencies().items() if level == "municipal")


def _bureau(value: str) -> str:
    if known_agencies().get(value) != "municipal":
        raise ValueError(f"{value!r} is not a municipal bureau; one of {', '.join(_municipal())}")
    return value


def _rung(value: str) -> str:
    agency, _, role = value.partition("/")
    if agency not in known_agencies():
        raise ValueError(f"unknown agency {agency!r} (codes as in `protect agency list`, e.g. "
                         "psb, street:xingqing-fenghuang, office)")
    if role and (role != "supervisor" or known_agencies()[agency] != "municipal"):
        raise ValueError(f"{value!r}: only a municipal bureau has a rung for its role, and "
                         "that role is 'supervisor' (e.g. psb/supervisor)")
    return value


def _ends_at_the_office(rungs: list[str]) -> list[str]:
    if not rungs or rungs[-1] != TOP:
        raise ValueError(f"an escalation ladder ends at the leading group office: the last "
                         f"rung must be {TOP!r}, got {rungs!r}")
    if len(set(rungs)) != len(rungs):
        raise ValueError(f"a rung appears twice in {rungs!r}")
    return rungs


def _wait(value: Any) -> str | list[str]:
    """One duration, or a list of them (a series of timers)."""
    if isinstance(value, str):
        return _duration(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        durations = [_duration(v) for v in value]
        if len(set(durations)) != len(durations):
            raise ValueError(f"a duration appears twice in {value!r}: each timer needs its own")
        return durations
    raise ValueError(f"a duration such as \"2y\", or a list of them, not {value!r}")


Duration = Annotated[str, AfterValidator(_duration)]
Bureau = Annotated[str, AfterValidator(_bureau)]
Rung = Annotated[str, AfterValidator(_rung)]
EscalateTo = Annotated[list[Rung], AfterValidator(_ends_at_the_office)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LadderSettings(_Strict):
    """Who is next when a deadline is missed."""

    bureau: Bureau | None = None  # the municipal bureau above a local owner
    escalate_to: EscalateTo | None = None  # the rungs above the owner, ending at the office


class StepSettings(LadderSettings):
    """One human step."""

    deadline: Duration | None = None
    rung_deadline: Duration | None = None


class ProcedureSettings(_Strict):
    """One procedure: its steps by short name, its waits by name."""

    steps: dict[str, StepSettings] = Field(default_factory=dict)
    waits: dict[str, Annotated[str | list[str], PlainValidator(_wait)]] = Field(
        default_factory=dict)


class SettingsFile(_Strict):
    """The whole file: procedures by code, and ladders by the owner's level."""

    escalation: dict[Level, LadderSettings] = Field(default_factory=dict)
    procedures: dict[str, ProcedureSettings] = Field(default_factory=dict)


# --- reading and checking the file ------------------------------------------------------------


def _allowed(loc: tuple[Any, ...]) -> str:
    """The keys allowed where an unknown key `loc` was found."""
    if loc[0] == "escalation":
        model: type[BaseModel] = LadderSettings
    elif len(loc) > 3 and loc[2] == "steps":
        model = StepSettings
    else:
        model = ProcedureSettings
    return ", ".join(model.model_fields)


def _key(loc: tuple[int | str, ...]) -> str:
    """A problem's key as the file writes it: procedures by their code alone."""
    loc = tuple(p for p in loc if p != "[key]")
    if loc and loc[0] == "procedures":
        loc = loc[1:]
    return ".".join(str(p) for p in loc) or "(file)"


def _message(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return f"unknown setting; allowed here: {_allowed(err['loc'])}"
    if err["type"] == "literal_error" and err["loc"][0] == "escalation":
        return f"unknown agency level; one of {', '.join(LEVELS)}"
    return said(err)


def _catalog_problems(raw: Mapping[str, Any],
                      base: Mapping[str, ProcedureSpec]) -> list[Problem]:
    """Keys that name no procedure, step or wait of the code, and waits of the wrong shape."""
    found = []
    for code, entry in raw.items():
        if code not in base:
            found.append(Problem(0, code, f"unknown procedure; known: {', '.join(sorted(base))}"))
            continue
        if not isinstance(entry, Mapping):
            continue  # the model says what it must be
        spec = base[code]
        steps = entry.get("steps", {})
        for name in steps if isinstance(steps, Mapping) else ():
            if name not in {s.short for s in spec.steps}:
                known = ", ".join(s.short for s in spec.steps)
                found.append(Problem(0, f"{code}.steps.{name}", f"{code} has no step {name!r}; "
                                     f"its steps: {known}"))
        waits = entry.get("waits", {})
        for name, value in (waits.items() if isinstance(waits, Mapping) else ()):
            known_waits = {w.name: w for w in spec.waits}
            if name not in known_waits:
                known = ", ".join(known_waits) or "none"
                found.append(Problem(0, f"{code}.waits.{name}",
                                     f"{code} has no wait {name!r}; its waits: {known}"))
            elif isinstance(known_waits[name].after, str) and isinstance(value, list):
                found.append(Problem(0, f"{code}.waits.{name}", f"one duration (e.g. "
                                     f"{known_waits[name].after!r}), not a list"))
            elif isinstance(known_waits[name].after, tuple) and not isinstance(value, list):
                example = json.dumps(list(known_waits[name].after))
                found.append(Problem(0, f"{code}.waits.{name}",
                                     f"a list of durations, e.g. {example}"))
            elif isinstance(value, list) and not value:
                found.append(Problem(0, f"{code}.waits.{name}",
                                     "an empty list: at least one duration"))
    return found


def _apply_step(step: StepSpec, s: StepSettings | None) -> StepSpec:
    if s is None:
        return step
    changes: dict[str, Any] = {k: v for k, v in s.model_dump().items() if v is not None}
    if "escalate_to" in changes:
        changes["escalate_to"] = tuple(changes["escalate_to"])
    return replace(step, **changes)


def _apply_wait(wait: WaitSpec, value: str | list[str] | None) -> WaitSpec:
    if value is None:
        return wait
    return replace(wait, after=value if isinstance(value, str) else tuple(value))


def apply_settings(base: Mapping[str, ProcedureSpec],
                   settings: SettingsFile) -> dict[str, ProcedureSpec]:
    """The procedures with the file's values in place of the code's defaults."""
    out = {}
    for code, spec in base.items():
        ps = settings.procedures.get(code)
        if ps is None:
            out[code] = spec
            continue
        out[code] = replace(
            spec,
            steps=tuple(_apply_step(s, ps.steps.get(s.short)) for s in spec.steps),
            waits=tuple(_apply_wait(w, ps.waits.get(w.name)) for w in spec.waits),
        )
    return out


@dataclass(frozen=True)
class Loaded:
    """A checked settings file and what it makes of the procedures."""

    path: Path | None  # None: no file, the code's defaults
    procedures: dict[str, ProcedureSpec]
    escalation: dict[str, LadderSettings]


def _parse(text: str, path: Path) -> Loaded:
    """The settings file's text, checked against the procedures of the code."""
    base = base_procedures()
    raw = toml(text)
    escalation = raw.pop("escalation", {})
    found = _catalog_problems(raw, base)
    try:
        parsed = SettingsFile.model_validate({"escalation": escalation, "procedures": raw})
    except ValidationError as exc:
        found += problems(exc, _key, _message)
    if found:
        raise Invalid(in_order(found))
    return Loaded(path, apply_settings(base, parsed), dict(parsed.escalation))


FILE = RulesFile("procedure settings {path} are invalid", code="invalid_procedure_settings",
                 setting="procedures_file", parse=_parse,
                 default=lambda: Loaded(None, dict(base_procedures()), {}))
check, load, current, reset = FILE.check, FILE.load, FILE.current, FILE.reset


def all_procedures() -> dict[str, ProcedureSpec]:
    """Every procedure by code, with the operator's settings applied (read once per process)."""
    return dict(current().procedures)


def procedure(code: str) -> ProcedureSpec:
    """The procedure of a code, read case-insensitively ("r2" is R2).

    Raises:
        UnknownProcedure: (a NotFound) naming the known codes.
    """
    procs = all_procedures()
    if code.upper() not in procs:
        raise UnknownProcedure(f"unknown procedure {code!r}; known: {', '.join(sorted(procs))}")
    return procs[code.upper()]


def step_spec(name: str) -> StepSpec:
    code = name.split(".", 1)[0]
    return procedure(code).step(name)


# --- what the engine asks ---------------------------------------------------------------------


def step_ladder(step: StepSpec, owner: str, agencies: Mapping[str, AgencyNode],
                levels: Mapping[str, LadderSettings] | None = None) -> list[str]:
    """The escalation ladder of `step` when `owner` has it: the rungs from the owner up.

    The most specific setting wins: the step's own `escalate_to`, then its owner level's
    (`[escalation.<level>]`), else the ladder rule (app/domain/ladder.py) with the responsible
    bureau of the step, else of the owner's level, else of the agency itself.
    """
    levels = current().escalation if levels is None else levels
    if owner == TOP:
        return [TOP]
    if owner not in agencies:
        raise ValueError(f"unknown agency {owner!r}")
    level = levels.get(agencies[owner].level)
    explicit = step.escalate_to or (level.escalate_to if level else None)
    if explicit:
        return [owner, *(r for r in explicit if r != owner)]
    return ladder_for(owner, agencies, bureau=step.bureau or (level.bureau if level else None))


def describe_ladder(step: StepSpec, levels: Mapping[str, LadderSettings] | None = None) -> str:
    """The ladder in words, for a step whose owner the flow names at run time."""
    levels = current().escalation if levels is None else levels
    if step.owner is not None:
        return " → ".join(step_ladder(step, step.owner, agency_nodes(), levels))
    if step.escalate_to:
        return " → ".join(["(owner)", *step.escalate_to])
    above = step.bureau or "the owner's bureau"
    return f"(owner) → up its chain → {above} → {TOP}"


# --- the settings written out -----------------------------------------------------------------

HEADER = """\
# Procedure settings: every step deadline, rung deadline, wait and escalation ladder.
#
# Read once at start-up; the system refuses to start when this file is invalid, and a change
# applies after `protect up` / `protect serve` is restarted. PROTECT_PROCEDURES_FILE names
# another file, which may hold only the keys it changes: the rest keep the code's defaults.
# Check a file with `protect procedures check FILE`. See docs/engine.md, "Procedure settings".
#
# Durations: "24h" hours, "5wd" working days on the Chinese calendar, "60d" calendar days,
# "1mo" calendar months, "2y" years.
#
# [<CODE>.steps.<step>]   deadline       the owner's time for the step
#                         rung_deadline  the time given to each higher rung (default: deadline)
#                         bureau         the municipal bureau above a local owner (e.g. "mca")
#                         escalate_to    the rungs above the owner, ending at "office"
#                                        (e.g. ["psb/supervisor", "office"]): replaces the rule
# [<CODE>.waits]          <wait> = "2y" or a list ["1mo", "3mo"]: when timers fall due
# [escalation.<level>]    bureau, escalate_to: for owners of that level (community, street,
#                         district, institution, hospital, municipal) on steps naming none
"""


def _toml(value: str | tuple[str, ...] | list[str]) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"


def render_settings(procedures: Mapping[str, ProcedureSpec],
                    escalation: Mapping[str, LadderSettings] | None = None,
                    source: str = "`protect procedures settings --defaults`") -> str:
    """The settings as a TOML file: what `procedures.toml` ships (every value written out)."""
    lines = [HEADER.rstrip("\n"), f"#\n# Written by {source}.", ""]
    for level, ladder in (escalation or {}).items():
        lines.append(f"[escalation.{level}]")
        lines += [f"{k} = {_toml(v)}" for k, v in ladder.model_dump().items() if v is not None]
        lines.append("")
    for code, spec in procedures.items():
        lines += [f"# --- {code} {spec.full_title} ---", ""]
        for step in spec.steps:
            owner = step.owner or f"by the flow: {step.owner_rule or '?'}"
            lines += textwrap.wrap(f"{step.title}; owner {owner}", 99, initial_indent="# ",
                                   subsequent_indent="#   ")
            lines.append(f"[{code}.steps.{step.short}]")
            lines.append(f"deadline = {_toml(step.deadline)}")
            for key in ("rung_deadline", "bureau", "escalate_to"):
                value = getattr(step, key)
                if value is not None:
                    lines.append(f"{key} = {_toml(value)}")
            lines.append("")
        if spec.waits:
            lines.append(f"[{code}.waits]")
            for wait in spec.waits:
                lines.append(f"# {wait.title}, counted from {wait.since}")
                lines.append(f"{wait.name} = {_toml(wait.after)}")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
