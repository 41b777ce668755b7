"""Test set-up: an isolated home, the case store, and a real Prefect server and runner.

The environment is fixed here, at import, because Prefect reads its settings when it is
first imported. Everything a test run writes lives under one temporary folder.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Which case store the whole suite runs on: "sqlite" (default) or "postgres".
TEST_DATABASE = os.environ.get("PROTECT_TEST_DATABASE", "sqlite")
# The fault tests of the scaled-out topology (tests/cluster/) bring up a whole cluster and
# point this process at it: they run in a pytest session of their own, `make test-cluster`.
CLUSTER_TESTS = os.environ.get("PROTECT_CLUSTER_TESTS") == "1"
collect_ignore = [] if CLUSTER_TESTS else ["cluster"]
for _name in [n for n in os.environ if n.startswith(("PREFECT_", "PROTECT_"))]:
    del os.environ[_name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HOME = Path(tempfile.mkdtemp(prefix="protect-test-"))
# Where the hotline platform takes our feedback: a port nobody listens on until a test starts
# its platform there (tests/flows/test_hotline.py), so that "down" is a refused connection.
HOTLINE_PORT = free_port()
HOTLINE_SECRET = "test-hotline-secret"
LOGS = HOME / "log"
LOGS.mkdir()
os.environ.update({
    "PROTECT_ENV": "test",
    "PROTECT_HOME": str(HOME),
    "PROTECT_PREFECT_PORT": str(free_port()),
    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
    "PROTECT_HOTLINE_CALLBACK_URL": f"http://127.0.0.1:{HOTLINE_PORT}/feedback",
    "PROTECT_HOTLINE_SECRET": HOTLINE_SECRET,
})
if TEST_DATABASE == "postgres":
    import atexit

    from tests.pg import drop_database, fresh_database

    os.environ["PROTECT_DATABASE_URL"] = fresh_database("protect_flows")
    atexit.register(drop_database, os.environ["PROTECT_DATABASE_URL"])

from app.config.settings import configure_prefect_env, get_settings  # noqa: E402

configure_prefect_env()

# Everything this process logs goes to a file too, so the personal-data test can read it.
_handler = logging.FileHandler(LOGS / "test-process.log", encoding="utf-8")
_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
logging.getLogger().addHandler(_handler)
logging.getLogger().setLevel(logging.INFO)
logging.getLogger("httpx").setLevel(logging.WARNING)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `last` run after every other test (they inspect what the others left)."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.fixture(scope="session")
def store() -> str:
    """The configured case store, migrated and seeded."""
    from app.adapters.store import db, seed_agencies
    from models.db import migrate

    url = get_settings().database_url
    migrate(url)
    with db() as session:
        seed_agencies(session=session)
    return url


@pytest.fixture()
def quiet_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A case store of the test's own, of the suite's kind, made the configured one: for the
    checks that something writes nothing, which count whole tables. The session's store keeps
    changing under such a count once the runner is up: it serves, at its own pace, the runs
    that any earlier test started or queued."""
    from tests.pg import own_store

    with own_store(TEST_DATABASE, tmp_path, "protect_quiet", monkeypatch) as url:
        yield url


class System:
    """What the flow tests run against."""

    def __init__(self, server: Any, runner: Any, store_url: str) -> None:
        self.server, self.runner, self.store_url = server, runner, store_url


@pytest.fixture(scope="session")
def system(store: str) -> Iterator[System]:
    """A real Prefect server and a real runner serving every deployment."""
    from app.runtime.local import PrefectServer, Runner

    server, runner = PrefectServer(LOGS / "prefect-server.log"), Runner(LOGS / "serve.log")
    server.start()
    runner.start()
    try:
        yield System(server, runner, store)
    finally:
        runner.stop()
        server.stop()
