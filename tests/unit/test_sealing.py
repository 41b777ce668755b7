"""The sealing rule (app/domain/sealing.py) and how the audit trail says a sealed run's events
(app/config/vocabulary.py): who reads sealed content, what the others see in its place. No
server, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.config import vocabulary as v
from app.domain import sealing
from app.domain.access import Principal

DECISION = {"sentence": "probation", "judged_on": "2025-09-17"}
RECORD = {"sealed_record_id": 7}
AT = datetime(2026, 12, 4, 12, 46, tzinfo=UTC)


def who(agency: str, *roles: str) -> Principal:
    return Principal(username="x", agency=agency, roles=frozenset(roles))


@pytest.mark.parametrize(("viewer", "reads"), [
    (who("court", "judicial"), True),
    (who("procuratorate", "judicial"), True),
    (who("psb", "worker", "judicial"), True),
    (who("edu", "judicial"), False),  # the role, not at a judicial agency
    (who("court", "worker"), False),  # the agency, not the role
    (who("court", "supervisor"), False),
    (who("center", "coordinator"), False),
    (who("office", "manager"), False),
    (None, False),  # nobody named: never
])
def test_only_the_judicial_role_at_a_judicial_agency_reads_sealed_content(
        viewer: Principal | None, reads: bool) -> None:
    assert sealing.may_read(viewer) is reads
    decision, record = sealing.shown_step(DECISION, RECORD, sealed_record_id=7, viewer=viewer)
    marker = {"sealed": True, "sealed_record_id": 7}
    assert (decision, record) == ((DECISION, RECORD) if reads else (marker, marker))
    # A run that is not sealed is everyone's who may see it, as before.
    assert sealing.shown_step(DECISION, {"notes": "x"}, sealed_record_id=None,
                              viewer=viewer) == (DECISION, {"notes": "x"})


def test_an_event_keeps_what_happened_and_loses_what_was_decided() -> None:
    detail = {"step": "j3.judgment", "agency": "court", "decision": DECISION,
              "authority": "court", "problems": ["sealed_on.before_offence"],
              "something_new": "kept out until listed"}
    shown = sealing.shown_detail(detail, sealed_record_id=7, viewer=who("office", "manager"))
    marker = sealing.marker(7)
    assert shown == {"step": "j3.judgment", "agency": "court", "decision": marker,
                     "authority": marker, "problems": marker, "something_new": marker}
    assert sealing.shown_detail(detail, sealed_record_id=7,
                                viewer=who("court", "judicial")) == detail


def test_the_command_line_s_reader_rule_is_the_same_table() -> None:
    assert sealing.allowed_reader("psb", "police") and sealing.allowed_reader("court", "court")
    assert not sealing.allowed_reader("psb", "court")
    assert not sealing.allowed_reader("edu", sealing.reader_role("edu"))


def _event(action: str, **detail: Any) -> dict[str, Any]:
    return {"at": AT, "actor": "user:li", "action": action, "task_id": 9,
            "procedure_run_id": 3, "detail": detail}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_sealed_event_says_sealed_and_nothing_of_its_content(lang: str) -> None:
    viewer = who("center", "coordinator")
    completed = _event("task.completed", step="j3.judgment", agency="court",
                       decision=DECISION)
    sealed = _event("record.sealed", sealed_record_id=7, authority="court")
    open_words = [v.event_text(e, lang) for e in (completed, sealed)]
    # Unsealed, the sentence says the decision and the authority (the test can fail).
    assert v.value_name("j3.judgment", "sentence", "probation", lang) in open_words[0]
    assert v.agency_name("court", lang) in open_words[1]
    hidden = [{**e, "detail": sealing.shown_detail(e["detail"], sealed_record_id=7,
                                                   viewer=viewer)}
              for e in (completed, sealed)]
    words = [v.event_text(e, lang) for e in hidden]
    assert words[0] == v.event_text({**completed, "detail": {
        "step": "j3.judgment", "agency": "court"}}, lang) + v.PARTS["sealed"].in_(lang)
    assert words[1] == ("li 封存犯罪记录 #7" if lang == "zh" else "li sealed criminal record #7")
    for text in words:
        assert v.value_name("j3.judgment", "sentence", "probation", lang) not in text
        assert "2025-09-17" not in text and "{" not in text
    w = v.Vocabulary(lang)
    assert w.is_sealed(hidden[0]) and not w.is_sealed(completed)
    assert w.decision("j3.judgment", sealing.marker(7)) == v.SEALED.in_(lang)
