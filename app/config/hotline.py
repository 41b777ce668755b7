"""The hotline's triage rules: categories → agencies to route to and procedures to start.

`hotline.toml` at the project root ships the rules; `PROTECT_HOTLINE_FILE` names another file
(a whole rule set: categories are replaced, not merged). The file is read and checked once per
process, at start-up, like procedures.toml: every problem is reported at once with the file, the
key and what is wrong, and the system refuses to start (exit code 2). See docs/hotline.md.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.domain.errors import ProtectError
from app.domain.screening import Category as ChildCategory
from app.domain.triage import CONCERNS, LOCAL, CategoryRule, Concern


class HotlineSettingsError(ProtectError):
    """The hotline rules cannot be used: each problem names its key."""

    code = "invalid_hotline_settings"

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.path, self.problems = str(path), problems
        lines = "\n".join(f"  {key}: {problem}" for key, problem in problems)
        super().__init__(f"hotline settings {path} are invalid "
                         f"({len(problems)} problem(s)):\n{lines}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "file": self.path,
                "problems": [{"key": k, "problem": p} for k, p in self.problems]}


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


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "fallback"
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        elif err["type"] == "literal_error" and "child_categories" in err["loc"]:
            message = f"unknown child category; one of {', '.join(get_args(ChildCategory))}"
        elif err["type"] == "literal_error":
            message = f"unknown concern; one of {', '.join(CONCERNS)}"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        out.append((key, message))
    return out


class HotlineRules:
    """The checked rules: categories in the file's order, and the fallback."""

    def __init__(self, path: Path | None, parsed: HotlineFile) -> None:
        self.path, self.fallback = path, parsed.fallback
        self.categories = {name: CategoryRule(name, c.title, tuple(c.concerns),
                                              tuple(c.route_to), tuple(c.start),
                                              tuple(c.child_categories))
                           for name, c in parsed.categories.items()}


def parse(text: str, path: Path | str) -> HotlineRules:
    """Check the rules' text.

    Raises:
        HotlineSettingsError: naming `path`, and each key with its problem.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HotlineSettingsError(path, [("(file)", f"not valid TOML: {exc}")]) from None
    problems = []
    categories, fallback = raw.get("categories"), raw.get("fallback")
    if isinstance(categories, dict) and isinstance(fallback, str) and fallback not in categories:
        # Checked here too, so that it is reported with the other problems, not after them.
        problems.append(("fallback", f"fallback {fallback!r} is not a category; one of "
                                     f"{', '.join(categories)}"))
    try:
        parsed = HotlineFile.model_validate(raw)
    except ValidationError as exc:
        problems += _problems(exc)
    if problems:
        raise HotlineSettingsError(path, sorted(set(problems)))
    return HotlineRules(Path(path), parsed)


def load(path: Path | str) -> HotlineRules:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HotlineSettingsError(path, [("(file)", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise HotlineSettingsError(path, [("(file)", f"not UTF-8 text: {exc}")]) from None
    return parse(text, path)


@lru_cache
def _load_once(path: Path) -> HotlineRules:
    return load(path)


def current() -> HotlineRules:
    """The rules of this process: read once, at the first use (start-up checks them)."""
    from app.config.settings import get_settings

    return _load_once(get_settings().hotline_file)


def reset() -> None:
    """Forget the rules read so far (tests; a process reads them once)."""
    _load_once.cache_clear()
