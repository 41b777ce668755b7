"""The cluster's executors: both answer the roll call in Prefect's register of workers, and the
runs are shared between them, each executed by one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from app.runtime.cluster import Cluster
from deployments.executor import ROLL_CALL_POOL, ROLL_CALL_S
from tests.helpers import open_case, open_task, start, wait_for

pytestmark = pytest.mark.cluster


def _answering(cluster: Cluster) -> set[str]:
    r = requests.post(f"{cluster.topology.api_url}/work_pools/{ROLL_CALL_POOL}/workers/filter",
                      json={}, timeout=30)
    r.raise_for_status()
    since = datetime.now(UTC) - 3 * timedelta(seconds=ROLL_CALL_S)
    return {w["name"] for w in r.json() if w["last_heartbeat_time"]
            and datetime.fromisoformat(w["last_heartbeat_time"]) > since}


def test_the_executors_answer_the_roll_call_and_share_the_runs(cluster: Cluster) -> None:
    names = cluster.topology.worker_names
    wait_for(lambda: len(_answering(cluster)) >= len(names), timeout=4 * ROLL_CALL_S,
             what="every executor to answer the roll call")
    logs = {name: cluster.log_dir / f"{name}.log" for name in names}
    offsets = {name: path.stat().st_size for name, path in logs.items()}
    cases = [open_case() for _ in range(12)]
    for case in cases:
        start(case, "R2")
    for case in cases:
        open_task(case, "r2.outreach", timeout=240)
    begun = {name: len(re.findall(rb"Beginning flow run 'C\d+-\d+-R2-",
                                  path.read_bytes()[offsets[name]:]))
             for name, path in logs.items()}  # R2's runs only, not the sweep's
    # Each run is for one executor (rendezvous hashing of its id): with 12 runs, both have
    # some unless 1 in 2048; and no run began twice.
    assert all(n > 0 for n in begun.values()), begun
    assert sum(begun.values()) == len(cases), begun
