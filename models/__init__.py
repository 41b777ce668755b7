"""The case store: SQLModel tables and the database session. No Prefect here."""

from models.tables import (
    Agency,
    ApiToken,
    AuditEvent,
    Case,
    Child,
    Guardian,
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
    "ApiToken",
    "AuditEvent",
    "Case",
    "Child",
    "Guardian",
    "HumanTask",
    "OutboxMessage",
    "ProcedureRun",
    "SealedRecord",
    "StepJournal",
    "Timer",
    "User",
]
