"""The platform's endpoints (S1–S3) end to end through the API: a hotline report, a community's
screening list with its rejects, duplicates and proposals, and the indicators."""

from __future__ import annotations

import base64
from typing import Any

from sqlmodel import select

from app.adapters.store import db
from models import AuditEvent, HotlineReport
from tests.helpers import hotline_report
from tests.test_screening import FENGHUANG, People, csv_bytes, read_csv

IMPORT = "/api/v1/imports?community={community}&file_name={name}"


def _send_list(client: Any, headers: dict[str, str], data: bytes, name: str = "list.csv",
               community: str = FENGHUANG) -> Any:
    return client.post(IMPORT.format(community=community, name=name), content=data,
                       headers={**headers, "Content-Type": "application/octet-stream"})


def test_a_hotline_report_is_received_once_and_routed(client: Any, login: Any) -> None:
    coordinator = login("center", "coordinator")
    report = hotline_report(concerns=["living_on_street"])
    first = client.post("/api/v1/intake", json=report, headers=coordinator)
    assert first.status_code == 200, first.text
    got = first.json()
    assert got["created"] and got["case"].startswith("C")
    assert got["routed"] and all(r["procedure_run"] for r in got["routed"])
    again = client.post("/api/v1/intake", json=report, headers=coordinator).json()
    assert (again["created"], again["report_id"], again["case"]) == \
        (False, got["report_id"], got["case"])
    with db() as session:
        assert len(session.exec(select(HotlineReport).where(
            HotlineReport.reference == report["reference"])).all()) == 1
    refused = client.post("/api/v1/intake", json={**report, "source": "110"}, headers=coordinator)
    assert refused.status_code == 422
    assert {f["field"] for f in refused.json()["error"]["fields"]} == {"source"}


def test_a_community_sends_its_list_gets_its_rejects_and_the_same_file_twice_is_one(
        client: Any, login: Any) -> None:
    people = People()
    good = [people.row() for _ in range(5)]
    bad = people.row(性别="X")
    data = csv_bytes([*good, bad])
    worker = login(FENGHUANG, "worker")
    r = _send_list(client, worker, data)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["rows"], got["accepted"], got["rejected"], got["created"]) == (6, 5, 1, 5)
    assert [x["row"] for x in got["rejected_rows"]] == [7]  # the header is row 1
    header, line = read_csv(base64.b64decode(got["rejects_file"]))
    assert len(header) == len(bad) + 2  # the row number first, the reasons last
    assert line[0] == "7" and line[1:-1] == [str(v) for v in bad] and "性别" in line[-1]
    again = _send_list(client, worker, data).json()
    assert again["already_imported"] and again["batch"] == got["batch"]
    # Another community's list is not this worker's to send.
    other = _send_list(client, worker, data, community="community:xingqing-zhongshan")
    assert other.status_code == 403
    # A file that is no screening list is refused whole, with a reason.
    broken = _send_list(client, worker, b"name,age\nx,1\n", name="other.csv")
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_screening_file"


def test_duplicates_and_proposals_through_the_api(client: Any, login: Any) -> None:
    people = People()
    row = people.row(风险情况="监护缺失")
    coordinator = login("center", "coordinator")
    first = _send_list(client, coordinator, csv_bytes([row])).json()
    assert first["created"] == 1
    # The same child sent by another community: a candidate for a person, not a merge.
    second = _send_list(client, coordinator, csv_bytes([row]), name="again.csv",
                        community="community:xingqing-zhongshan").json()
    assert second["duplicates"] == 1
    pending = client.get("/api/v1/screening/duplicates", headers=coordinator).json()
    mine = [d for d in pending if d["batch"] == second["batch"]]
    assert len(mine) == 1 and mine[0]["row_data"]["id_number"] != row[3]  # masked
    done = client.post(f"/api/v1/screening/duplicates/{mine[0]['id']}/resolve",
                       json={"decision": "merge"}, headers=coordinator)
    assert done.status_code == 200, done.text
    twice = client.post(f"/api/v1/screening/duplicates/{mine[0]['id']}/resolve",
                        json={"decision": "merge"}, headers=coordinator)
    assert twice.status_code == 409
    with db() as session:
        assert session.exec(select(AuditEvent).where(
            AuditEvent.action == "screening.duplicates.read",
            AuditEvent.actor.startswith("user:coordinator"))).first() is not None
    proposals = client.get("/api/v1/screening/proposals", headers=coordinator).json()
    assert all({"dossier", "code", "status"} <= set(p) for p in proposals)
    unknown = client.post("/api/v1/screening/dossiers/2147483647/confirm", json={"codes": []},
                          headers=coordinator)
    assert unknown.status_code == 404


def test_the_indicators_count_the_lists_and_hold_no_personal_data(client: Any,
                                                                   login: Any) -> None:
    people = People()
    rows = [people.row() for _ in range(3)]
    coordinator = login("center", "coordinator")
    assert _send_list(client, coordinator, csv_bytes(rows), name="count.csv").status_code == 200
    manager = login("office", "manager")
    r = client.get("/api/v1/indicators", headers=manager)
    assert r.status_code == 200, r.text
    body = r.json()
    screened = {x["key"]: x for x in body["indicators"]["screenings_by_community"]["rows"]}
    assert screened[FENGHUANG]["rows"] >= 3
    for row in rows:
        assert row[0] not in r.text and row[3] not in r.text
    reversed_period = client.get("/api/v1/indicators?since=2026-05-01&until=2026-04-01",
                                 headers=manager)
    assert reversed_period.status_code == 422
    assert client.get("/api/v1/indicators?district=nowhere", headers=manager).status_code == 404
