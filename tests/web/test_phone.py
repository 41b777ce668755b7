"""The pages a case worker opens on a phone, at 375 px wide: the inbox, a task's form and the
case page show everything without a sideways scroll (tables become cards), and a screenshot of
each is kept in the test's folder to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

PHONE = {"width": 375, "height": 812}


@pytest.fixture()
def phone(browser: Any, web_url: str) -> Any:
    context = browser.new_context(base_url=web_url, locale="zh-CN", viewport=PHONE,
                                  device_scale_factor=1, is_mobile=True, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def _fits(page: Any, shot: Path) -> None:
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width} px wide"
    # Nothing sticks out of the page to the right either (a scroll inside its own box is fine).
    wider = page.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                     && !e.closest('[style*=overflow], .charts figure, table:not(.cards)'))
        .map(e => e.tagName + '.' + e.className)""")
    assert wider == [], f"{page.url}: {wider[:5]}"


@pytest.mark.parametrize(("agency", "role", "where"), [
    ("psb", "worker", "inbox"), ("psb", "worker", "task"), ("center", "coordinator", "case"),
    ("center", "coordinator", "inbox")])
def test_the_page_fits_a_phone(phone: Any, signed_in: Any, hotline_case: dict[str, Any],
                               tmp_path: Path, agency: str, role: str, where: str) -> None:
    path = {"inbox": "/inbox", "task": f"/tasks/{hotline_case['identity']}",
            "case": f"/cases/{hotline_case['case']}"}[where]
    signed_in(phone, agency, role, path)
    if where == "inbox":  # the tasks are cards, each field named
        row = phone.locator(f"tr[data-task='{hotline_case['identity']}']")
        assert row.count() == 1 and "身份核查与寻亲" in row.inner_text()
        assert phone.locator("table.tasks thead").is_hidden()
    elif where == "task":
        assert phone.locator("#task-form").count() == 1
    else:
        assert phone.locator("#events li").count() > 15
    _fits(phone, tmp_path / f"{where}-{role}-375.png")
