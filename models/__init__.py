"""The case store: SQLModel tables and the database session. No Prefect here."""

from models.tables import (
    Agency,
    AuditEvent,
    Case,
    Child,
    Guardian,
    HotlineReport,
    HumanTask,
    OutboxMessage,
    ProcedureRun,
    SealedRecord,
    StepJournal,
    Timer,
    User,
)

__all__ = [
    "Agency",
    "AuditEvent",
    "Case",
    "Child",
    "Guardian",
    "HotlineReport",
    "HumanTask",
    "OutboxMessage",
    "ProcedureRun",
    "SealedRecord",
    "StepJournal",
    "Timer",
    "User",
]
