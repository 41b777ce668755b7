"""The risk assessment of screened children: rules in a settings file, checked at start-up.

`risk.toml` at the project root ships the rules; `PROTECT_RISK_FILE` names another file. Each
rule proposes procedures for a child whose categories, risks and age match it; a coordinator
confirms a proposal before anything starts (app/services/screening.py). See docs/screening.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.config.rules_file import Invalid, RulesFile, problems, toml
from app.domain.screening import CATEGORIES, RISKS


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


def _parse(text: str, _path: Path) -> list[RiskRule]:
    """The rules file's text, checked; a rule's problems name it by place and name."""
    raw = toml(text)

    def key(loc: tuple[int | str, ...]) -> str:
        where: list[int | str] = list(loc)
        if len(where) >= 2 and where[0] == "rules" and isinstance(where[1], int):
            rules = raw.get("rules")
            name = rules[where[1]].get("name") if isinstance(rules, list) and isinstance(
                rules[where[1]], dict) else None
            where[1] = f"[{where[1]}]" + (f"({name})" if name else "")
        return ".".join(str(p) for p in where).replace(".[", "[") or "(file)"

    try:
        return list(RiskFile.model_validate(raw).rules)
    except ValidationError as exc:
        raise Invalid(problems(exc, key)) from None


FILE = RulesFile("risk rules {path} are invalid", code="invalid_risk_settings",
                 setting="risk_file", parse=_parse)
check, load, current_rules, reset = FILE.check, FILE.load, FILE.current, FILE.reset
