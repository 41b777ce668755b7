"""The operator's rules files, read, checked and kept one way.

procedures.toml, risk.toml, hotline.toml and calendar.toml are each a `RulesFile`: read from the
path the settings name (app/config/settings.py) once per process, checked as a whole at
start-up, and refused with every problem at once, naming the file, each key with what is wrong
and, for the calendar, each line. The module of each kind says what its text must hold.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.config.settings import get_settings
from app.domain.calendar_data import Problem
from app.domain.errors import ProtectError

T = TypeVar("T")


class Invalid(Exception):
    """What a kind's parser found wrong in a file's text; `RulesFile.check` adds the file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


class RulesFileError(ProtectError):
    """A rules file cannot be used: its kind, its path and every problem."""

    def __init__(self, kind: RulesFile[Any], path: Path | str, problems: list[Problem]) -> None:
        self.kind, self.path, self.problems, self.code = kind, str(path), problems, kind.code
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{kind.invalid.format(path=path)} ({len(problems)} problem(s)):\n"
                         f"{lines}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "file": self.path,
                "problems": [{**({"line": p.line} if self.kind.by_line else {}), "key": p.key,
                              "problem": p.message} for p in self.problems]}


class RulesFile(Generic[T]):
    """One kind of rules file.

    Args:
        invalid: How a refusal begins, e.g. "risk rules {path} are invalid".
        code: The refusal's stable code for the CLI and the API.
        setting: The field of the settings that names the file in effect.
        parse: The file's text and path → what the process uses; raises Invalid.
        default: What the process uses when the settings name no file.
        by_line: Whether a problem is given with its line (in `to_dict` too).
    """

    def __init__(self, invalid: str, *, code: str, setting: str,
                 parse: Callable[[str, Path], T], default: Callable[[], T] | None = None,
                 by_line: bool = False) -> None:
        self.invalid, self.code, self.setting = invalid, code, setting
        self.parse, self.default, self.by_line = parse, default, by_line
        self._once = lru_cache(self.load)

    def check(self, text: str, path: Path | str) -> T:
        """Check a file's text.

        Raises:
            RulesFileError: naming `path`, and every problem.
        """
        try:
            return self.parse(text, Path(path))
        except Invalid as exc:
            raise RulesFileError(self, path, exc.problems) from None

    def load(self, path: Path | str | None) -> T:
        """Read and check the file at `path` (None: no file, the kind's default).

        Raises:
            RulesFileError: the file is missing, not UTF-8, not TOML, or has invalid values.
        """
        if path is None:
            if self.default is None:
                raise TypeError("this kind of rules file has no default: name a file")
            return self.default()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            raise RulesFileError(self, path, [Problem(0, "(file)", "no such file")]) from None
        except UnicodeDecodeError as exc:
            raise RulesFileError(self, path, [Problem(0, "(file)", f"not UTF-8 text: {exc}")]) \
                from None
        return self.check(text, path)

    def current(self) -> T:
        """The file of this process: read once, at the first use (start-up checks it)."""
        return self._once(getattr(get_settings(), self.setting))

    def reset(self) -> None:
        """Forget the file read so far (tests; a process reads it once)."""
        self._once.cache_clear()


# --- what the kinds' parsers share --------------------------------------------------------------


def toml(text: str) -> dict[str, Any]:
    """The file's tables. Raises Invalid when it is not TOML (tomllib's message has the line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid([Problem(0, "(file)", f"not valid TOML: {exc}")]) from None


def said(err: ErrorDetails) -> str:
    """What pydantic says is wrong with a value, for a person."""
    return str(err["msg"]).removeprefix("Value error, ")


def problems(exc: ValidationError, key: Callable[[tuple[int | str, ...]], str],
             message: Callable[[ErrorDetails], str] = said) -> list[Problem]:
    """A model's refusal as problems: each error's key (from its location) and message."""
    return [Problem(0, key(err["loc"]), message(err)) for err in exc.errors()]


def in_order(found: Iterable[Problem]) -> list[Problem]:
    """Each problem once, by line, then key."""
    return sorted(set(found), key=lambda p: (p.line, p.key, p.message))
