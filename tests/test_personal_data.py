"""No personal data reaches Prefect (its database, result storage, artifacts), the report
files, or any log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ahocorasick_rs import BytesAhoCorasick

from app.adapters.dispatch import dispatch
from app.adapters.outbox import start_message_key
from app.adapters.store import db
from app.domain import clock
from app.services.hotline import receive_report
from tests.conftest import HOME, worker_homes
from tests.helpers import (
    PERSONAL,
    complete,
    flow_state,
    hotline_report,
    open_case,
    open_task,
    start,
    wait_for,
)


def _forms(value: str) -> list[bytes]:
    """The ways a string can be stored: UTF-8, and JSON with non-ASCII escaped."""
    return [value.encode(), json.dumps(value).strip('"').encode()]


@pytest.mark.last
@pytest.mark.flows
def test_prefect_and_the_logs_hold_no_name_id_number_phone_or_address(system) -> None:
    # Run a procedure here too, with free text in a form, so the check never looks at nothing.
    case = open_case()
    run = start(case, "R2")
    note = "孩子说她叫测试童并住在测试路"
    PERSONAL.append(note)
    complete(open_task(case, "r2.outreach"), outcome="accepted", location="测试路口",
             notes=note)
    open_task(case, "r2.intake")
    wait_for(lambda: flow_state(run) == "Suspended", what="the run to suspend")
    # A hotline report too: its description and reporter must stay in the case store while
    # its S1 runs go through Prefect.
    with db() as session:
        receipt = receive_report(session=session, data=hotline_report(concerns=["other"]),
                                 actor="test", now=clock.now())
    dispatch(keys=[start_message_key(r) for r in receipt.run_ids])
    open_task(receipt.case, "s1.acknowledge")

    # Prefect's home, the logs and the monthly report's files (tests/flows/test_report.py) of
    # every worker of the run.
    homes = worker_homes()
    kept = [Path(os.environ["PREFECT_HOME"]).relative_to(HOME), Path("log"), Path("reports")]
    files = [p for h in homes for d in kept for p in (h.home / d).rglob("*") if p.is_file()]
    for h in homes:
        assert any(p.name.startswith("prefect.db") for p in (h.home / kept[0]).rglob("*")), \
            f"Prefect's database not found in {h.home}"
        assert (h.logs / "serve.log").stat().st_size > 0
    assert any("storage" in p.parts for p in files), "Prefect's result storage not found"
    personal = {v for h in homes for v in h.personal}
    assert len(personal) >= 13

    forms = {form: len(value) for value in personal for form in _forms(value)}
    # Every form in one pass over each file (Aho-Corasick): tens of thousands of values, one
    # `in` each, would read Prefect's database that many times.
    patterns = list(forms)
    finder = BytesAhoCorasick(patterns)
    leaks = []
    for path in files:
        found = {patterns[i] for i, _, _ in
                 finder.find_matches_as_indexes(path.read_bytes(), overlapping=True)}
        leaks += [f"{path.relative_to(HOME.parent)} holds a test value of {forms[form]} chars"
                  for form in found]
    assert not leaks, "\n".join(sorted(set(leaks)))
