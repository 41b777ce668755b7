"""Prefect's database, migrated once for a run of the suite and copied into each new Prefect
home that a test starts a server in.

Prefect's server migrates a new SQLite database at its first start: 116 migrations, about 13 s
of CPU and 15 s here, while a start on a migrated database takes 5-6 s. A run of `make test`
starts Prefect's server in new homes four times (each worker's system and the two `protect up`
of tests/test_up.py). The controller of `pytest -n N` migrates one database with Prefect's own
command (`prefect server database upgrade`), in the background while the workers collect, and
three of those homes get a copy of it: Prefect's server then starts as it does on every start
but the first. The first start is still tested: by the migration here, and by the Ctrl-C test
of tests/test_up.py, which starts `protect up` in an empty home as a newcomer does.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

from app.runtime.local import wait_until

PREFECT_DB = "prefect.db"  # in PREFECT_HOME, Prefect's default connection URL


class PrefectTemplate:
    """The run's migrated database, in a Prefect home of its own in the run's folder."""

    def __init__(self, run_dir: Path) -> None:
        self.home = run_dir / "prefect-template"
        self.db, self.log = self.home / PREFECT_DB, self.home / "migrate.log"
        self.ready, self.failed = self.home / "ready", self.home / "failed"
        self.proc: subprocess.Popen[bytes] | None = None
        self.waiting: threading.Thread | None = None

    def migrate_in_background(self) -> None:
        """Start Prefect's migration of the template; `ready` or `failed` tells when it ends."""
        self.home.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
        env["PREFECT_HOME"] = str(self.home)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        self.waiting = threading.Thread(target=self._await, args=(self.proc,), daemon=True)
        self.waiting.start()

    def _await(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        (self.ready if code == 0 else self.failed).write_text(str(code))

    def stop(self) -> None:
        """End the migration if the run ends first (a run with no Prefect server), before
        the run's folder is removed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.waiting is not None:
            self.waiting.join()

    def copy_to(self, prefect_home: Path, timeout_s: float = 300) -> None:
        """Give a new Prefect home the migrated database, once the migration has ended. Does
        nothing where the home has a database already, or where this run migrates none (a
        session without `-n`, a run of tests/unit alone): Prefect's server then migrates its
        own at its first start."""
        target = prefect_home / PREFECT_DB
        if target.exists() or not self.home.exists():
            return
        wait_until(lambda: self.ready.exists() or self.failed.exists(), timeout_s=timeout_s,
                   poll_s=0.1, gone="", late=f"Prefect's migration of {self.db} did not end "
                   f"in {{timeout}} s; see {self.log}")
        if self.failed.exists():
            raise RuntimeError(f"Prefect's migration of {self.db} failed; see {self.log}")
        prefect_home.mkdir(parents=True, exist_ok=True)
        # SQLite's own copy: whole and consistent, whatever the template's journal holds.
        with closing(sqlite3.connect(self.db)) as source, \
                closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
