"""One gate for every entry point: the record's suite, then its typed model; field-level errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from app.errors import ValidationFailed


def _pydantic_errors(exc: ValidationError, prefix: str = "") -> list[Any]:
    from expectations.runner import FieldError

    out = []
    for err in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "form"
        out.append(FieldError(field=prefix + field, code=f"{field}.{err['type']}",
                              message=err["msg"], message_zh=f"字段 {field} 无效：{err['msg']}"))
    return out


def check(model: type[BaseModel], data: Any, *, suite: str | None = None,
          suite_record: dict[str, Any] | None = None,
          suite_fields: dict[str, str] | None = None) -> BaseModel:
    """Validate `data` as `model`, after the suite has checked `suite_record` (default: data).

    `suite_fields` renames the suite's flat field names to the form's paths ("name" →
    "child.name"), so both checks speak of a field by the same name and each is reported once.
    Raises ValidationFailed with every problem found; nothing has been written when it does.
    """
    rename = suite_fields or {}
    errors: list[Any] = []
    if suite is not None:
        from expectations.runner import validate_record

        record = suite_record if suite_record is not None else data
        if not isinstance(record, dict):
            record = {}
        for e in validate_record(suite, record):
            errors.append(e.model_copy(update={"field": rename.get(e.field, e.field)}))
    if not isinstance(data, dict):
        from expectations.runner import FieldError

        raise ValidationFailed(errors or [FieldError(
            field="form", code="form.not_an_object", message="the form must be a JSON object",
            message_zh="表单必须是 JSON 对象")])
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        seen = {e.field for e in errors}
        errors += [e for e in _pydantic_errors(exc) if e.field not in seen]
        raise ValidationFailed(errors) from None
    if errors:
        raise ValidationFailed(errors)
    return parsed
