"""Every error the API answers, in one JSON shape with a stable code."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from app.domain.errors import Conflict, Forbidden, NotFound, ProtectError, ValidationFailed

log = logging.getLogger("protect.api")


class FieldProblem(BaseModel):
    """One problem with one field of the request."""

    field: str
    code: str
    message: str
    message_zh: str


class ErrorDetail(BaseModel):
    code: str  # stable: see docs/api.md
    message: str  # for people; never echoes submitted values
    fields: list[FieldProblem] = []


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


# The answers every operation may give besides its success (for the OpenAPI document).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        400: "malformed request", 401: "no valid token", 403: "refused by the access rules",
        404: "no such thing", 409: "conflict with the current state",
        422: "invalid input, field by field"}.items()}

STATUS: dict[str, int] = {NotFound.code: 404, Conflict.code: 409, Forbidden.code: 403,
                          ValidationFailed.code: 422, "unauthorized": 401,
                          "too_many_attempts": 429}
HTTP_CODES: dict[int, str] = {400: "bad_request", 401: "unauthorized", 403: "forbidden",
                              404: "not_found", 405: "method_not_allowed",
                              406: "not_acceptable", 413: "payload_too_large",
                              415: "unsupported_media_type"}


def error(status: int, code: str, message: str, fields: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "fields": fields or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def _protect_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProtectError)
    status = STATUS.get(exc.code, 400)
    fields = [e.model_dump() for e in getattr(exc, "errors", [])]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:  # app/services/users.py:TooManyAttempts: how long to wait, in seconds
        headers = {"Retry-After": str(getattr(exc, "retry_after", 1))}
    return error(status, exc.code if exc.code != "error" else "bad_request", str(exc), fields,
                 headers)


def _request_invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(p.get("type") == "json_invalid" for p in problems):
        return error(400, "malformed_json", "the request body is not valid JSON")
    fields = []
    for p in problems:
        loc = [str(x) for x in p.get("loc", ())]
        field = ".".join(loc[1:] if len(loc) > 1 and loc[0] == "body" else loc) or "body"
        msg = str(p.get("msg", "invalid"))
        ctx = p.get("ctx") or {}
        if p.get("type") == "refused" and "message_zh" in ctx:  # app.domain.errors.refusal
            fields.append({"field": field, "code": f"{(loc or [field])[-1]}.{ctx['code']}",
                           "message": msg, "message_zh": str(ctx["message_zh"])})
            continue
        fields.append({"field": field, "code": f"{field}.{p.get('type', 'invalid')}",
                       "message": msg, "message_zh": f"字段 {field} 无效：{msg}"})
    names = ", ".join(sorted({f["field"] for f in fields}))
    return error(422, "invalid_request",
                 f"the request was refused ({len(fields)} problem(s): {names})", fields)


def allowed_methods(request: Request) -> list[str]:
    """Every method the request's path takes, as the OpenAPI document lists them (Starlette's
    405 names only the first matching route's: POST for GET and POST /cases); [] for a path
    the document does not hold."""
    paths = getattr(request.app.state, "document_paths", None)
    if paths is None:
        paths = [(re.compile("^" + "[^/]+".join(re.escape(part) for part in re.split(
                    r"\{[^{}/]+\}", path)) + "$"), sorted(m.upper() for m in operations))
                 for path, operations in request.app.openapi().get("paths", {}).items()]
        request.app.state.document_paths = paths
    return sorted({m for pattern, methods in paths if pattern.match(request.url.path)
                   for m in methods})


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal")
    headers = exc.headers
    if exc.status_code == 405:  # a method the path does not take: Allow says which it does
        allow = allowed_methods(request)
        headers = {**(headers or {}), "Allow": ", ".join(allow)} if allow else headers
    return error(exc.status_code, code, str(exc.detail), headers=headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The type and the route only: an exception's text can carry a row's values.
    route = getattr(request.scope.get("route"), "path", "?")
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, route)
    return error(500, "internal", "an internal error; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProtectError, _protect_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
