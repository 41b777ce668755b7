"""The case store: SQLModel tables and the database session. No Prefect here."""

from models.tables import (
    Agency,
    AuditEvent,
    Case,
    Child,
    Dossier,
    DuplicateCandidate,
    Guardian,
    HumanTask,
    OutboxMessage,
    ProcedureRun,
    RiskProposal,
    ScreeningBatch,
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
    "Dossier",
    "DuplicateCandidate",
    "Guardian",
    "HumanTask",
    "OutboxMessage",
    "ProcedureRun",
    "RiskProposal",
    "ScreeningBatch",
    "SealedRecord",
    "StepJournal",
    "Timer",
    "User",
]
