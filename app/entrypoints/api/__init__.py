"""The REST API under /api/v1 and the web pages at /: FastAPI over the service layer."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from app.config.settings import configure_prefect_env

configure_prefect_env()  # before anything imports Prefect

from app.entrypoints.api import errors, guard  # noqa: E402
from app.entrypoints.api.routers import (  # noqa: E402
    auth,
    cases,
    indicators,
    intake,
    procedures,
    screening,
    sealed,
    tasks,
)

PREFIX = "/api/v1"
# Every router of the API, mounted under PREFIX. A new area (intake, import, indicators) is
# a module in app/entrypoints/api/routers/ and one line here.
ROUTERS: list[APIRouter] = [auth.router, cases.router, procedures.router, tasks.router,
                            sealed.router, intake.router, screening.router, indicators.router]


def create_app() -> FastAPI:
    """The API and the web pages (uvicorn: `app.entrypoints.api:create_app --factory`)."""
    app = FastAPI(title="protect", version="1",
                  description="Child protection procedures: cases, procedures, tasks. "
                              "Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`.",
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs",
                  redoc_url=None)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX, responses=errors.ERROR_RESPONSES)
    # Body limits and the token, before a route reads a body (413, 401; docs/api.md "Limits").
    guard.install(app, limits={f"{PREFIX}/imports": screening.MAX_FILE_BYTES})

    from app.entrypoints.web import install as install_web

    install_web(app)  # the web pages at `/` (app/entrypoints/web/), on the same service layer

    @app.get(f"{PREFIX}/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Whether the API answers (no authentication)."""
        return {"status": "ok"}

    return app
