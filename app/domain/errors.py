"""Errors the service layer raises, each with a stable code for the CLI and the API."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError


class ProtectError(Exception):
    """Base class: `code` is stable, the message is for people."""

    code = "error"

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self)}


class NotFound(ProtectError):
    code = "not_found"


class Conflict(ProtectError):
    code = "conflict"


class Forbidden(ProtectError):
    code = "forbidden"


class ValidationFailed(ProtectError):
    """The input was refused field by field; nothing was written."""

    code = "validation_failed"

    def __init__(self, errors: list[Any]) -> None:
        self.errors = errors
        fields = ", ".join(sorted({e.field for e in errors}))
        super().__init__(f"the input was refused ({len(errors)} problem(s): {fields})")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "fields": [e.model_dump() for e in self.errors]}


class UnknownProcedure(NotFound):
    """No procedure has this code; the message names the known ones."""

def refusal(code: str, message: str, message_zh: str) -> PydanticCustomError:
    """A field's refusal, raised in a validator, with its own code ("control_character" →
    "name.control_character") and its Chinese message; `_pydantic_errors` names the field."""
    return PydanticCustomError("refused", message.replace("{", "(").replace("}", ")"),
                               {"code": code, "message_zh": message_zh})
