"""`protect cluster up` stops every process it started, on Ctrl-C and on SIGTERM, within 10 s.

A real `protect cluster up` in a process group of its own, on a private PostgreSQL and Redis
and ports of its own (not the session's cluster): once it says it is up, the signal goes to
it as a terminal (Ctrl-C: the whole foreground group) or a service manager (SIGTERM) sends
it; then every process below it is gone and every port of its topology is free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.runtime.cluster import ROOT as PROJECT_ROOT
from app.runtime.cluster import descendants
from app.runtime.ports import bindable
from tests.cluster.infra import PrivatePostgres, PrivateRedis
from tests.conftest import HOME
from tests.helpers import wait_for

pytestmark = pytest.mark.cluster
STOPPED_WITHIN_S = 10
UP = b"Ctrl-C (or SIGTERM) stops every process"


def _free_run_of_ports(n: int) -> int:
    """The first of `n` consecutive free ports: the proxy, the API processes, the web."""
    for first in range(21000, 60000, 97):
        if all(_free(first + i) for i in range(n)):
            return first
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    """Whether a server could listen on `port` now, as a restarted one would."""
    return bindable("127.0.0.1", port)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    pg, redis = PrivatePostgres(), PrivateRedis(HOME / "signals-redis")
    pg.init()
    pg.start()
    redis.start()
    try:
        yield pg, redis
    finally:
        redis.stop()
        pg.stop("immediate")
        pg.remove()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_cluster_up_stops_every_process_it_started(
        servers: tuple[PrivatePostgres, PrivateRedis], how: str, tmp_path: Path) -> None:
    pg, redis = servers
    first = _free_run_of_ports(4)
    ports, web = [first, first + 1, first + 2, first + 3], first + 3
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PROTECT_"))}
    env.update(PROTECT_HOME=str(tmp_path / "home"), PROTECT_CLUSTER_POSTGRES=pg.server_url,
               PROTECT_CLUSTER_REDIS_URL=redis.url, PROTECT_CLUSTER_PORT=str(first),
               PROTECT_CLUSTER_WEB_PORT=str(web))
    out = tmp_path / "cluster-up.log"
    with open(out, "wb") as log:
        up = subprocess.Popen([sys.executable, "-m", "app", "cluster", "up"], stdout=log,
                              stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT,
                              start_new_session=True)
    started: list[int] = []
    try:
        wait_for(lambda: UP in out.read_bytes() or up.poll() is not None, timeout=420,
                 what="protect cluster up to be up")
        assert up.poll() is None, out.read_text(errors="replace")[-4000:]
        started = descendants(up.pid)
        # 2 API processes, the proxy, the services, 2 executors, the dispatcher, the web
        assert len(started) >= 8, started
        assert not any(_free(p) for p in ports)  # each of them is listening
        sent = time.monotonic()
        if how == "ctrl-c":
            os.killpg(up.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole group
        else:
            up.send_signal(signal.SIGTERM)
        up.wait(timeout=STOPPED_WITHIN_S)
        left = [pid for pid in started if _alive(pid)]
        took = time.monotonic() - sent
        assert left == [] and took < STOPPED_WITHIN_S, (left, took)
        assert [p for p in ports if not _free(p)] == []
        assert up.returncode == 0, out.read_text(errors="replace")[-4000:]
    finally:  # what a failed stop left behind: only processes still alive
        running = up.poll() is None
        for pid in [*([up.pid, *descendants(up.pid)] if running else []),
                    *(pid for pid in started if _alive(pid))]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        up.wait(timeout=30)
