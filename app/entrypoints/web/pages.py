"""The pages: sign in and out, the agency inbox and its task forms, the case page, the
managers' dashboard, sealed records. Each route checks the action (app/domain/access.py), then
opens one unit of work and calls the service layer, or calls a use case that opens its own
(completing a task), as the API routes do; no business rule lives here.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from app.adapters.store import db
from app.config import vocabulary
from app.config.settings import get_settings
from app.domain import access, clock
from app.domain.access import Principal
from app.domain.errors import Conflict, Forbidden, NotFound, ProtectError, ValidationFailed
from app.domain.workdays import is_provisional, working_days_between
from app.entrypoints.web import forms
from app.entrypoints.web.i18n import DEFAULT, LANGUAGES, translator
from app.services import procedures, tasks
from app.services import users as auth
from app.services.cases import (
    allowed_agencies,
    case_timeline,
    list_cases,
    read_case,
    read_sealed_record_as,
)
from app.services.users import Unauthorized
from expectations.runner import without_great_expectations

log = logging.getLogger("protect.web")
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
LANG_COOKIE = "protect_lang"
CASE_REF = r"^(C\d{4}-\d{6,12}|\d{1,12})$"


class NeedLogin(ProtectError):
    """No session, or its token no longer works: the page sends the browser to sign in."""

    code = "unauthorized"


class CsrfRefused(ProtectError):
    """A form without this session's CSRF token."""

    code = "csrf"


# --- the language, the session, the CSRF token ------------------------------------------------


def language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGUAGES else DEFAULT


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf(request: Request, form: Any) -> None:
    sent, kept = form.get("csrf_token"), request.session.get("csrf")
    if not (isinstance(sent, str) and kept and hmac.compare_digest(sent, str(kept))):
        raise CsrfRefused("the form's CSRF token is missing or wrong")


def current_user(request: Request) -> Principal:
    """The signed-in user: the session's web token, checked against the store on every
    request, so signing out, a revoked or expired token or a deactivated user take effect at
    once. Only a web session's token (kind "web") is taken: an API token is refused here,
    and the API refuses this one."""
    token = request.session.get("token")
    if not token:
        raise NeedLogin("sign in first")
    try:
        with db() as session:
            who, _ = auth.authenticate(session=session, token=str(token), now=clock.now(),
                                       kind="web")
    except Unauthorized:
        request.session.clear()
        raise NeedLogin("the session has ended") from None
    return who


User = Annotated[Principal, Depends(current_user)]


def need(who: Principal, action: str) -> None:
    if not access.allowed(who, action):
        raise Forbidden(f"{action} is not open to the roles {', '.join(sorted(who.roles))}")


def local_time(value: datetime | None) -> str:
    """Beijing time, "YYYY-MM-DD HH:MM" (app/config/vocabulary.py:local_time)."""
    return vocabulary.local_time(value)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the request's language: `t` its labels, `w` the names of every code
    (app/config/vocabulary.py: `w.step(r.step)`, `w.agency(code)`, `w.event(e)` …)."""
    lang = language(request)
    s = get_settings()
    response = templates.TemplateResponse(request, name, {
        "t": translator(lang), "lang": lang, "other_lang": "en" if lang == "zh" else "zh",
        "w": vocabulary.Vocabulary(lang),
        "csrf": csrf_token(request), "prefect_ui": s.prefect_ui_url, "when": local_time,
        "allowed": lambda who, action: access.allowed(who, action), **context},
        status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True,
                            samesite="lax")
    return response


def error_page(request: Request, exc: Exception) -> Response:
    """Every refusal on a page as a page (the API keeps its JSON answers)."""
    if isinstance(exc, NeedLogin):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if isinstance(exc, CsrfRefused):
        status, key = 403, "error.csrf"
    elif isinstance(exc, Forbidden | Unauthorized):
        status, key = 403, "error.forbidden"
    elif isinstance(exc, NotFound):
        status, key = 404, "error.not_found"
    elif isinstance(exc, Conflict):
        status, key = 409, "error.conflict"
    elif isinstance(exc, RequestValidationError):
        status, key = 404, "error.not_found"  # a malformed id or case number in the path
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        key = {403: "error.forbidden", 404: "error.not_found"}.get(status, "error.bad_request")
    elif isinstance(exc, ProtectError):
        status, key = 400, "error.bad_request"
    else:
        route = getattr(request.scope.get("route"), "path", "?")
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, route)
        status, key = 500, "error.internal"
    try:
        who = current_user(request) if request.session.get("token") else None
    except NeedLogin:
        who = None
    return render(request, "error.html", status, who=who, message_key=key)


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never `//host` or a full URL."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


# --- signing in and out -----------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
    return render(request, "login.html", next=_safe_next(next), failed=False,
                  signed_out=request.query_params.get("bye") == "1", who=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or "/"))

    address = request.client.host if request.client else "unknown"

    def sign_in() -> str:
        with db() as session:
            _, _, token = auth.login(session=session, username=username, password=password,
                                     now=clock.now(), address=address, kind="web")
        return token

    try:
        token = await run_in_threadpool(sign_in)
    except auth.TooManyAttempts as exc:  # the API's rule: app/services/users.py
        page = render(request, "login.html", 429, next=target, failed=False, signed_out=False,
                      who=None, username=username, wait_min=math.ceil(exc.retry_after / 60))
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except (Unauthorized, ProtectError):
        return render(request, "login.html", 401, next=target, failed=True, signed_out=False,
                      who=None, username=username)
    request.session.clear()  # a new session on sign-in: nothing carried over
    request.session["token"] = token
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    token = request.session.get("token")

    def revoke() -> None:
        with db() as session:
            who, token_id = auth.authenticate(session=session, token=str(token),
                                              now=clock.now(), kind="web")
            auth.revoke_token(session=session, token_id=token_id, actor=who.actor,
                              now=clock.now())

    if token:
        try:
            await run_in_threadpool(revoke)
        except Unauthorized:
            pass
    request.session.clear()
    return RedirectResponse("/login?bye=1", status_code=303)


@router.get("/")
def home(who: User) -> Response:
    """Each role's first page: agencies and coordinators their inbox, managers the
    dashboard, judicial readers the sealed records."""
    if who.has("coordinator", "worker", "supervisor"):
        target = "/inbox"
    elif who.has("manager"):
        target = "/dashboard"
    elif who.has("judicial"):
        target = "/sealed"
    else:
        target = "/inbox"
    return RedirectResponse(target, status_code=303)


# --- the inbox and the task form --------------------------------------------------------------


def _task_row(t: Any, case_no: str, now: datetime) -> dict[str, Any]:
    return {"id": t.id, "case": case_no, "step": t.step, "title": t.title, "owner": t.owner,
            "owner_role": t.owner_role, "rung": t.rung, "status": t.status, "due_at": t.due_at,
            "procedure_run_id": t.procedure_run_id,
            "working_days_left": working_days_between(now, t.due_at),
            "due_provisional": is_provisional(now, t.due_at),
            "overdue": t.status == "open" and t.due_at <= now}


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, who: User,
          agency: Annotated[str | None, Query(pattern=r"^[a-z]+(:[a-z0-9-]+)?$",
                                              max_length=64)] = None,
          overdue: bool = False,
          after: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> HTMLResponse:
    """The agency's open tasks, overdue first, with working days left; `after` a submit of
    that task, what happens next (app/entrypoints/web/task_view.py after_submit)."""
    from app.entrypoints.web.task_view import after_submit

    need(who, "task.inbox")
    now = clock.now()
    done = request.query_params.get("done")
    with db() as session:
        rows = [_task_row(t, no, now) for t, no in tasks.inbox(
            session=session, viewer=who, now=now, agency=agency or None, overdue=overdue,
            limit=200)]
        submitted = after_submit(session, who, after, now, language(request),
                                 translator(language(request)), queued=done == "queued"
                                 ) if after else None
    return render(request, "inbox.html", who=who, rows=rows, agency=agency or "",
                  overdue=overdue, done=done, submitted=submitted,
                  can_open=access.allowed(who, "task.read"))


def _task_context(who: Principal, task_id: int, lang: str) -> dict[str, Any]:
    """Everything a task's page shows, in words (app/entrypoints/web/task_view.py): the case as the
    viewer may see it, the earlier steps' decisions, an S1 task's hotline report, the
    deadline and the ladder, and the form's inputs with their labels and choices."""
    from app.config.procedures import step_spec
    from app.config.vocabulary import agency_name, procedure_name, step_name
    from app.entrypoints.web import task_view

    t = translator(lang)
    now = clock.now()
    with db() as session:
        task, case_no, view = tasks.read_task(session=session, task_id=task_id, viewer=who,
                                              now=now)
        spec = step_spec(task.step)
        fields = forms.form_fields(spec.form)
        owner = task.owner + ("/supervisor" if task.owner_role == "supervisor" else "")
        return {"task": _task_row(task, case_no, now), "view": view, "fields": fields,
                "inputs": forms.labelled(fields, task.step, lang, t),
                "step_title": step_name(task.step, lang),
                "procedure_title": procedure_name(task.step.split(".", 1)[0], lang),
                "owner_name": agency_name(owner, lang),
                "deadline_words": task_view.duration_words(
                    task.rung_deadline if task.rung else task.deadline, t),
                "ladder": task_view.ladder(task, lang),
                "case_rows": task_view.case_rows(view, lang, t, local_time),
                "earlier": task_view.earlier_steps(session, who, task, lang),
                "report": task_view.hotline_report(session, who, task, now, lang),
                "open": task.status == "open",
                "completed_by": agency_name(task.completed_by, lang) if task.completed_by
                else "",
                "can_complete": access.allowed(who, "task.complete")
                and task.status == "open" and who.agency in allowed_agencies(task)}


TaskId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: TaskId, who: User) -> HTMLResponse:
    """A task: the case fields its step needs (audited) and its form."""
    need(who, "task.read")
    return render(request, "task.html", who=who, values={}, problems=[],
                  **_task_context(who, task_id, language(request)))


@router.post("/tasks/{task_id}", response_class=HTMLResponse)
async def complete_task(request: Request, task_id: TaskId, who: User) -> Response:
    """Complete the task with its form; a refused form comes back with its messages."""
    from app.config.procedures import step_spec

    need(who, "task.complete")
    data = await request.form()
    check_csrf(request, data)

    def complete() -> bool:
        with without_great_expectations():  # the suite in plain Python, as the API's
            return tasks.complete_task_and_resume(
                task_id=task_id, agency=who.agency, actor=who.actor, viewer=who,
                form=lambda step: forms.parse_form(forms.form_fields(step_spec(step).form),
                                                   data),
            ).resumed

    try:
        resumed = await run_in_threadpool(complete)
    except ValidationFailed as exc:
        lang = language(request)
        context = await run_in_threadpool(_task_context, who, task_id, lang)
        problems = forms.problem_list([e.model_dump() for e in exc.errors], context["inputs"],
                                      lang, translator(lang))
        return render(request, "task.html", 422, who=who,
                      values=forms.submitted(context["fields"], data), problems=problems,
                      **context)
    # The inbox says what happens next and shows the case's next task when it opens
    # (task_view.after_submit; static/next-task.js asks again while it is on its way).
    return RedirectResponse(f"/inbox?done={'resumed' if resumed else 'queued'}&after={task_id}",
                            status_code=303)


# --- cases ------------------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse)
def cases(request: Request, who: User,
          case: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """Cases, newest first (numbers, districts, states); or go to the one asked for."""
    need(who, "case.list")
    if case:
        return RedirectResponse(f"/cases/{quote(case.strip())}", status_code=303)
    with db() as session:
        rows = [{"case": c.case_no, "district": c.district, "status": c.status,
                 "opened_at": c.opened_at}
                for c in list_cases(session=session, limit=100)]
    return render(request, "cases.html", who=who, rows=rows)


@router.get("/cases/{case_ref}", response_class=HTMLResponse)
def case_page(request: Request, who: User,
              case_ref: Annotated[str, PathParam(pattern=CASE_REF)]) -> HTMLResponse:
    """A case: the child as the viewer may see them (audited), the dossier, the procedures
    with links to their flow runs, the steps, escalations and the audit trail."""
    need(who, "case.read")
    now = clock.now()
    with db() as session:
        view = read_case(session=session, case_ref=case_ref, viewer=who, now=now)
        story = None
        if access.allowed(who, "case.timeline"):
            tl = case_timeline(session=session, case_ref=case_ref, viewer=who)
            d = tl["dossier"]
            story = {
                "dossier": {"community": d.community, "categories": list(d.categories),
                            "risks": list(d.risks), "created_at": d.created_at} if d else None,
                "open_runs": [r for r in tl["runs"] if r.ended_at is None],
                "past_runs": [r for r in tl["runs"] if r.ended_at is not None],
                "tasks": [_task_row(t, view["case"], now) | {"completed_at": t.completed_at,
                                                            "completed_by": t.completed_by}
                          for t in tl["tasks"]],
                "escalations": [e for e in tl["events"] if e.action == "task.escalated"],
                "events": tl["events"],
                # What the audit events only number, for their sentences (w.event).
                "steps": {t.id: t.step for t in tl["tasks"]},
                "runs": {r.id: r for r in tl["runs"]},
            }
    return render(request, "case.html", who=who, view=view, story=story)


# --- the managers' dashboard ------------------------------------------------------------------


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, who: User,
              since: Annotated[str | None, Query(max_length=10)] = None,
              until: Annotated[str | None, Query(max_length=10)] = None) -> HTMLResponse:
    """The indicators as charts, the overdue and escalated lists, links to the runs."""
    from app.config.calendar import AHEAD_DAYS
    from app.domain.workdays import uncovered_years
    from app.entrypoints.web.charts import bars
    from app.services import indicators

    need(who, "indicators.read")
    t = translator(language(request))
    now = clock.now()
    invalid = False
    try:
        scope = indicators.Scope.make(now=now, since=_day(since), until=_day(until))
    except ValueError:
        invalid, scope = True, indicators.Scope.make(now=now)
    lang = language(request)
    with db() as session:
        figures = indicators.compute(session=session, scope=scope).indicators
        trend = indicators.monthly_trend(session=session, now=now)
        overdue = [_task_row(x, no, now) for x, no in tasks.inbox(
            session=session, viewer=who, now=now, overdue=True, limit=100)]
        escalated = [_task_row(x, no, now) for x, no in tasks.inbox(
            session=session, viewer=who, now=now, escalated=True, limit=100)]
        links = procedures.flow_run_ids(session=session, run_ids={
            r["procedure_run_id"] for r in overdue + escalated})
    # The years ahead without official holiday data: deadlines there are provisional.
    calendar_years = uncovered_years(now, AHEAD_DAYS)

    def name(row: dict[str, Any]) -> str:
        return str(row["name_zh"] if lang == "zh" else row["name_en"])

    def chart(key: str, measures: tuple[str, ...], title: str, stacked: bool = False) -> Any:
        rows = figures[key].rows
        return t(title), bars([name(r) for r in rows],
                              [(t(f"series.{m}"), [r[m] for r in rows]) for m in measures],
                              title=t(title), stacked=stacked)

    charts = [
        chart("cases_by_district", ("opened", "open_at_end"), "dash.by_district"),
        chart("cases_by_category", ("opened", "open_at_end"), "dash.by_category"),
        chart("steps_by_agency", ("on_time", "late", "escalated"), "dash.by_agency", True),
        (t("dash.trend"), bars([m.month for m in trend],
                               [(t(f"series.{k}"), [getattr(m, k) for m in trend])
                                for k in ("opened", "closed", "late")], title=t("dash.trend"))),
    ]
    return render(request, "dashboard.html", who=who, charts=charts, overdue=overdue,
                  escalated=escalated, links=links, since=since or "", until=until or "",
                  invalid=invalid, tables=figures, lang_name=name,
                  calendar_years=calendar_years, calendar_days=AHEAD_DAYS)


# --- sealed records (judicial roles) ----------------------------------------------------------


@router.get("/sealed", response_class=HTMLResponse)
def sealed(request: Request, who: User,
           record: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> HTMLResponse:
    """Open a sealed record by its id: judicial roles at the court, procuratorate or police;
    every read, allowed or refused (by role too: the service decides), is audited."""
    if record is None:
        need(who, "sealed.read")  # the empty form reads nothing
    shown = None
    if record is not None:
        with db() as session:
            r = read_sealed_record_as(session=session, record_id=record, viewer=who,
                                      now=clock.now())
            shown = {"id": r.id, "record_no": r.record_no, "authority": r.authority,
                     "sealed_on": r.sealed_on, "content": dict(r.content),
                     # The records of J3's steps, each under its step ("judgment" or
                     # "j3.judgment"; a correction round "sealing-fix-1" is its step's).
                     "steps": [(key if "." in key else
                                "j3." + key.split("-fix-", 1)[0].replace("-", "_"), record)
                               for key, record in dict(r.content).items()
                               if isinstance(record, dict)]}
    return render(request, "sealed.html", who=who, record=shown)
