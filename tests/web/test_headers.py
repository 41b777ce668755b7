"""The security headers (app/entrypoints/web/headers.py) on every page as each role walks
them, on the static files and the API's answers; Chromium reports no Content-Security-Policy
violation on any page; the docs page runs its one inline script by its hash; the session
cookie is Secure in production."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from app.entrypoints.web.headers import API_CSP, PAGE_CSP
from tests.web.conftest import sign_in

COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
          "referrer-policy": "no-referrer"}
# Every CSP violation the page sees, kept on the page (an init script runs before the page's
# own and is not subject to its policy).
LISTEN = """window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(
    e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '')));"""


class Walk:
    """A browser page that records, for every answer of the server, its path, kind and
    headers, and every CSP violation Chromium reports (console and event)."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.host = page, urlsplit(base).netloc
        self.answers: list[tuple[str, str, int, dict[str, str]]] = []
        self.console: list[str] = []
        page.add_init_script(LISTEN)
        page.on("response", self.answered)
        page.on("console", lambda m: self.console.append(m.text))

    def answered(self, response: Any) -> None:
        url = urlsplit(response.url)
        if url.netloc == self.host:
            self.answers.append((url.path, response.request.resource_type, response.status,
                                 response.all_headers()))

    def visit(self, path: str) -> None:
        self.page.goto(path)
        self.page.wait_for_load_state("networkidle")
        self.check()

    def check(self) -> None:
        seen = self.page.evaluate("window.__violations")
        refused = [m for m in self.console if "Content Security Policy" in m]
        assert seen == [] and refused == [], (self.page.url, seen, refused)


def done_task(case_no: str, owner: str) -> int:
    """A task of the case that `owner` has completed: the inbox after it (`?after=`) says what
    came next, with the one script (static/next-task.js)."""
    from sqlmodel import col, select

    from app.adapters.store import db
    from models import Case, HumanTask

    with db() as session:
        return int(session.exec(select(HumanTask.id).join(Case, col(Case.id) == HumanTask.case_id)
                                .where(Case.case_no == case_no, HumanTask.owner == owner,
                                       HumanTask.status == "done")).first() or 0)


def paths_for(role: str, case: dict[str, Any], record: int) -> list[str]:
    found = {"coordinator": ["/inbox", "/cases", f"/cases/{case['case']}", "/dashboard",
                             "/inbox?lang=en", f"/cases/{case['case']}?lang=en",
                             "/cases/C2026-999999999"],  # a page of its own: the 404
             "worker": ["/inbox", f"/tasks/{case['identity']}",
                        f"/inbox?done=resumed&after={done_task(case['case'], 'psb')}",
                        f"/cases/{case['case']}",
                        "/dashboard"],  # refused: the 403 page
             "supervisor": ["/inbox", "/dashboard", f"/cases/{case['case']}"],
             "manager": ["/dashboard", "/cases", f"/cases/{case['case']}", "/dashboard?lang=en"],
             "judicial": ["/sealed", f"/sealed?record={record}"]}
    return found[role]


ROLES = {"coordinator": "center", "worker": "psb", "supervisor": "psb", "manager": "office",
         "judicial": "court"}


@pytest.fixture(scope="module")
def record(hotline_case: dict[str, Any]) -> int:
    from tests.api.conftest import add_sealed_record

    return add_sealed_record(hotline_case["case"])


def test_the_violation_listener_hears_an_inline_script(page: Any, web_url: str) -> None:
    walk = Walk(page, web_url)
    walk.visit("/login")
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.ran = true'; document.body.append(s);
                             document.body.setAttribute('style', 'color: red'); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran === undefined")  # refused
    with pytest.raises(AssertionError, match="script-src"):
        walk.check()


@pytest.mark.parametrize("role", ROLES)
def test_every_page_has_the_headers_and_no_csp_violation(
        page: Any, web_url: str, person: Any, hotline_case: dict[str, Any], record: int,
        role: str) -> None:
    walk = Walk(page, web_url)
    walk.visit("/login")
    sign_in(page, person(ROLES[role], role))
    walk.check()
    for path in paths_for(role, hotline_case, record):
        walk.visit(path)
        nav = page.eval_on_selector_all("header nav a[href^='/']",
                                        "links => links.map(a => a.getAttribute('href'))")
        for link in nav:
            if link not in paths_for(role, hotline_case, record):
                walk.visit(link)
    page.click("#sign-out")
    page.wait_for_url("**/login?bye=1")
    walk.check()

    documents = [a for a in walk.answers if a[1] == "document"]
    kinds = {a[1] for a in walk.answers}
    assert len(documents) >= len(paths_for(role, hotline_case, record)) + 2
    assert {"document", "stylesheet"} <= kinds, kinds
    for path, kind, _status, headers in walk.answers:  # redirects and error pages too
        for name, value in COMMON.items():
            assert headers.get(name) == value, (path, kind, name)
        if kind == "document":
            assert headers["content-security-policy"] == PAGE_CSP, path
    statuses = {a[2] for a in documents}
    assert {200, 303} <= statuses, statuses
    if role == "coordinator":
        assert 404 in statuses
    if role == "worker":  # the inbox after a submit loads the one script; a page refused
        assert "script" in kinds and 403 in statuses, (kinds, statuses)


def test_the_api_answers_and_static_files_carry_the_headers(web_url: str) -> None:
    for path, status, policy in [("/api/v1/health", 200, API_CSP),
                                 ("/api/v1/cases", 401, API_CSP),
                                 ("/api/v1/openapi.json", 200, API_CSP),
                                 ("/static/style.css", 200, PAGE_CSP),
                                 ("/static/next-task.js", 200, PAGE_CSP)]:
        r = requests.get(f"{web_url}{path}", timeout=30)
        assert r.status_code == status, path
        assert r.headers["content-security-policy"] == policy, path
        for name, value in COMMON.items():
            assert r.headers[name] == value, (path, name)


# The CDN's files stand in: the test runs offline. The stub does what the real bundle does
# first: the page's inline script calls it with the document's address.
SWAGGER_STUB = """window.SwaggerUIBundle = function (options) {
  document.getElementById('swagger-ui').textContent = 'loaded ' + options.url; };
window.SwaggerUIBundle.presets = {apis: {}}; window.SwaggerUIBundle.SwaggerUIStandalonePreset = {};
"""


def test_the_docs_page_runs_its_inline_script_by_its_hash(page: Any, web_url: str) -> None:
    walk = Walk(page, web_url)
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.fulfill(
        status=200, body=SWAGGER_STUB if route.request.url.endswith(".js") else "",
        content_type="text/javascript" if route.request.url.endswith(".js") else "text/css"))
    page.route("https://fastapi.tiangolo.com/**", lambda route: route.fulfill(status=204))
    walk.visit("/api/v1/docs")
    assert page.locator("#swagger-ui").inner_text() == "loaded /api/v1/openapi.json"
    policy = walk.answers[0][3]["content-security-policy"]
    assert "'sha256-" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy


@pytest.fixture()
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from app.config.settings import get_settings

    monkeypatch.setenv("PROTECT_ENV", "production")
    monkeypatch.setenv("PROTECT_WEBHOOK_SECRET", "w" * 32)
    monkeypatch.setenv("PROTECT_SESSION_KEY", "s" * 32)
    monkeypatch.setenv("PROTECT_HOTLINE_SECRET", "h" * 32)
    get_settings.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def session_cookie(store: str) -> str:
    from fastapi.testclient import TestClient

    from app.entrypoints.api import create_app
    from app.entrypoints.web import SESSION_COOKIE

    with TestClient(create_app(), base_url="https://testserver") as client:
        r = client.get("/login")
        assert r.status_code == 200
        return next(v for k, v in r.headers.multi_items()
                    if k == "set-cookie" and v.startswith(SESSION_COOKIE + "="))


def test_the_session_cookie_is_secure_in_production(store: str, production: None) -> None:
    cookie = session_cookie(store).lower()
    assert "; secure" in cookie and "; httponly" in cookie and "samesite=lax" in cookie


def test_the_session_cookie_is_not_secure_on_a_laptop(store: str) -> None:
    assert "; secure" not in session_cookie(store).lower()  # http://127.0.0.1 takes it


def test_a_page_too_large_is_a_page_with_the_headers(store: str) -> None:
    from fastapi.testclient import TestClient

    from app.entrypoints.api import create_app

    with TestClient(create_app()) as client:
        r = client.post("/login", content=b"username=" + b"x" * (2 * 2**20),
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "请求过大" in r.text
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", ["/api/v1/broken", "/broken"])
def test_an_unexpected_error_is_a_500_with_the_headers(store: str, path: str) -> None:
    """Starlette answers an unexpected exception from its outermost middleware, past the
    headers' one: the handler sets them itself."""
    from fastapi.testclient import TestClient

    from app.entrypoints.api import create_app

    app = create_app()

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route(path, broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get(path)
    assert r.status_code == 500
    assert r.headers["content-security-policy"] == (API_CSP if path.startswith("/api/")
                                                    else PAGE_CSP)
    assert {k: r.headers.get(k) for k in COMMON} == COMMON
    assert "a bug" not in r.text
