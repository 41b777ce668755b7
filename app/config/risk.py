"""The risk assessment of screened children: rules in a settings file, checked at start-up.

`risk.toml` at the project root ships the rules; `PROTECT_RISK_FILE` names another file. Each
rule proposes procedures for a child whose categories, risks and age match it; a coordinator
confirms a proposal before anything starts (app/services/screening.py). See docs/screening.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.domain.errors import ProtectError
from app.domain.screening import CATEGORIES, RISKS


class RiskSettingsError(ProtectError):
    """The risk rules cannot be used: each problem names its key."""

    code = "invalid_risk_settings"

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.path, self.problems = str(path), problems
        lines = "\n".join(f"  {key}: {problem}" for key, problem in problems)
        super().__init__(f"risk rules {path} are invalid ({len(problems)} problem(s)):\n{lines}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "file": self.path,
                "problems": [{"key": k, "problem": p} for k, p in self.problems]}


def _known(kind: str, known: dict[str, Any]) -> Any:
    def check(values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in known]
        if unknown:
            raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(known)}")
        return values
    return AfterValidator(check)


def _procedures(values: list[str]) -> list[str]:
    from flows.catalog import base_procedures

    known = base_procedures()
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown procedure {', '.join(map(repr, unknown))}; codes as in "
                         f"`protect procedures`: {', '.join(sorted(known))}")
    if not values:
        raise ValueError("a rule proposes at least one procedure")
    return values


class RiskRule(BaseModel):
    """When a child matches, propose these procedures.

    A child matches when it has any of `categories` (if given) and any of `risks` (if given),
    and its age at the import is within `min_age`..`max_age` (inclusive).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    title: str = ""
    categories: Annotated[list[str], _known("category", CATEGORIES)] = Field(default_factory=list)
    risks: Annotated[list[str], _known("risk", RISKS)] = Field(default_factory=list)
    min_age: int = Field(0, ge=0, le=17)
    max_age: int = Field(17, ge=0, le=17)
    propose: Annotated[list[str], AfterValidator(_procedures)]

    @model_validator(mode="after")
    def _sensible(self) -> RiskRule:
        if not self.categories and not self.risks:
            raise ValueError("a rule names categories, risks or both")
        if self.min_age > self.max_age:
            raise ValueError(f"min_age {self.min_age} is above max_age {self.max_age}")
        return self


class RiskFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: list[RiskRule]

    @model_validator(mode="after")
    def _unique(self) -> RiskFile:
        names = [r.name for r in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique: {', '.join(twice)}")
        return self


@dataclass(frozen=True)
class Proposal:
    code: str
    rule: str


def assess(rules: list[RiskRule], *, categories: list[str], risks: list[str],
           age: int) -> list[Proposal]:
    """The procedures the rules propose for one child, each once (the first rule names it)."""
    out: dict[str, Proposal] = {}
    for rule in rules:
        if rule.categories and not set(rule.categories) & set(categories):
            continue
        if rule.risks and not set(rule.risks) & set(risks):
            continue
        if not rule.min_age <= age <= rule.max_age:
            continue
        for code in rule.propose:
            out.setdefault(code, Proposal(code, rule.name))
    return list(out.values())


def parse_rules(text: str, path: Path | str) -> list[RiskRule]:
    """Check a rules file's text. Raises RiskSettingsError naming `path`, each key and problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RiskSettingsError(path, [("(file)", f"not valid TOML: {exc}")]) from None
    try:
        return list(RiskFile.model_validate(raw).rules)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
                rules = raw.get("rules")
                name = rules[loc[1]].get("name") if isinstance(rules, list) and isinstance(
                    rules[loc[1]], dict) else None
                loc[1] = f"[{loc[1]}]" + (f"({name})" if name else "")
            key = ".".join(str(p) for p in loc).replace(".[", "[") or "(file)"
            problems.append((key, str(err["msg"]).removeprefix("Value error, ")))
        raise RiskSettingsError(path, problems) from None


def load_rules(path: Path) -> list[RiskRule]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RiskSettingsError(path, [("(file)", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise RiskSettingsError(path, [("(file)", f"not UTF-8 text: {exc}")]) from None
    return parse_rules(text, path)


@lru_cache
def _load_once(path: Path) -> list[RiskRule]:
    return load_rules(path)


def current_rules() -> list[RiskRule]:
    """The rules of this process: read once, at the first use (start-up checks them)."""
    from app.config.settings import get_settings

    return _load_once(get_settings().risk_file)
