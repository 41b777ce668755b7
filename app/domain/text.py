"""What a person may type: one rule for names and free text, at intake, in the API and in
screening lists; and what a spreadsheet must never get back as a live formula.

Invisible format characters (zero-width spaces and joiners, the byte-order mark, the
left-to-right and right-to-left marks, embeddings, overrides and isolates) are stripped: they
arrive by copy and paste and change what a name looks like without being seen. Control
characters are refused: a name holds none, and free text holds only line breaks and tabs.
"""

from __future__ import annotations

import unicodedata

# Unicode's format characters (category Cf) that a person cannot see in a name: zero-width
# space, non-joiner, joiner, word joiner, the BOM, the directional marks, embeddings, overrides
# and isolates, and the invisible operators.
INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u00ad\u180e"
)
# OWASP's CSV-injection guidance: a cell beginning with one of these is read as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FREE_TEXT_CONTROLS = frozenset("\n\t")


class TextRefused(ValueError):
    """A text a person typed that cannot be kept; the message says why, in English.

    Attributes:
        reason_zh: The same reason in Chinese, for the pages and the rejects file.
    """

    def __init__(self, message: str, reason_zh: str) -> None:
        super().__init__(message)
        self.reason_zh = reason_zh


def strip_invisible(text: str) -> str:
    """The text without its invisible format characters."""
    return "".join(ch for ch in text if ch not in INVISIBLE)


def has_control(text: str, *, multiline: bool = False) -> bool:
    """Tell whether the text holds a control character (line breaks and tabs allowed when
    `multiline`)."""
    allowed = _FREE_TEXT_CONTROLS if multiline else frozenset()
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def looks_like_formula(text: str) -> bool:
    """Tell whether a spreadsheet would read this text as a formula (OWASP's prefixes)."""
    return text.startswith(FORMULA_PREFIXES)


def clean_text(text: str, *, multiline: bool = False, name: bool = False) -> str:
    """A typed text as it is kept: invisible characters stripped, surrounding spaces trimmed.

    Args:
        text: What was typed.
        multiline: Free text, where line breaks and tabs are allowed (CR LF is kept as LF).
        name: A person's name, which also may not begin like a formula.

    Returns:
        The cleaned text (possibly empty: the caller's own rules decide whether that is allowed).

    Raises:
        TextRefused: On a control character, or a name beginning like a formula.
    """
    cleaned = strip_invisible(text)
    if multiline:
        cleaned = cleaned.replace("\r\n", "\n")  # a Windows line break (and a browser's)
    if has_control(cleaned, multiline=multiline):
        raise TextRefused("contains a control character", "含有控制字符")
    cleaned = cleaned.strip()
    if name and looks_like_formula(cleaned):
        raise TextRefused("begins like a spreadsheet formula (=, +, -, @)",
                          "以公式符号开头（= + - @）")
    return cleaned


def escape_formula(value: object) -> object:
    """A value as it may be written into a spreadsheet cell: text that a spreadsheet would
    read as a formula gets a leading apostrophe (OWASP), anything else is returned as it is."""
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def unescape_formula(text: str) -> str:
    """A cell read back from a file this system wrote: the apostrophe `escape_formula` put
    before a formula-like text is taken off again (the text is then judged as it was first
    sent); any other text is returned as it is."""
    if text.startswith("'") and looks_like_formula(text[1:]):
        return text[1:]
    return text
