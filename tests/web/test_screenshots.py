"""Issue 17 is done when the screenshots of the inbox, a task form, the case page and the
dashboard, in Chinese, show no code and no English: this takes them (Chromium, 1280 px wide,
and the inbox, the task and the case at 375 px) and checks the text of each.

They are kept in the test's folder; with SCREENSHOTS_DIR=DIR they are written there too,
which is how docs/img/ was made:

    SCREENSHOTS_DIR=docs/img .venv/bin/python -m pytest tests/web/test_screenshots.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import open_case
from tests.web.conftest import sign_in
from tests.web.test_words_on_pages import visible_codes

WIDE, TALL = {"width": 1280, "height": 860}, {"width": 1280, "height": 1100}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="module")
def more_cases(hotline_case: dict[str, Any]) -> None:
    """A few more cases, in other districts and categories, so that the charts have bars."""
    for district, categories in (("jinfeng", ["left_behind"]), ("xixia", ["disabled"]),
                                 ("helan", ["poor_family", "left_behind"]),
                                 ("xingqing", ["orphan_scattered"]), ("lingwu", ["street"])):
        open_case(district=district, categories=categories)


def _shoot(browser: Any, web_url: str, who: Any, path: str, viewport: dict[str, int],
           out: Path, quoted: set[str], at: str | None = None) -> None:
    """Sign in as `who`, check the page's text, and take the window's picture (scrolled to
    the element `at`, if given)."""
    context = browser.new_context(base_url=web_url, locale="zh-CN", viewport=viewport,
                                  device_scale_factor=1)
    try:
        page = context.new_page()
        sign_in(page, who, path)
        assert visible_codes(page, allow=quoted) == [], path
        if at:
            page.locator(at).evaluate("e => window.scrollTo(0, e.offsetTop - 8)")
        page.screenshot(path=str(out), animations="disabled")
    finally:
        context.close()
    assert 0 < out.stat().st_size < 300_000, (out, out.stat().st_size)
    if os.environ.get("SCREENSHOTS_DIR"):
        target = Path(os.environ["SCREENSHOTS_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, target / out.name)


def test_the_four_pages_in_chinese_show_no_code_and_no_english(
        browser: Any, web_url: str, person: Any, hotline_case: dict[str, Any],
        more_cases: None, tmp_path: Path) -> None:
    case, task = hotline_case["case"], hotline_case["identity"]
    police, coordinator = person("psb", "worker"), person("center", "coordinator")
    manager = person("office", "manager")
    quoted = {hotline_case["reference"]}  # the hotline's reference of the report
    _shoot(browser, web_url, coordinator, "/inbox", WIDE, tmp_path / "web-inbox.png", quoted)
    _shoot(browser, web_url, police, f"/tasks/{task}", WIDE, tmp_path / "web-task.png", quoted,
           at="#task-form")
    _shoot(browser, web_url, coordinator, f"/cases/{case}", WIDE, tmp_path / "web-case.png", quoted,
           at="#steps")
    _shoot(browser, web_url, manager, "/dashboard", TALL, tmp_path / "web-dashboard.png", quoted)
    _shoot(browser, web_url, police, "/inbox", PHONE, tmp_path / "web-inbox-375.png", quoted)
    _shoot(browser, web_url, police, f"/tasks/{task}", PHONE, tmp_path / "web-task-375.png", quoted)
    _shoot(browser, web_url, coordinator, f"/cases/{case}", PHONE, tmp_path / "web-case-375.png",
           quoted, at="#steps")
