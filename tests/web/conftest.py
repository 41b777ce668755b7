"""Web page test set-up: the app under uvicorn on a free port, Debian's chromium driven by
Playwright (no browser is downloaded), and users of every role with passwords.

The pages are read in Debian's `chromium-headless-shell`: the same Chromium (Blink, V8, the
fonts) without the windows of a desktop browser, as Playwright itself runs headless tests. A
new context with its page costs it a quarter of the CPU that `chromium --headless` spends on
one (about 130 ms against 470 ms here; bench/browser_pages.py, docs/decisions.md). What only
the desktop browser has, its own language (the words inside a date input: 年/月/日), is read
in Debian's `chromium` (`desktop_browser`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.adapters.store import db
from app.domain import clock
from app.services import users as auth
from tests.conftest import LOGS, free_port

HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def web_url(store: str) -> Iterator[str]:
    """A real uvicorn server (app/runtime/local.py:ApiServer) serving the API and the pages."""
    from app.config.settings import get_settings
    from app.runtime.local import ApiServer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROTECT_API_PORT", str(free_port()))
        get_settings.cache_clear()
        server = ApiServer(LOGS / "web.log")
        try:
            server.start()
            yield server.url
        finally:
            server.stop()
            get_settings.cache_clear()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright's driver: one a session, for both browsers (a second one would find the
    first one's event loop running)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def _launch(playwright: Any, executable: str) -> Any:
    # The browser's own language is a Chinese worker's: it decides how a date input shows its
    # date (年/月/日). Chromium on Linux takes it from LANGUAGE (--lang is for the other
    # systems) and needs Debian's chromium-l10n for its Chinese.
    return playwright.chromium.launch(executable_path=executable, headless=True,
                                      args=["--no-sandbox", "--disable-gpu", "--lang=zh-CN"],
                                      env={**os.environ, "LANGUAGE": "zh_CN:zh"})


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    """Chromium's headless shell, for every page test."""
    b = _launch(playwright, HEADLESS_SHELL)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def desktop_browser(playwright: Any) -> Iterator[Any]:
    """Debian's desktop chromium, headless: for what it shows in its own language, which the
    headless shell has no words for (it shows a date input's fields as yyyy/mm/dd)."""
    b = _launch(playwright, CHROMIUM)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture()
def page(browser: Any, web_url: str) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; every request it makes is recorded."""
    context = browser.new_context(base_url=web_url, locale="zh-CN")
    pg = context.new_page()
    pg.requested = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requested.append(r.url))  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


Person = tuple[str, str]


@pytest.fixture(scope="session")
def person(store: str) -> Callable[..., Person]:
    """Create a user of `agency` with `roles` and a password: (username, password)."""

    def make(agency: str, *roles: str) -> Person:
        name, password = f"{roles[0]}-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        with db() as session:
            auth.add_user(session=session, username=name, agency=agency, roles=list(roles),
                          password=password, actor="test", now=clock.now())
        return name, password

    return make


def sign_in(page: Any, who: Person, path: str = "/") -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"/login?next={path}")
    page.fill("input[name=username]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#username").inner_text() == who[0], page.content()[:500]


@pytest.fixture(scope="session")
def signed_in(person: Callable[..., Person]) -> Callable[..., Person]:
    """Sign a page in as the session's user of (agency, role), opening `path`: the first time
    through the login form, after that with that sign-in's cookies (a new user and a login
    cost an argon2 hash each). For the tests that read pages as a role sees them; the tests
    of signing in and out make users of their own."""
    jars: dict[tuple[str, str], tuple[Person, list[Any]]] = {}

    def go(page: Any, agency: str, role: str, path: str = "/") -> Person:
        if (agency, role) not in jars:
            who = person(agency, role)
            sign_in(page, who, path)
            jars[agency, role] = (who, page.context.cookies())
            return who
        who, cookies = jars[agency, role]
        page.context.add_cookies(cookies)
        page.goto(path)
        assert page.locator("#username").inner_text() == who[0], page.content()[:500]
        return who

    return go


@pytest.fixture(scope="session")
def hotline_case(store: str, person: Callable[..., Person]) -> dict[str, Any]:
    """A case as issue 17 saw it (tests/web/scenario.py), made once for the pages' tests."""
    from tests.web.scenario import hotline_case as make

    return make(person)
