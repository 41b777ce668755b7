"""API test set-up: the app on the test case store, users of every role with their tokens."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from app.adapters.store import db
from app.domain import clock
from app.services import cases as services
from models import HumanTask, ProcedureRun, SealedRecord
from tests.helpers import open_case, token_headers


@pytest.fixture(scope="session")
def client(store: str) -> Iterator[Any]:
    """The API in-process (FastAPI's TestClient): the same app uvicorn serves."""
    from fastapi.testclient import TestClient

    from app.entrypoints.api import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


Login = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def login(store: str) -> Login:
    """Create a user of `agency` with `roles` and return the headers of a fresh token."""

    return token_headers


def add_task(case_no: str, *, step: str = "r2.identity", owner: str = "psb",
             ladder: tuple[str, ...] = ("psb", "psb/supervisor", "office")) -> int:
    """A procedure run and an open task on it, written to the store as a flow would.

    For the access tests, which need a task without a running procedure; the flow tests
    open theirs through Prefect.
    """
    now = clock.now()
    with db() as session:
        case = services.get_case(session=session, case_ref=case_no)
        run = ProcedureRun(case_id=int(case.id or 0), code=step[:2].upper(),
                           start_key=f"test:{secrets.token_hex(8)}", started_at=now,
                           status="running")
        session.add(run)
        session.flush()
        task = HumanTask(procedure_run_id=int(run.id or 0), case_id=int(case.id or 0),
                         step_key=step, step=step, title=step, owner=owner, first_owner=owner,
                         ladder=list(ladder), deadline="5wd", rung_deadline="5wd",
                         created_at=now, due_at=now + timedelta(days=7),
                         escalate_at=now + timedelta(days=7))
        session.add(task)
        session.flush()
        return int(task.id or 0)


def add_sealed_record(case_no: str) -> int:
    now = clock.now()
    with db() as session:
        case = services.get_case(session=session, case_ref=case_no)
        run = ProcedureRun(case_id=int(case.id or 0), code="J3",
                           start_key=f"test:{secrets.token_hex(8)}", started_at=now)
        session.add(run)
        session.flush()
        rec = SealedRecord(case_id=int(case.id or 0), procedure_run_id=int(run.id or 0),
                           record_no=f"S{secrets.token_hex(4)}", authority="court",
                           sealed_on=now.date(), content={"j3.judgment": {"verdict": "x"}},
                           created_at=now)
        session.add(rec)
        session.flush()
        return int(rec.id or 0)


@pytest.fixture()
def case_no(store: str) -> str:
    return open_case()
