"""The common passwords refused as passwords (app/domain/passwords.py): a file shipped with
the code, app/config/common-passwords.txt, about 8,000 of the most common passwords of 8
characters or more, lower case."""

from __future__ import annotations

from functools import cache
from pathlib import Path

COMMON_FILE = Path(__file__).with_name("common-passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines
                     if line.strip() and not line.startswith("#"))
