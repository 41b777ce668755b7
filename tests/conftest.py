"""Test set-up: an isolated home, the case store, and a real Prefect server and runner.

The environment is fixed here, at import, because Prefect reads its settings when it is
first imported. Everything a test run writes lives under one temporary folder.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Which case store the whole suite runs on: "sqlite" (default) or "postgres".
TEST_DATABASE = os.environ.get("PROTECT_TEST_DATABASE", "sqlite")
# The fault tests of the scaled-out topology (tests/cluster/) bring up a whole cluster and
# point this process at it: they run in a pytest session of their own, `make test-cluster`.
CLUSTER_TESTS = os.environ.get("PROTECT_CLUSTER_TESTS") == "1"
collect_ignore = [] if CLUSTER_TESTS else ["cluster"]
# The folder of one test run: the controller of `pytest -n N` makes it, its workers find it here.
RUN_ENV = "PROTECT_TEST_RUN_DIR"
_run_dir = os.environ.get(RUN_ENV)
for _name in [n for n in os.environ if n.startswith(("PREFECT_", "PROTECT_"))]:
    del os.environ[_name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Under `pytest -n N` (pytest-xdist, as `make test` runs) each worker is a session of its own,
# with its own home, Prefect server, runner and case store, each home a folder of the run's, so
# that the tests marked `last` can look at what every worker left (`worker_homes`).
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
RUN_DIR = Path(_run_dir) if WORKER and _run_dir else Path(tempfile.mkdtemp(prefix="protect-test-"))
HOME = RUN_DIR / (WORKER or "main")
HOME.mkdir()
# Where the hotline platform takes our feedback: a port nobody listens on until a test starts
# its platform there (tests/flows/test_hotline.py), so that "down" is a refused connection.
HOTLINE_PORT = free_port()
HOTLINE_SECRET = "test-hotline-secret"
STORE_FILE = "database-url"  # a worker's case store on PostgreSQL, for the controller to drop
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
    RUN_ENV: str(RUN_DIR),
    "PROTECT_TEST_DATABASE": TEST_DATABASE,  # for the workers, which clear what they inherit
})
if TEST_DATABASE == "postgres":
    import atexit

    from tests.pg import drop_database, fresh_database

    os.environ["PROTECT_DATABASE_URL"] = fresh_database("protect_flows")
    # A worker's store outlives the worker, for the `last` tests: the controller drops it.
    (HOME / STORE_FILE).write_text(os.environ["PROTECT_DATABASE_URL"])
    if not WORKER:
        atexit.register(drop_database, os.environ["PROTECT_DATABASE_URL"])

from app.config.settings import configure_prefect_env, get_settings  # noqa: E402
from tests.prefect_db import PrefectTemplate  # noqa: E402

configure_prefect_env()
# Prefect's database, migrated once by the controller of `pytest -n N` for every new home.
PREFECT_TEMPLATE = PrefectTemplate(RUN_DIR)

# Everything this process logs goes to a file too, so the personal-data test can read it.
_handler = logging.FileHandler(LOGS / "test-process.log", encoding="utf-8")
_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
logging.getLogger().addHandler(_handler)
logging.getLogger().setLevel(logging.INFO)
logging.getLogger("httpx").setLevel(logging.WARNING)


# The garbage collector of a test process, tuned for a heap that grows to a million objects and
# keeps them: a young collection waits for 10,000 new objects, not 700, and a full one for 100
# middle-aged collections, not 10. A full collection takes 0.2-0.3 s here, and a worker ran 31
# of them, collection's included; tests/unit and tests/api in one process spent 10.5 s in the
# collector with the defaults.
GC_THRESHOLDS = (10_000, 10, 100)
gc.set_threshold(*GC_THRESHOLDS)


def pytest_configure(config: pytest.Config) -> None:
    """The controller of `pytest -n N` starts migrating Prefect's database while its workers
    collect, unless no test of the run starts Prefect's server: tests/unit alone, the
    cluster's (on PostgreSQL), or a run that only collects. A session of its own (no `-n`)
    starts at most one server and two `protect up`: Prefect migrates their databases itself."""
    if WORKER or not config.getoption("numprocesses", None) or CLUSTER_TESTS \
            or config.option.collectonly:
        return
    unit = Path(__file__).parent / "unit"
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    if not all(path.is_relative_to(unit) for path in paths):
        PREFECT_TEMPLATE.migrate_in_background()


LAST_TESTS = "last-tests.json"  # the ids of the `last` tests, for the scheduler of `pytest -n`


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `last` run after every other test (they inspect what the others left).
    Before them, the tests that drive the browser: Playwright's sync API leaves an event loop
    running in the main thread for the rest of the session, and Prefect's sync calls made
    after it (`run_deployment`, `to_deployment`) would hand back coroutines. Under `pytest -n`
    each worker runs what it is given in this order, so no worker runs a flow test after a
    page test, whatever the selection."""
    items.sort(key=lambda item: (item.get_closest_marker("last") is not None,
                                 "browser" in getattr(item, "fixturenames", ())))
    if WORKER:
        last = [item.nodeid for item in items if item.get_closest_marker("last") is not None]
        mine = RUN_DIR / f"{LAST_TESTS}.{WORKER}"
        mine.write_text(json.dumps(last))
        mine.replace(RUN_DIR / LAST_TESTS)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection built (the modules, Prefect's, SQLAlchemy's, schemathesis' and 2,000
    test items) lives until the session ends: out of the garbage collector's reach, so that a
    full collection scans only what the tests made since (`GC_THRESHOLDS`)."""
    gc.freeze()


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `pytest -n N`: tests are handed out one by one, as xdist's `load` does, except
    that the `last` tests go together to one worker, which waits for the others to finish
    (`worker_homes`); once they are handed out, every other worker is told there is no more
    (a worker runs its final test only when told so)."""
    from xdist.scheduler import LoadScopeScheduling

    class LastTestsLast(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if not hasattr(self, "last"):  # the workers have collected by the first call
                self.last = set(json.loads((RUN_DIR / LAST_TESTS).read_text()))
            return "last" if nodeid in self.last else nodeid

        def _assign_work_unit(self, node: Any) -> None:
            super()._assign_work_unit(node)
            if not self.workqueue:
                for other in self.nodes:
                    if other is not node and not other.shutting_down:
                        other.shutdown()

    config.option.loadscopereorder = False  # in collection order: the `last` tests last
    return LastTestsLast(config, log)


DONE = "session-finished.json"  # what a worker leaves for the `last` tests when it is done


@pytest.hookimpl(trylast=True)  # after the session's fixtures (its servers) are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A worker's last word: its personal test values and its case store, for the `last`
    tests that run on another worker. The controller, after every worker: drop their stores,
    and remove the run's folder (the homes and their logs) unless a test failed."""
    if WORKER:
        from tests.helpers import PERSONAL

        (HOME / DONE).write_text(json.dumps({
            "personal": PERSONAL, "database_url": get_settings().database_url}))
        return
    PREFECT_TEMPLATE.stop()
    if TEST_DATABASE == "postgres":
        for url_file in RUN_DIR.glob(f"gw*/{STORE_FILE}"):
            drop_database(url_file.read_text())
    if exitstatus == pytest.ExitCode.OK:
        shutil.rmtree(RUN_DIR, ignore_errors=True)


@dataclass(frozen=True)
class WorkerHome:
    """What one session of the run (one worker, or the only session) left behind."""

    home: Path
    database_url: str
    personal: list[str]

    @property
    def logs(self) -> Path:
        return self.home / "log"


def worker_homes(timeout_s: float = 1800) -> list[WorkerHome]:
    """This session's home and every other worker's, once each has finished its tests."""
    from tests.helpers import PERSONAL

    mine = WorkerHome(HOME, get_settings().database_url, PERSONAL)
    if not WORKER:
        return [mine]
    others = [RUN_DIR / f"gw{i}" for i in range(int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
              if f"gw{i}" != WORKER]
    deadline = time.monotonic() + timeout_s
    while not all((h / DONE).exists() for h in others):
        if time.monotonic() > deadline:
            pytest.fail(f"the other workers did not finish in {timeout_s:.0f} s")
        time.sleep(1)
    homes = [mine]
    for h in others:
        left = json.loads((h / DONE).read_text())
        homes.append(WorkerHome(h, left["database_url"], left["personal"]))
    return homes


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
    try:
        runner.launch()  # imports and builds its deployments while the server starts
        PREFECT_TEMPLATE.copy_to(Path(os.environ["PREFECT_HOME"]))
        server.launch()
        server.wait_ready()
        runner.wait_ready()
        yield System(server, runner, store)
    finally:
        runner.stop()
        server.stop()
