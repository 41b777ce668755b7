"""The two message tables of the web pages hold the same labels, and every label a template
asks for is in them."""

from __future__ import annotations

import re
from pathlib import Path

from app.entrypoints.web.i18n import MESSAGES

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "entrypoints" / "web" / "templates"


def test_chinese_and_english_tables_have_the_same_keys() -> None:
    zh, en = set(MESSAGES["zh"]), set(MESSAGES["en"])
    assert zh - en == set() and en - zh == set()
    assert all(v.strip() for table in MESSAGES.values() for v in table.values())


def test_every_label_the_templates_use_is_in_the_tables() -> None:
    label = re.compile(r"""\bt\(["']([a-z_.]+[a-z_])["']""")
    used = {m for p in TEMPLATES.glob("*.html")
            for m in label.findall(p.read_text(encoding="utf-8"))}
    assert len(used) > 40
    assert used - set(MESSAGES["zh"]) == set()
