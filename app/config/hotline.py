"""The hotline's triage rules: categories → agencies to route to and procedures to start.

`hotline.toml` at the project root ships the rules; `PROTECT_HOTLINE_FILE` names another file
(a whole rule set: categories are replaced, not merged). The file is read and checked once per
process, at start-up, like procedures.toml: every problem is reported at once with the file, the
key and what is wrong, and the system refuses to start (exit code 2). See docs/hotline.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from app.config.rules_file import Invalid, RulesFile, in_order, problems, said, toml
from app.domain.calendar_data import Problem
from app.domain.screening import Category as ChildCategory
from app.domain.triage import CONCERNS, LOCAL, CategoryRule, Concern


def _agency(value: str) -> str:
    from app.config.procedures import known_agencies

    if value in LOCAL:
        return value
    if value not in known_agencies():
        raise ValueError(f"unknown agency {value!r} (codes as in `protect agency list`, e.g. "
                         f"psb, center; or where the child is: {', '.join(LOCAL)})")
    return value


def _procedure(value: str) -> str:
    from flows.catalog import base_procedures

    known = [c for c in base_procedures() if c != "S1"]
    if value not in known:
        raise ValueError(f"unknown procedure {value!r}; one of {', '.join(sorted(known))}")
    return value


def _once(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError(f"a value appears twice in {values!r}")
    return values


class CategorySettings(BaseModel):
    """One category of report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    concerns: Annotated[list[Concern], AfterValidator(_once)] = Field(default_factory=list)
    route_to: Annotated[list[Annotated[str, AfterValidator(_agency)]],
                        AfterValidator(_once)] = Field(min_length=1)
    start: Annotated[list[Annotated[str, AfterValidator(_procedure)]],
                     AfterValidator(_once)] = Field(default_factory=list)
    # The child's categories (保护对象类别, as at intake) a report in this category records on
    # the case's child: what the case page shows and the dashboard counts by.
    child_categories: Annotated[list[ChildCategory], AfterValidator(_once)] = Field(
        default_factory=list)


class HotlineFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fallback: str
    categories: dict[str, CategorySettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _fallback_is_a_category(self) -> HotlineFile:
        if self.fallback not in self.categories:
            raise ValueError(f"fallback {self.fallback!r} is not a category; one of "
                             f"{', '.join(self.categories)}")
        return self


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "fallback"


def _message(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown setting"
    if err["type"] == "literal_error" and "child_categories" in err["loc"]:
        return f"unknown child category; one of {', '.join(get_args(ChildCategory))}"
    if err["type"] == "literal_error":
        return f"unknown concern; one of {', '.join(CONCERNS)}"
    return said(err)


class HotlineRules:
    """The checked rules: categories in the file's order, and the fallback."""

    def __init__(self, path: Path | None, parsed: HotlineFile) -> None:
        self.path, self.fallback = path, parsed.fallback
        self.categories = {name: CategoryRule(name, c.title, tuple(c.concerns),
                                              tuple(c.route_to), tuple(c.start),
                                              tuple(c.child_categories))
                           for name, c in parsed.categories.items()}


def _parse(text: str, path: Path) -> HotlineRules:
    """The rules file's text, checked."""
    raw = toml(text)
    found = []
    categories, fallback = raw.get("categories"), raw.get("fallback")
    if isinstance(categories, dict) and isinstance(fallback, str) and fallback not in categories:
        # Checked here too, so that it is reported with the other problems, not after them.
        found.append(Problem(0, "fallback", f"fallback {fallback!r} is not a category; one of "
                                            f"{', '.join(categories)}"))
    try:
        parsed = HotlineFile.model_validate(raw)
    except ValidationError as exc:
        found += problems(exc, _key, _message)
    if found:
        raise Invalid(in_order(found))
    return HotlineRules(path, parsed)


FILE = RulesFile("hotline settings {path} are invalid", code="invalid_hotline_settings",
                 setting="hotline_file", parse=_parse)
check, load, current, reset = FILE.check, FILE.load, FILE.current, FILE.reset
