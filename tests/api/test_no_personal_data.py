"""What the API writes besides its answers holds no personal data: the audit trail's
details and the API and web servers' logs (Prefect's side: tests/test_personal_data.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session, create_engine, select

from models import AuditEvent
from tests.conftest import worker_homes


@pytest.mark.last
def test_audit_details_and_the_api_log_hold_no_name_id_number_phone_or_address(
        client: Any, login: Any) -> None:
    from tests.helpers import intake_form

    coordinator = login("center", "coordinator")
    r = client.post("/api/v1/cases", json=intake_form(), headers=coordinator)
    case = r.json()["case"]
    assert client.get(f"/api/v1/cases/{case}", headers=coordinator).status_code == 200
    bad = intake_form()
    bad["child"]["sex"] = bad["child"]["name"]  # a refused value must not be echoed either
    refused = client.post("/api/v1/cases", json=bad, headers=coordinator)
    assert refused.status_code == 422
    assert bad["child"]["name"] not in refused.text

    details, texts, personal = [], [], set()
    for h in worker_homes():  # every worker's case store and logs
        engine = create_engine(h.database_url)
        try:
            with Session(engine) as session:
                details += [json.dumps(e.detail, ensure_ascii=False) + e.actor
                            for e in session.exec(select(AuditEvent))]
        finally:
            engine.dispose()
        texts += [p.read_text(encoding="utf-8", errors="replace")  # the web pages' too
                  for p in [*h.logs.glob("api*.log"), *h.logs.glob("web*.log")]]
        personal |= set(h.personal)
    leaks = [v for v in personal for t in details + texts if v in t]
    assert len(personal) >= 12 and len(details) > 3
    assert not leaks, f"{len(leaks)} personal value(s) in the audit trail or the API log"
