"""A known case store for the S3 indicators: what was done in March 2025, and the figures."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from app.adapters.store import db
from app.domain.workdays import TZ
from models import Agency, AuditEvent, Case, Child, HumanTask, ProcedureRun, ScreeningBatch
from tests.helpers import PERSONAL, id_number

MONTH = "2025-03"


def bj(month: int, day: int, hour: int = 10) -> datetime:
    """An instant in 2025, Beijing time."""
    return datetime(2025, month, day, hour, tzinfo=TZ)


# Every district made up so far: not a district of the city, so a page shows its code (the
# case list, tests/web/test_words_on_pages.py, when these cases are among the newest).
MADE_UP: list[str] = []


def unique_district() -> str:
    """A district code of its own, so that other tests' cases never enter the counts."""
    MADE_UP.append(f"t{uuid.uuid4().hex[:8]}")
    return MADE_UP[-1]


def build(district: str) -> dict[str, Any]:
    """Cases, runs and tasks of `district` (seeded as an agency) and one case in xixia."""
    names: list[str] = []
    with db() as s:
        if s.get(Agency, f"district:{district}") is None:
            s.add(Agency(code=f"district:{district}", name_zh="测试区", name_en="Test District",
                         level="district", district=district, bureau="mca"))
        cases: dict[str, Case] = {}

        def case(key: str, categories: list[str], opened: datetime,
                 closed: datetime | None = None, where: str = district) -> Case:
            tag = uuid.uuid4().hex[:6]
            child = Child(name=f"统计童{tag}", sex="M", birth_date=date(2014, 5, 6),
                          id_number=id_number(date(2014, 5, 6)), district=where,
                          address=f"统计路{tag}号", categories=categories)
            names.extend([child.name, child.id_number or "", child.address or ""])
            s.add(child)
            s.flush()
            # Numbered as the system numbers cases, unique across test runs and stores.
            c = Case(case_no=f"C2025-{uuid.uuid4().int % 10**12:012d}", child_id=child.id,
                     district=where,
                     opened_at=opened, closed_at=closed,
                     status="closed" if closed else "open")
            s.add(c)
            s.flush()
            cases[key] = c
            return c

        case("c1", ["street", "poor_family"], bj(3, 2))
        case("c2", ["street"], bj(2, 10), closed=bj(3, 20))
        case("c3", ["left_behind"], bj(3, 5), closed=bj(3, 25))
        case("c4", ["disabled"], bj(1, 5), closed=bj(2, 20))  # closed before March
        case("c5", ["street"], bj(4, 3))  # opened after March
        case("c6", ["poor_family"], bj(2, 1))
        case("x1", ["street"], bj(3, 15), where="xixia")  # another district

        runs: dict[str, ProcedureRun] = {}

        def run(key: str, case_key: str, code: str, started: datetime,
                ended: datetime | None = None, status: str = "completed") -> ProcedureRun:
            r = ProcedureRun(case_id=cases[case_key].id, code=code, start_key=key,
                             started_at=started, ended_at=ended,
                             status=status if ended else "running")
            s.add(r)
            s.flush()
            runs[key] = r
            return r

        run("r1", "c1", "R2", bj(3, 2), bj(3, 4))  # 2 days
        run("r2", "c2", "R2", bj(2, 10), bj(3, 14, 22))  # 32.5 days
        run("r3", "c3", "R2", bj(3, 5), bj(3, 9, 22))  # 4.5 days
        run("r4", "c3", "R3", bj(3, 9, 22))  # still running
        run("r5", "c6", "M1", bj(2, 1), bj(3, 3), status="failed")
        run("r6", "c6", "R2", bj(3, 10), bj(3, 20))  # 10 days
        run("r7", "c1", "R1", bj(3, 2, 12), bj(3, 5, 12))  # 3 days
        run("x1", "x1", "R2", bj(3, 15))

        def task(key: str, run_key: str, owner: str, created: datetime, due: datetime,
                 completed: datetime | None = None, escalated: datetime | None = None,
                 status: str | None = None) -> HumanTask:
            r = runs[run_key]
            t = HumanTask(procedure_run_id=r.id, case_id=r.case_id, step_key=key,
                          step="r2.identity", title="Identity check", owner=owner,
                          first_owner=owner, ladder=[owner, f"{owner}/supervisor", "office"],
                          rung=1 if escalated else 0, deadline="1wd", rung_deadline="1wd",
                          status=status or ("done" if completed else "open"),
                          created_at=created, due_at=due, completed_at=completed,
                          completed_by=owner if completed else None)
            s.add(t)
            s.flush()
            if escalated:
                s.add(AuditEvent(at=escalated, actor="sweep", action="task.escalated",
                                 case_id=r.case_id, procedure_run_id=r.id, task_id=t.id,
                                 detail={"rung": 1, "to": f"{owner}/supervisor"}))
            return t

        task("t1", "r1", "psb", bj(3, 2), bj(3, 3), completed=bj(3, 3, 9))  # on time
        task("t2", "r3", "psb", bj(3, 3), bj(3, 4), completed=bj(3, 6))  # late
        task("t3", "r3", "psb", bj(3, 3), bj(3, 10), completed=bj(3, 8),
             escalated=bj(3, 5))  # escalated, then done before its new due: late
        task("t4", "r4", "center", bj(3, 10), bj(3, 11))  # open, overdue
        task("t5", "r4", "center", bj(3, 20), bj(4, 5))  # open, not yet due
        task("t6", "r4", "center", bj(3, 12), bj(3, 20), escalated=bj(3, 14))  # open, overdue
        task("t7", "r6", "mca", bj(2, 10), bj(2, 12), completed=bj(2, 11))  # all in February
        task("t8", "r6", "mca", bj(3, 28), bj(3, 31), completed=bj(4, 2))  # overdue at end
        task("t9", "r4", "center", bj(3, 15), bj(3, 16), status="cancelled")
        task("x1", "x1", "psb", bj(3, 15), bj(3, 16), completed=bj(3, 15, 11))

        # Screening lists: two in March and one in February from the district's community,
        # one in March from a community of xixia.
        if s.get(Agency, "community:s3test") is None:
            s.add(Agency(code="community:s3test", name_zh="测试社区", name_en="Test community",
                         level="community", district=district, bureau="mca"))
            s.flush()

        def screening(community: str, at: datetime, rows: int, rejected: int, duplicates: int,
                      created: int) -> None:
            s.add(ScreeningBatch(community=community, file_hash=uuid.uuid4().hex,
                                 file_name="list.csv", file_format="csv", rows=rows,
                                 accepted=rows - rejected, rejected=rejected,
                                 duplicates=duplicates, created=created,
                                 unchanged=rows - rejected - duplicates - created,
                                 imported_at=at, actor="test"))

        screening("community:s3test", bj(3, 3), 120, 7, 5, 100)
        screening("community:s3test", bj(3, 30), 30, 0, 2, 20)
        screening("community:s3test", bj(2, 27), 50, 1, 0, 49)  # February
        screening("community:xixia-wenchang", bj(3, 12), 40, 4, 0, 36)  # another district
    PERSONAL.extend(names)
    return {"district": district, "personal": names}


# What March 2025 in the district must show.
MARCH: dict[str, list[dict[str, Any]]] = {
    "cases_by_category": [
        {"key": "street", "opened": 1, "closed": 1, "open_at_end": 1},
        {"key": "poor_family", "opened": 1, "closed": 0, "open_at_end": 2},
        {"key": "left_behind", "opened": 1, "closed": 1, "open_at_end": 0},
    ],
    "cases_by_procedure": [
        {"key": "M1", "cases": 1, "started": 0, "completed": 0, "failed": 1, "open_at_end": 0},
        {"key": "R1", "cases": 1, "started": 1, "completed": 1, "failed": 0, "open_at_end": 0},
        {"key": "R2", "cases": 4, "started": 3, "completed": 4, "failed": 0, "open_at_end": 0},
        {"key": "R3", "cases": 1, "started": 1, "completed": 0, "failed": 0, "open_at_end": 1},
    ],
    "steps_by_agency": [
        {"key": "center", "opened": 4, "completed": 0, "on_time": 0, "late": 0, "escalated": 1,
         "open_at_end": 3, "overdue_at_end": 2},
        {"key": "mca", "opened": 1, "completed": 0, "on_time": 0, "late": 0, "escalated": 0,
         "open_at_end": 1, "overdue_at_end": 1},
        {"key": "psb", "opened": 3, "completed": 3, "on_time": 1, "late": 2, "escalated": 1,
         "open_at_end": 0, "overdue_at_end": 0},
    ],
    "screenings_by_community": [
        {"key": "community:s3test", "lists": 2, "rows": 150, "accepted": 143, "rejected": 7,
         "duplicates": 7, "dossiers": 120},
    ],
    # R2: 2, 4.5, 10, 32.5 days. Median (4.5 + 10) / 2; p90 at rank 3.7: 10 + 0.7 · 22.5.
    "time_to_close": [
        {"key": "R1", "count": 1, "mean_days": 3.0, "median_days": 3.0, "p90_days": 3.0},
        {"key": "R2", "count": 4, "mean_days": 12.25, "median_days": 7.25, "p90_days": 25.75},
    ],
}


def march_district_row(district: str) -> dict[str, Any]:
    return {"key": district, "name_zh": "测试区", "name_en": "Test District", "opened": 2,
            "closed": 2, "open_at_end": 2}


def figures_of(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """The rows cut to the fields of the expectation (names are checked apart)."""
    return [{k: r[k] for k in keys} for r in rows]

