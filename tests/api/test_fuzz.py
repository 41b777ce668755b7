"""The API fuzzed from its own OpenAPI document: no 5xx, every answer as documented."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.entrypoints.api import create_app


def own_address(app: Any) -> Any:
    """The app, with every request from an address of the fuzzer's own: its many wrong
    logins lock that address out (tests/api/test_login_throttle.py), not "testclient",
    which the other tests' clients share."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": ("192.0.2.99", 50000)}
        await app(scope, receive, send)

    return asgi


schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", own_address(create_app()))


@pytest.fixture(scope="module")
def headers(store: str, login: Any) -> dict[str, str]:
    """A coordinator: the role that reaches the most of the API."""
    from tests.api.conftest import add_task
    from tests.helpers import open_case

    case = open_case()  # so that some generated references exist
    add_task(case)
    return login("center", "coordinator")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_fuzz(case: Any, headers: dict[str, str]) -> None:
    case.call_and_validate(headers=headers, checks=[
        not_a_server_error, response_schema_conformance, status_code_conformance,
        content_type_conformance])
