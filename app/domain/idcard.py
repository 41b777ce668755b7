"""PRC resident identity numbers (GB 11643-1999): check digit, embedded birth date, age."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# [0-9], not \d: \d also matches full-width and other Unicode digits, which int() accepts.
_FIRST17 = re.compile(r"[0-9]{17}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")


def check_digit(first17: str) -> str:
    """Compute the check character of an 18-character resident identity number.

    Args:
        first17: The first 17 characters of the number, all ASCII digits.

    Returns:
        The check character, "0"-"9" or "X".

    Raises:
        ValueError: If first17 is not exactly 17 ASCII digits.
    """
    if not isinstance(first17, str) or not _FIRST17.fullmatch(first17):
        raise ValueError("first17 must be exactly 17 ASCII digits")
    total = sum(int(ch) * weight for ch, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _embedded_date(value: str) -> date | None:
    """Return the YYYYMMDD date at positions 7-14, or None if it is not a real date."""
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def is_valid_id_number(value: str) -> bool:
    """Tell whether a string is a well-formed resident identity number.

    Well-formed means 17 ASCII digits then a digit or an upper-case "X", a check character
    that matches GB 11643-1999, and an embedded birth date that is a real calendar date.

    Args:
        value: The candidate number; non-strings are simply not valid.

    Returns:
        True if the number is well-formed, else False.
    """
    if not isinstance(value, str) or not _ID_NUMBER.fullmatch(value):
        return False
    return check_digit(value[:17]) == value[17] and _embedded_date(value) is not None


def birth_date_from_id(value: str) -> date | None:
    """Read the birth date out of a resident identity number.

    Args:
        value: The identity number.

    Returns:
        The embedded birth date, or None when the number is not valid (a number with a wrong
        check character is not trusted for its date either).
    """
    return _embedded_date(value) if is_valid_id_number(value) else None


def age_on(birth: date, on: date) -> int:
    """Count the full years between a birth date and a day.

    The age goes up on the birthday itself; someone born on 29 February turns a year older
    on 1 March in common years.

    Args:
        birth: Date of birth.
        on: The day the age is wanted for.

    Returns:
        Full years lived on that day; negative when birth is after on.
    """
    before_birthday = (on.month, on.day) < (birth.month, birth.day)
    return on.year - birth.year - int(before_birthday)


def normalize_id_number(value: str) -> str:
    """An ID number as it is kept: surrounding spaces stripped, a final lower-case x upper-cased.

    GB 11643 writes the check character ten as an upper-case X; people often type it in lower
    case. Anything else is left as it is, for the checks to accept or refuse.

    Args:
        value: The number as typed.

    Returns:
        The number with those two corrections.
    """
    value = value.strip()
    return value[:-1] + "X" if value.endswith("x") else value
