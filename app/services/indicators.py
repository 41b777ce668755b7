"""S3: the standard indicator set, computed from the case store with aggregate SQL.

Managers' figures only: codes, names of agencies and districts, counts and durations; never
a child's personal data. Each indicator is a row model plus one aggregate query, listed in
`INDICATORS`; the CLI, the JSON, the report files and the Prefect artifacts all render from
that list (app/services/report.py). Definitions: docs/indicators.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    or_,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlmodel import Session, col, select

from app.config.vocabulary import category_name, procedure_name
from app.domain.screening import CATEGORIES as _SCREENING_LABELS
from app.domain.workdays import TZ
from models import Agency, AuditEvent, Case, Child, HumanTask, ProcedureRun, ScreeningBatch

# The child's categories (保护对象, 三(二)), as the intake form names them (app/services/cases.py),
# by the names the pages read (app/config/vocabulary.py category_name: one place for the words).
CATEGORIES: dict[str, tuple[str, str]] = {
    code: (category_name(code, "zh"), category_name(code, "en")) for code in _SCREENING_LABELS}


def label(zh: str, en: str) -> Any:
    """A column of an indicator's rows, with its Chinese and English heading."""
    return Field(json_schema_extra={"zh": zh, "en": en})


# --- the scope: which period, which district -------------------------------------------------


class Scope(BaseModel):
    """What the figures cover: the Beijing-time days `since`…`until` (both included, None: no
    bound), one district or all, and `as_of`, the instant the "at end" figures are taken at:
    the end of the period, or now when that is earlier."""

    since: date | None = None
    until: date | None = None
    district: str | None = None
    as_of: datetime

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.since, time(0), tzinfo=TZ) if self.since else None

    @classmethod
    def make(cls, *, now: datetime, since: date | None = None, until: date | None = None,
             district: str | None = None) -> Scope:
        if since and until and since > until:
            raise ValueError(f"the period starts ({since}) after it ends ({until})")
        end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=TZ) if until else now
        return cls(since=since, until=until, district=district,
                   as_of=min(end, now).astimezone(UTC))

    @classmethod
    def month(cls, month: str, *, now: datetime, district: str | None = None) -> Scope:
        """The calendar month "YYYY-MM" (Beijing time)."""
        first = parse_month(month)
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return cls.make(now=now, since=first, until=nxt - timedelta(days=1), district=district)


def parse_month(text: str) -> date:
    """"2026-10" → 2026-10-01; a clear error otherwise."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"month {text!r} is not of the form YYYY-MM") from None


def previous_month(now: datetime) -> str:
    """The month before the one `now` falls in, in Beijing time: what the monthly report covers."""
    first = now.astimezone(TZ).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _in_period(column: Any, scope: Scope) -> ColumnElement[bool]:
    cond = col(column) < scope.as_of
    return and_(col(column) >= scope.start, cond) if scope.start else cond


# --- portable SQL pieces ---------------------------------------------------------------------


class epoch_days(FunctionElement[float]):  # noqa: N801 - a SQL function's name
    """An instant column as fractional days on a fixed scale: differences are durations."""

    type = Float()
    inherit_cache = True


@compiles(epoch_days, "sqlite")
def _epoch_days_sqlite(element: epoch_days, compiler: Any, **kw: Any) -> str:
    return f"julianday({compiler.process(element.clauses, **kw)})"


@compiles(epoch_days, "postgresql")
def _epoch_days_pg(element: epoch_days, compiler: Any, **kw: Any) -> str:
    return f"(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / 86400.0)"


def _count_if(*conds: Any) -> Any:
    return func.sum(case((and_(*conds), 1), else_=0))


def _case_filter(stmt: Any, scope: Scope) -> Any:
    return stmt.where(Case.district == scope.district) if scope.district else stmt


# --- the indicators ---------------------------------------------------------------------------


class NamedRow(BaseModel):
    """A row of a table by something with a code and a name in both languages."""

    key: str = label("代码", "code")
    name_zh: str = label("名称", "name (zh)")
    name_en: str = label("名称(英文)", "name")


class CaseRow(NamedRow):
    """Cases of one category or district in the period."""

    opened: int = label("新立案", "opened")
    closed: int = label("结案", "closed")
    open_at_end: int = label("期末在办", "open at end")


def _case_measures(scope: Scope) -> list[Any]:
    opened = _in_period(Case.opened_at, scope)
    closed = and_(col(Case.closed_at).is_not(None), _in_period(Case.closed_at, scope))
    still_open = and_(col(Case.opened_at) < scope.as_of,
                      or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= scope.as_of))
    return [_count_if(opened).label("opened"), _count_if(closed).label("closed"),
            _count_if(still_open).label("open_at_end")]


def _case_rows_where(stmt: Any, scope: Scope) -> Any:
    """Only cases that count somewhere: opened before the end, not closed before the start."""
    stmt = stmt.where(col(Case.opened_at) < scope.as_of)
    if scope.start:
        stmt = stmt.where(or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= scope.start))
    return _case_filter(stmt, scope)


def cases_by_category(session: Session, scope: Scope) -> list[CaseRow]:
    """A case counts once under each of its child's categories."""
    cat = union_all(*[sa_select(literal(code, String).label("code"))
                      for code in CATEGORIES]).subquery("cat")
    # The categories are a JSON list of codes: '["street", "poor_family"]' as text on both
    # databases. A quoted code cannot match inside another code, so LIKE is exact here.
    pattern = literal('%"', String) + cat.c.code + literal('"%', String)
    stmt = (select(cat.c.code, *_case_measures(scope))
            .select_from(Case)
            .join(Child, col(Child.id) == Case.child_id)
            .join(cat, cast(Child.categories, String).like(pattern))
            .group_by(cat.c.code))
    rows = session.exec(_case_rows_where(stmt, scope)).all()
    return [CaseRow(key=r.code, name_zh=CATEGORIES[r.code][0], name_en=CATEGORIES[r.code][1],
                    opened=r.opened, closed=r.closed, open_at_end=r.open_at_end)
            for r in sorted(rows, key=lambda r: list(CATEGORIES).index(r.code))]


def cases_by_district(session: Session, scope: Scope) -> list[CaseRow]:
    """Each case under the district it was opened in (the child's district)."""
    stmt = (select(Case.district, Agency.name_zh, Agency.name_en, *_case_measures(scope))
            .select_from(Case)
            .outerjoin(Agency, col(Agency.code) == literal("district:", String) + Case.district)
            .group_by(Case.district, Agency.name_zh, Agency.name_en)
            .order_by(Case.district))
    return [CaseRow(key=r.district, name_zh=r.name_zh or r.district,
                    name_en=r.name_en or r.district, opened=r.opened, closed=r.closed,
                    open_at_end=r.open_at_end)
            for r in session.exec(_case_rows_where(stmt, scope)).all()]


class ProcedureRow(NamedRow):
    """Procedure runs (one procedure instance of a case) of one procedure in the period."""

    cases: int = label("涉及案件", "cases")
    started: int = label("启动", "started")
    completed: int = label("办结", "completed")
    failed: int = label("失败", "failed")
    open_at_end: int = label("期末在办", "open at end")


def _procedure_names(code: str) -> tuple[str, str]:
    return procedure_name(code, "zh"), procedure_name(code, "en")


def cases_by_procedure(session: Session, scope: Scope) -> list[ProcedureRow]:
    """Runs started, completed and failed in the period, and running at its end, by procedure."""
    ended = and_(col(ProcedureRun.ended_at).is_not(None), _in_period(ProcedureRun.ended_at, scope))
    running = and_(col(ProcedureRun.started_at) < scope.as_of,
                   or_(col(ProcedureRun.ended_at).is_(None),
                       col(ProcedureRun.ended_at) >= scope.as_of))
    stmt = (select(ProcedureRun.code, func.count(distinct(ProcedureRun.case_id)).label("cases"),
                   _count_if(_in_period(ProcedureRun.started_at, scope)).label("started"),
                   _count_if(ended, ProcedureRun.status == "completed").label("completed"),
                   _count_if(ended, ProcedureRun.status == "failed").label("failed"),
                   _count_if(running).label("open_at_end"))
            .select_from(ProcedureRun)
            .join(Case, col(Case.id) == ProcedureRun.case_id)
            .where(col(ProcedureRun.started_at) < scope.as_of)
            .group_by(ProcedureRun.code)
            .order_by(ProcedureRun.code))
    if scope.start:
        stmt = stmt.where(or_(col(ProcedureRun.ended_at).is_(None),
                              col(ProcedureRun.ended_at) >= scope.start))
    rows = []
    for r in session.exec(_case_filter(stmt, scope)).all():
        zh, en = _procedure_names(r.code)
        rows.append(ProcedureRow(key=r.code, name_zh=zh, name_en=en, cases=r.cases,
                                 started=r.started, completed=r.completed, failed=r.failed,
                                 open_at_end=r.open_at_end))
    return rows


class AgencyRow(NamedRow):
    """Human steps given to one agency (the first owner of the step)."""

    opened: int = label("新任务", "opened")
    completed: int = label("完成", "completed")
    on_time: int = label("按时", "on time")
    late: int = label("超时", "late")
    escalated: int = label("升级", "escalated")
    open_at_end: int = label("期末未完成", "open at end")
    overdue_at_end: int = label("期末逾期", "overdue at end")


def steps_by_agency(session: Session, scope: Scope) -> list[AgencyRow]:
    """On time, late, escalated and overdue steps, by the agency each step was given to."""
    done = and_(HumanTask.status == "done", col(HumanTask.completed_at).is_not(None),
                _in_period(HumanTask.completed_at, scope))
    in_time = and_(HumanTask.rung == 0, col(HumanTask.completed_at) <= col(HumanTask.due_at))
    climbed = exists().where(AuditEvent.task_id == HumanTask.id,
                             AuditEvent.action == "task.escalated",
                             _in_period(AuditEvent.at, scope))
    open_at_end = and_(col(HumanTask.created_at) < scope.as_of, or_(
        HumanTask.status == "open",
        and_(HumanTask.status == "done", col(HumanTask.completed_at) >= scope.as_of)))
    stmt = (select(HumanTask.first_owner, Agency.name_zh, Agency.name_en,
                   _count_if(_in_period(HumanTask.created_at, scope)).label("opened"),
                   _count_if(done).label("completed"),
                   _count_if(done, in_time).label("on_time"),
                   _count_if(done, ~in_time).label("late"),
                   _count_if(climbed).label("escalated"),
                   _count_if(open_at_end).label("open_at_end"),
                   _count_if(open_at_end, col(HumanTask.due_at) <= scope.as_of)
                   .label("overdue_at_end"))
            .select_from(HumanTask)
            .join(Case, col(Case.id) == HumanTask.case_id)
            .outerjoin(Agency, col(Agency.code) == HumanTask.first_owner)
            .where(col(HumanTask.created_at) < scope.as_of)
            .group_by(HumanTask.first_owner, Agency.name_zh, Agency.name_en)
            .order_by(HumanTask.first_owner))
    rows = [AgencyRow(key=r.first_owner, name_zh=r.name_zh or r.first_owner,
                      name_en=r.name_en or r.first_owner, opened=r.opened, completed=r.completed,
                      on_time=r.on_time, late=r.late, escalated=r.escalated,
                      open_at_end=r.open_at_end, overdue_at_end=r.overdue_at_end)
            for r in session.exec(_case_filter(stmt, scope)).all()]
    measures = [f for f in AgencyRow.model_fields if f not in ("key", "name_zh", "name_en")]
    return [r for r in rows if any(getattr(r, m) for m in measures)]


class CloseTimeRow(NamedRow):
    """How long the runs of one procedure that completed in the period took, in days."""

    count: int = label("办结数", "completed")
    mean_days: float = label("平均天数", "mean days")
    median_days: float = label("中位天数", "median days")
    p90_days: float = label("90%分位天数", "p90 days")


# Percentile positions (1-based, over n sorted values) as integer SQL: h = 1 + p·(n − 1),
# the value between ranks floor(h) and ceil(h) by linear interpolation (percentile_cont).
# Median: h = (n + 1) / 2; p90: h = (9n + 1) / 10.
_QUANTILES: dict[str, tuple[int, int, int]] = {"median_days": (1, 1, 2), "p90_days": (9, 1, 10)}


def time_to_close(session: Session, scope: Scope) -> list[CloseTimeRow]:
    """Started → ended of the runs completed in the period: count, mean, median, p90 (days)."""
    days = (epoch_days(ProcedureRun.ended_at) - epoch_days(ProcedureRun.started_at))
    base = (select(ProcedureRun.code.label("code"), days.label("days"))  # type: ignore[attr-defined]
            .select_from(ProcedureRun)
            .join(Case, col(Case.id) == ProcedureRun.case_id)
            .where(ProcedureRun.status == "completed", col(ProcedureRun.ended_at).is_not(None),
                   _in_period(ProcedureRun.ended_at, scope)))
    done = _case_filter(base, scope).subquery("done")
    ranked = sa_select(
        done.c.code, done.c.days,
        func.row_number().over(partition_by=done.c.code, order_by=done.c.days).label("rn"),
        func.count().over(partition_by=done.c.code).label("n"),
    ).subquery("ranked")
    n = ranked.c.n
    wanted = []
    for a, b, d in _QUANTILES.values():
        wanted += [ranked.c.rn == (a * n + b) // d, ranked.c.rn == (a * n + b + d - 1) // d]
    picked: dict[str, dict[int, float]] = {}
    counts: dict[str, int] = {}
    for r in session.execute(sa_select(ranked.c.code, ranked.c.n, ranked.c.rn, ranked.c.days)
                             .where(or_(*wanted))).all():
        picked.setdefault(r.code, {})[r.rn] = float(r.days)
        counts[r.code] = int(r.n)
    means = dict(session.execute(
        sa_select(done.c.code, func.avg(done.c.days)).group_by(done.c.code)).all())
    rows = []
    for code in sorted(counts):
        n_ = counts[code]
        q = {}
        for name, (a, b, d) in _QUANTILES.items():
            lo, frac = divmod(a * n_ + b, d)
            hi = lo + (1 if frac else 0)
            q[name] = picked[code][lo] + (picked[code][hi] - picked[code][lo]) * frac / d
        zh, en = _procedure_names(code)
        rows.append(CloseTimeRow(key=code, name_zh=zh, name_en=en, count=n_,
                                 mean_days=round(float(means[code]), 2),
                                 median_days=round(q["median_days"], 2),
                                 p90_days=round(q["p90_days"], 2)))
    return rows


class ScreeningRow(NamedRow):
    """The screening lists one community sent in the period (S2), and what became of their rows."""

    lists: int = label("名单数", "lists")
    rows: int = label("筛查人数", "rows")
    accepted: int = label("接收", "accepted")
    rejected: int = label("退回", "rejected")
    duplicates: int = label("疑似重复", "duplicates")
    dossiers: int = label("新建档案", "new dossiers")


def screenings_by_community(session: Session, scope: Scope) -> list[ScreeningRow]:
    """Screening lists imported in the period, by community (the district is the community's)."""
    stmt = (select(ScreeningBatch.community, Agency.name_zh, Agency.name_en,
                   func.count().label("lists"), func.sum(ScreeningBatch.rows).label("rows"),
                   func.sum(ScreeningBatch.accepted).label("accepted"),
                   func.sum(ScreeningBatch.rejected).label("rejected"),
                   func.sum(ScreeningBatch.duplicates).label("duplicates"),
                   func.sum(ScreeningBatch.created).label("dossiers"))
            .select_from(ScreeningBatch)
            .outerjoin(Agency, col(Agency.code) == ScreeningBatch.community)
            .where(_in_period(ScreeningBatch.imported_at, scope))
            .group_by(ScreeningBatch.community, Agency.name_zh, Agency.name_en)
            .order_by(ScreeningBatch.community))
    if scope.district:
        stmt = stmt.where(Agency.district == scope.district)
    return [ScreeningRow(key=r.community, name_zh=r.name_zh or r.community,
                         name_en=r.name_en or r.community, lists=r.lists, rows=r.rows,
                         accepted=r.accepted, rejected=r.rejected, duplicates=r.duplicates,
                         dossiers=r.dossiers) for r in session.exec(stmt).all()]


# --- the set -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One indicator: its key, titles, row model and the query that computes its rows."""

    key: str
    title_zh: str
    title_en: str
    row: type[BaseModel]
    compute: Callable[[Session, Scope], list[Any]]


# The standard set, in the order the reports show it. Adding an indicator: a row model (key,
# name_zh, name_en, then its measures, each with `label`), one aggregate query, one entry here.
INDICATORS: tuple[Indicator, ...] = (
    Indicator("cases_by_category", "按保护对象类别的案件", "Cases by category", CaseRow,
              cases_by_category),
    Indicator("cases_by_district", "按区县的案件", "Cases by district", CaseRow,
              cases_by_district),
    Indicator("cases_by_procedure", "按程序的办理情况", "Procedures", ProcedureRow,
              cases_by_procedure),
    Indicator("steps_by_agency", "各部门办理时效", "Steps by agency", AgencyRow,
              steps_by_agency),
    Indicator("time_to_close", "各程序办结用时", "Time to close", CloseTimeRow, time_to_close),
    Indicator("screenings_by_community", "各社区筛查情况", "Screenings by community",
              ScreeningRow, screenings_by_community),
)


class Column(BaseModel):
    key: str
    zh: str
    en: str


class Table(BaseModel):
    """One indicator's figures: headings and rows of plain values."""

    key: str
    title_zh: str
    title_en: str
    columns: list[Column]
    rows: list[dict[str, Any]]


class Indicators(BaseModel):
    """The whole set for one scope: what `protect stats --json` prints."""

    scope: Scope
    indicators: dict[str, Table]


def columns_of(row: type[BaseModel]) -> list[Column]:
    return [Column(key=name, **(f.json_schema_extra or {}))  # type: ignore[arg-type]
            for name, f in row.model_fields.items()]


def compute(*, session: Session, scope: Scope) -> Indicators:
    """Every indicator of `INDICATORS` for `scope`, one aggregate query (or two) each."""
    tables = {}
    for ind in INDICATORS:
        rows = [r.model_dump(mode="json") for r in ind.compute(session, scope)]
        tables[ind.key] = Table(key=ind.key, title_zh=ind.title_zh, title_en=ind.title_en,
                                columns=columns_of(ind.row), rows=rows)
    return Indicators(scope=scope, indicators=tables)


class MonthRow(BaseModel):
    """One calendar month (Beijing time) of the trend on the managers' dashboard."""

    month: str
    opened: int
    closed: int
    on_time: int
    late: int
    escalated: int


def monthly_trend(*, session: Session, now: datetime, months: int = 6,
                  district: str | None = None) -> list[MonthRow]:
    """The last `months` calendar months up to now, oldest first: cases opened and closed,
    steps completed on time and late, steps escalated; each month by the definitions above."""
    today = now.astimezone(TZ).date()
    first = date(today.year, today.month, 1)
    starts = []
    for _ in range(months):
        starts.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    rows = []
    for start in reversed(starts):
        scope = Scope.month(f"{start:%Y-%m}", now=now, district=district)
        cases = cases_by_district(session, scope)
        steps = steps_by_agency(session, scope)
        rows.append(MonthRow(month=f"{start:%Y-%m}", opened=sum(r.opened for r in cases),
                             closed=sum(r.closed for r in cases),
                             on_time=sum(r.on_time for r in steps),
                             late=sum(r.late for r in steps),
                             escalated=sum(r.escalated for r in steps)))
    return rows
