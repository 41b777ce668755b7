"""The scaled-out topology on one machine: Prefect's server split up, Redis, workers on a pool.

    proxy :4300 ──▶ API process 1 :4301 ┐  (prefect server start --no-services)
                └─▶ API process 2 :4302 ┤
                    background services ┤  (prefect server services start)
                                        ├── PostgreSQL: Prefect's database + the case store
                                        └── Redis: messaging, event ordering, docket, leases
    worker-1, worker-2                     (prefect worker start --type process), one pool
    dispatcher                             (protect dispatch --every 0.2): the outbox
    web :8300                              our REST API and pages (uvicorn), on the case store

Every process gets the same environment (`Topology.env`): the case store and Prefect's API
address for our code, Prefect's database and Redis for the server. `make cluster` runs
`protect cluster up`; docs/operations.md explains each part.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests

from app.runtime.local import answers, wait_until

ROOT = Path(__file__).resolve().parents[2]
POOL = "protect-process"
PREFECT_FILE = "deployments/prefect.yaml"
ZOMBIE_AUTOMATION = "protect: crash flow runs whose heartbeat stopped"
# Seconds between a running flow run's heartbeats, and how long a silent run is trusted.
HEARTBEAT_S = 30  # Prefect's minimum
ZOMBIE_AFTER_S = 75


@dataclass(frozen=True)
class Topology:
    """Where each part of the cluster lives; everything else follows from it."""

    home: Path
    postgres: str = "postgresql://postgres@127.0.0.1:5432"  # the server, no database
    redis_url: str = "redis://127.0.0.1:6379/7"  # a database number of its own
    store_db: str = "protect_cluster"
    prefect_db: str = "protect_cluster_prefect"
    proxy_port: int = 4300
    api_ports: tuple[int, ...] = (4301, 4302)
    web_port: int = 8300
    workers: int = 2
    # Flow runs at once per worker: each is a Python process of its own (~150 MB, 1-3 s of
    # CPU to start), so a burst of starts queues in Prefect instead of exhausting the machine.
    worker_limit: int = 4
    pool: str = POOL

    def db_url(self, driver: str, name: str) -> str:
        return self.postgres.replace("postgresql://", f"postgresql+{driver}://", 1) + f"/{name}"

    @property
    def store_url(self) -> str:
        return self.db_url("psycopg", self.store_db)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/api"

    @property
    def web_url(self) -> str:
        """Our REST API (its `/health` is the web process's)."""
        return f"http://127.0.0.1:{self.web_port}/api/v1"

    def env(self) -> dict[str, str]:
        """The environment of every process of the cluster (and of an operator's shell)."""
        prefect_home = self.home / "prefect"
        return {
            # Our code: the case store and the one address of Prefect's API.
            "PROTECT_HOME": str(self.home),
            "PROTECT_DATABASE_URL": self.store_url,
            "PREFECT_API_URL": self.api_url,
            "PREFECT_UI_API_URL": self.api_url,
            # Our API and pages; their links to a flow run go to the UI behind the proxy.
            "PROTECT_API_HOST": "127.0.0.1",
            "PROTECT_API_PORT": str(self.web_port),
            "PROTECT_PREFECT_UI": self.api_url.removesuffix("/api"),
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_LOCAL_STORAGE_PATH": str(prefect_home / "storage"),
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LOG_PRINTS": "false",
            # Prefect's server: its database on PostgreSQL, its messaging on Redis.
            "PREFECT_API_DATABASE_CONNECTION_URL": self.db_url("asyncpg", self.prefect_db),
            "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
            "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
            "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
            "PREFECT_SERVER_DOCKET_URL": self.redis_url,
            "PREFECT_REDIS_MESSAGING_URL": self.redis_url,
            # Flow runs prove they are alive; a silent one is crashed, then recovered.
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            # A burst of starts waits in the outbox while a run already waits for each worker
            # (each asks for runs every second), so the resumes of cases under way are not
            # queued behind it.
            "PROTECT_START_BACKLOG": str(self.workers),
        }

    def write_env_file(self) -> Path:
        """`source var/cluster/env` gives a shell the cluster's settings."""
        path = self.home / "env"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"export {k}='{v}'\n" for k, v in self.env().items()))
        return path


def topology_from_settings() -> Topology:
    from app.config.settings import get_settings

    s = get_settings()
    return Topology(home=s.home / "cluster", postgres=s.cluster_postgres,
                    redis_url=s.cluster_redis_url, proxy_port=s.cluster_port,
                    api_ports=(s.cluster_port + 1, s.cluster_port + 2),
                    web_port=s.cluster_web_port)


def ensure_databases(topology: Topology) -> None:
    """Create the two databases if they are missing; never touches any other."""
    from sqlalchemy import create_engine, text

    engine = create_engine(topology.db_url("psycopg", "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for name in (topology.store_db, topology.prefect_db):
                if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": name}).first() is None:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


@dataclass
class Cluster:
    """The processes of a topology: start them in order, kill one, stop them all."""

    topology: Topology
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.topology.home / "log"

    def commands(self) -> dict[str, list[str]]:
        t, py = self.topology, sys.executable
        cmds = {f"api-{i + 1}": [py, "-m", "prefect", "server", "start", "--no-services",
                                 "--host", "127.0.0.1", "--port", str(port)]
                for i, port in enumerate(t.api_ports)}
        cmds["proxy"] = [py, "-m", "app.runtime.proxy", "--listen", f"127.0.0.1:{t.proxy_port}",
                         *[a for p in t.api_ports for a in ("--upstream", f"127.0.0.1:{p}")]]
        cmds["services"] = [py, "-m", "prefect", "server", "services", "start"]
        cmds["dispatcher"] = [py, "-m", "app", "dispatch", "--every", "0.2"]
        for i in range(t.workers):
            cmds[f"worker-{i + 1}"] = [py, "-m", "prefect", "worker", "start", "--pool", t.pool,
                                       "--type", "process", "--name", f"worker-{i + 1}",
                                       "--limit", str(t.worker_limit)]
        cmds["web"] = [py, "-m", "uvicorn", "app.entrypoints.api:create_app", "--factory",
                       "--host", "127.0.0.1", "--port", str(t.web_port), "--no-access-log"]
        return cmds

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PROTECT_"))}
        return {**env, **self.topology.env()}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start one part (again); its output goes to log/<name>.log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.logs.get(name) or open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        self.logs[name] = log
        proc = subprocess.Popen(self.commands()[name], stdout=log, stderr=subprocess.STDOUT,
                                env=self.env(), cwd=ROOT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one part and everything it started (a worker's flow-run processes too)."""
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        for pid in [proc.pid, *descendants(proc.pid)]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill(name, signal.SIGKILL)

    def stop(self) -> None:
        """Stop every part, newest first: SIGTERM, then SIGKILL after a grace period."""
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                for pid in [proc.pid, *descendants(proc.pid)]:
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        deadline = time.monotonic() + 20
        for name in reversed(list(self.procs)):
            try:
                self.procs[name].wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(name)
        for log in self.logs.values():
            log.close()
        self.procs.clear()
        self.logs.clear()

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A one-off command with the cluster's environment, e.g. `python -m app migrate`."""
        proc = subprocess.run([sys.executable, *args], env=self.env(), cwd=ROOT, text=True,
                              capture_output=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        return proc

    def wait_healthy(self, url: str, name: str, timeout_s: float = 180) -> None:
        wait_until(lambda: answers(f"{url}/health"), timeout_s=timeout_s,
                   proc=self.procs.get(name),
                   gone=f"{name} exited; see {self.log_dir / f'{name}.log'}",
                   late=f"{name} did not answer at {url} in {{timeout}} s")

    def start_api(self, name: str) -> None:
        port = self.topology.api_ports[int(name.split("-")[1]) - 1]
        self.start(name)
        self.wait_healthy(f"http://127.0.0.1:{port}/api", name)

    def wait_for_workers(self, timeout_s: float = 120) -> None:
        """Until every worker has announced itself to the pool (its first poll)."""
        names = {f"worker-{i + 1}" for i in range(self.topology.workers)}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name in names:
                if not self.alive(name):
                    raise RuntimeError(f"{name} exited; see {self.log_dir / f'{name}.log'}")
            try:
                r = requests.post(f"{self.topology.api_url}/work_pools/{self.topology.pool}"
                                  "/workers/filter", json={}, timeout=5)
                online = {w["name"] for w in r.json() if w.get("status") == "ONLINE"}
                if r.ok and names <= online:
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(1)
        raise RuntimeError(f"the workers did not come online in {timeout_s:.0f} s")

    def up(self, *, deploy: bool = True) -> None:
        """Bring the whole topology up in order; safe on a cluster that ran before."""
        ensure_databases(self.topology)
        self.topology.write_env_file()
        self.run("-m", "app", "migrate")
        # One API process at a time: each migrates Prefect's database on start.
        for name in [n for n in self.commands() if n.startswith("api-")]:
            self.start_api(name)
        self.start("proxy")
        self.wait_healthy(self.topology.api_url, "proxy")
        self.start("services")
        if deploy:
            self.run("-m", "app.runtime.cluster", "deploy")
        for name in self.commands():
            if name.startswith("worker-") or name == "dispatcher":
                self.start(name)
        self.start("web")
        self.wait_healthy(self.topology.web_url, "web")
        self.wait_for_workers()


def deploy() -> None:
    """Create the work pool, apply every deployment of prefect.yaml, add the zombie check.

    Runs with the cluster's environment (`Cluster.run`): Prefect reads its settings at import.
    """
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async def pool_and_automation() -> None:
        async with get_client() as client:
            try:
                await client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
            except ObjectAlreadyExists:
                pass
            for old in await client.read_automations_by_name(ZOMBIE_AUTOMATION):
                await client.delete_automation(old.id)
            await client.create_automation(zombie_automation())

    asyncio.run(pool_and_automation())
    env = {**os.environ, "PROTECT_ROOT": str(ROOT), "PROTECT_PYTHON": sys.executable}
    subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all",
                    "--prefect-file", PREFECT_FILE], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    print("deployments applied to the work pool", POOL)


def zombie_automation():  # type: ignore[no-untyped-def]
    """Prefect's documented zombie check: a running flow run whose heartbeats stop is crashed.

    A suspended run stops its heartbeats too, so suspension ends the expectation like a final
    state. The sweep then reschedules crashed runs whose procedure is still active.
    """
    from datetime import timedelta

    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    ends = {f"prefect.flow-run.{s}" for s in
            ("heartbeat", "Completed", "Failed", "Cancelled", "Crashed", "Suspended", "Paused",
             "Cancelling", "Scheduled", "Resuming")}
    return AutomationCore(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"}, expect=ends,
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=ZOMBIE_AFTER_S)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message="no heartbeat: its process is gone")])


def run_cluster() -> None:
    """`protect cluster up`: bring the topology up, print where things are, wait for Ctrl-C."""
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, and SIGTERM (systemd, `docker stop`, kill) stop every process the same way; also
    # when started in the background, where a shell hands Python SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    topology = topology_from_settings()
    cluster = Cluster(topology)
    try:
        cluster.up()
        print(f"Prefect UI and API (proxy): {topology.api_url.removesuffix('/api')}")
        for name, port in zip([n for n in cluster.commands() if n.startswith("api-")],
                              topology.api_ports, strict=True):
            print(f"  {name}: http://127.0.0.1:{port}/api")
        print(f"Pages:        http://127.0.0.1:{topology.web_port}/  "
              f"(API: {topology.web_url}; first user: `protect user add`, with the "
              "environment below)")
        print(f"Case store:   {topology.store_url.split('@')[-1]}")
        print(f"Prefect DB:   {topology.db_url('asyncpg', topology.prefect_db).split('@')[-1]}")
        print(f"Redis:        {topology.redis_url.split('@')[-1]}")
        print(f"Work pool:    {topology.pool}, {topology.workers} process workers")
        print(f"Logs:         {cluster.log_dir}/")
        print(f"Environment:  source {topology.home / 'env'}  (then: python -m app …)")
        print("Ctrl-C (or SIGTERM) stops every process (the data stays in PostgreSQL).",
              flush=True)
        while True:
            for name in list(cluster.procs):
                if not cluster.alive(name):
                    print(f"{name} exited; restarting it (see {cluster.log_dir}/{name}.log)",
                          flush=True)
                    cluster.start(name)
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["deploy"]:
        deploy()
    else:
        sys.exit("usage: python -m app.runtime.cluster deploy  (with the cluster's environment)")
