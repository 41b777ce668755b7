"""The procedure settings file at work: the system refuses to start on an invalid file, and the
engine opens a task on the configured ladder. The file itself is tested in
tests/unit/test_procedure_settings.py, whose fixture `configured` points this process at one."""

from __future__ import annotations

import os
import subprocess
import sys

from app.config.settings import get_settings
from tests.unit import test_procedure_settings as settings_file

configured = settings_file.configured
_file = settings_file._file


def test_the_system_refuses_to_start_with_an_invalid_file(tmp_path) -> None:
    path = _file(tmp_path, '[R2.steps.outreach]\ndeadline = "5 weeks"\n')
    env = {**os.environ, "PROTECT_PROCEDURES_FILE": str(path)}
    for args in (["migrate"], ["procedures", "check"], ["procedures", "check", str(path)]):
        out = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                             text=True, timeout=120, env=env)
        assert out.returncode == 2, out.stderr
        assert str(path) in out.stderr and "R2.steps.outreach.deadline" in out.stderr


def test_a_task_opened_by_the_engine_climbs_the_configured_ladder(tmp_path, configured,
                                                                   monkeypatch) -> None:
    from app.adapters.store import db, seed_agencies
    from app.domain import clock
    from app.services import cases, engine, procedures
    from models import HumanTask
    from models.db import migrate
    from tests.helpers import intake_form

    # A case store of its own: this run is never started, and the flow tests' checks of
    # every run's path must not see it.
    url = f"sqlite:///{tmp_path / 'own.db'}"
    monkeypatch.setenv("PROTECT_DATABASE_URL", url)
    configured(_file(tmp_path, '[R2.steps.identity]\ndeadline = "2wd"\n'
                               'escalate_to = ["office"]\n'))
    assert get_settings().database_url == url
    migrate(url)
    with db() as session:
        seed_agencies(session=session)
        case = cases.open_case(session=session, data=intake_form(), actor="test",
                               now=clock.now())
        run_id = procedures.start_procedure(session=session, case_id=case.id, code="R2",
                                            actor="test", now=clock.now()).id
    task_id = engine.open_task(run_id, "r2.identity", "identity")
    with db() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        assert (task.ladder, task.deadline) == (["psb", "office"], "2wd")
