"""The scaled-out topology for the fault tests: private PostgreSQL and Redis, the whole cluster.

This process is pointed at the cluster (its case store, the proxy in front of Prefect's API)
before anything imports Prefect, so the helpers in tests/helpers.py work unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.config.settings import get_settings
from app.runtime.cluster import Cluster, Topology
from tests.cluster.infra import PrivatePostgres, PrivateRedis
from tests.conftest import HOME, free_port

ROOT = HOME / "cluster"
PG = PrivatePostgres()
REDIS = PrivateRedis(ROOT / "redis")
TOPOLOGY = Topology(home=ROOT / "home", postgres=PG.server_url, redis_url=REDIS.url,
                    proxy_port=free_port(), api_ports=(free_port(), free_port()),
                    web_port=free_port())
os.environ.update(TOPOLOGY.env())
get_settings.cache_clear()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """PostgreSQL, Redis, two API processes, the services, two workers, the dispatcher."""
    PG.init()
    PG.start()
    REDIS.start()
    c = Cluster(TOPOLOGY)
    try:
        c.up()
        yield c
    finally:
        c.stop()
        REDIS.stop()
        PG.stop("immediate")
        PG.remove()
