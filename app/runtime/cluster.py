"""The scaled-out topology on one machine: Prefect's server split up, Redis, in-process executors.

    proxy :4300 ──▶ API process 1 :4301 ┐  (prefect server start --no-services)
                └─▶ API process 2 :4302 ┤
                    background services ┤  (prefect server services start): the one
                                        │   scheduler of the sweep and the monthly report
                                        ├── PostgreSQL: Prefect's database + the case store
                                        └── Redis: messaging, event ordering, docket, leases
    executor-1 … executor-N                (protect cluster executor): every deployment's runs
                                           in-process, each claimed by proposing Pending
    dispatcher                             (protect dispatch --every 0.2): the outbox
    web :8300                              our REST API and pages (uvicorn), on the case store

The executors listen to Prefect through the proxy and have no port: add one (on any machine
with the code and the environment) for more throughput. `Topology.runner = "process"`
(`protect cluster up --runner process`) runs Prefect process workers on a work pool instead,
one new process per flow run. Every process gets the same environment (`Topology.env`): the
case store and Prefect's API address for our code, Prefect's database and Redis for the
server. `make cluster` runs `protect cluster up`; docs/operations.md explains each part.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from app.runtime.local import answers, wait_until
from app.runtime.ports import ensure_free

ROOT = Path(__file__).resolve().parents[2]
RUNNERS = ("in-process", "process")
POOL = "protect-process"
PREFECT_FILE = "deployments/prefect.yaml"
ZOMBIE_AUTOMATION = "protect: crash flow runs whose heartbeat stopped"
# Seconds between a running flow run's heartbeats, and how long a silent run is trusted.
HEARTBEAT_S = 30  # Prefect's minimum
ZOMBIE_AFTER_S = 75
READY = b"polling for scheduled runs"  # what an executor prints once it serves
STOP_GRACE_S = 5.0  # SIGTERM to SIGKILL when stopping: everything is gone within 10 s


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
    # "in-process": executors that run flow runs as asyncio tasks of their own process;
    # "process": Prefect process workers on a work pool, one new process per flow run.
    runner: str = "in-process"
    workers: int = 2  # executors, or process workers
    # Flow runs at once in one executor: short async steps, mostly waiting on Prefect's API
    # and the case store, so a few interleave well; more only share the same CPU, and each
    # run takes longer (cluster_load, 2 executors: 8 each, 1.5 executions/s; 3 each, 2.1/s).
    executor_concurrency: int = 4
    # Flow runs at once per process worker: each is a Python process of its own (~150 MB,
    # 1-3 s of CPU to start), so a burst of starts queues in Prefect instead.
    worker_limit: int = 4
    pool: str = POOL

    def __post_init__(self) -> None:
        if self.runner not in RUNNERS:
            raise ValueError(f"unknown runner {self.runner!r}: one of {', '.join(RUNNERS)}")

    @property
    def worker_names(self) -> list[str]:
        kind = "executor" if self.runner == "in-process" else "worker"
        return [f"{kind}-{i + 1}" for i in range(self.workers)]

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
            "PROTECT_EXECUTOR_CONCURRENCY": str(self.executor_concurrency),
            # A burst of starts waits in the outbox while a run already waits for each worker
            # or executor, so the resumes of cases under way are not queued behind it.
            "PROTECT_START_BACKLOG": str(self.workers),
        }

    def write_env_file(self) -> Path:
        """`source var/cluster/env` gives a shell the cluster's settings."""
        path = self.home / "env"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"export {k}='{v}'\n" for k, v in self.env().items()))
        return path


def topology_from_settings(*, runner: str = "in-process", workers: int = 2) -> Topology:
    from app.config.settings import get_settings

    s = get_settings()
    return Topology(home=s.home / "cluster", postgres=s.cluster_postgres,
                    redis_url=s.cluster_redis_url, proxy_port=s.cluster_port,
                    api_ports=(s.cluster_port + 1, s.cluster_port + 2),
                    web_port=s.cluster_web_port, runner=runner, workers=workers)


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
    # Where each process's output began in its log at its last start (an executor's READY).
    log_offsets: dict[str, int] = field(default_factory=dict)

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
        for name in t.worker_names:
            cmds[name] = ([py, "-m", "app", "cluster", "executor"] if t.runner == "in-process"
                          else [py, "-m", "prefect", "worker", "start", "--pool", t.pool,
                                "--type", "process", "--name", name,
                                "--limit", str(t.worker_limit)])
        cmds["web"] = [py, "-m", "uvicorn", "app.entrypoints.api:create_app", "--factory",
                       "--host", "127.0.0.1", "--port", str(t.web_port), "--no-access-log"]
        return cmds

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PROTECT_"))}
        return {**env, **self.topology.env()}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start one part (again); its output goes to log/<name>.log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{name}.log"
        log = self.logs.get(name) or open(path, "ab")  # noqa: SIM115
        self.logs[name] = log
        self.log_offsets[name] = path.stat().st_size
        # PGAPPNAME: PostgreSQL's pg_stat_activity names the part behind each connection to
        # the case store (libpq reads it; Prefect's asyncpg connections stay unnamed).
        proc = subprocess.Popen(self.commands()[name], stdout=log, stderr=subprocess.STDOUT,
                                env={**self.env(), "PGAPPNAME": f"protect-{name}"}, cwd=ROOT,
                                start_new_session=True)
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
        _signal_all([proc.pid, *descendants(proc.pid)], sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill(name, signal.SIGKILL)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop every part: SIGTERM to all at once, SIGKILL to what is left after `grace_s`.

        All at once, not one after the other: the executors and workers hold no state that a
        graceful end would save (a run cut short is recovered as after a crash), so nothing
        waits for its turn and the whole cluster is gone within `grace_s` and a moment.
        """
        pids = [pid for proc in self.procs.values() if proc.poll() is None
                for pid in (proc.pid, *descendants(proc.pid))]
        _signal_all(pids, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        _signal_all([pid for pid in pids if _running(pid)], signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
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

    def serving(self, name: str) -> bool:
        """Whether an executor started last has announced that it serves (READY)."""
        path = self.log_dir / f"{name}.log"
        return READY in path.read_bytes()[self.log_offsets.get(name, 0):]

    def wait_for_workers(self, timeout_s: float = 180) -> None:
        """Until every executor serves, or every process worker has polled the pool."""
        names = set(self.topology.worker_names)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name in names:
                if not self.alive(name):
                    raise RuntimeError(f"{name} exited; see {self.log_dir / f'{name}.log'}")
            if self.topology.runner == "in-process":
                if all(self.serving(name) for name in names):
                    return
            else:
                try:
                    r = requests.post(f"{self.topology.api_url}/work_pools/"
                                      f"{self.topology.pool}/workers/filter", json={}, timeout=5)
                    online = {w["name"] for w in r.json() if w.get("status") == "ONLINE"}
                    if r.ok and names <= online:
                        return
                except (requests.RequestException, ValueError):
                    pass
            time.sleep(0.5)
        raise RuntimeError(f"the workers did not come online in {timeout_s:.0f} s")

    def ports(self) -> dict[str, tuple[str, int]]:
        """What listens where: the proxy, the API processes, the web process."""
        t = self.topology
        return {"proxy": ("127.0.0.1", t.proxy_port),
                **{f"api-{i + 1}": ("127.0.0.1", port) for i, port in enumerate(t.api_ports)},
                "web": ("127.0.0.1", t.web_port)}

    def up(self, *, deploy: bool = True) -> None:
        """Bring the whole topology up in order; safe on a cluster that ran before."""
        ensure_free(self.ports())  # before anything starts: name what holds a port
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
            self.run("-m", "app", "cluster", "deploy", "--runner", self.topology.runner)
        for name in [*self.topology.worker_names, "dispatcher"]:
            self.start(name)
        self.start("web")
        self.wait_healthy(self.topology.web_url, "web")
        self.wait_for_workers()


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its parent is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def deploy(runner: str = "in-process") -> None:
    """Apply every deployment with its schedules, and the zombie check: once per release.

    This is the one place where the deployments and their schedules (the sweep every minute,
    the monthly report) are written. Executors only look the deployments up
    (deployments/cluster_executor.py), so adding or restarting one never touches a schedule.
    "process": the work pool and `deployments/prefect.yaml` (`prefect deploy --all`).
    Runs with the cluster's environment: Prefect reads its settings at import.
    """
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from deployments.executor import ROLL_CALL_POOL

    # Built outside the event loop: there, Prefect's `to_deployment` returns a coroutine.
    runner_deployments: list[Any] = []
    if runner == "in-process":
        from deployments.serve import build_deployments

        runner_deployments = [d for d, _ in build_deployments()]

    async def apply() -> None:
        async with get_client() as client:
            # "process": the pool whose workers run the flow runs; "in-process": the pool the
            # executors answer their roll call in (deployments/executor.py), which no run is on.
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(
                    name=POOL if runner == "process" else ROLL_CALL_POOL, type="process"))
            for old in await client.read_automations_by_name(ZOMBIE_AUTOMATION):
                await client.delete_automation(old.id)
            await client.create_automation(zombie_automation())
        for deployment in runner_deployments:
            await deployment.aapply()

    asyncio.run(apply())
    if runner == "process":
        env = {**os.environ, "PROTECT_ROOT": str(ROOT), "PROTECT_PYTHON": sys.executable}
        subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all",
                        "--prefect-file", PREFECT_FILE], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print("deployments applied to the work pool", POOL)
    else:
        print("deployments applied for the in-process executors")


def zombie_automation():  # type: ignore[no-untyped-def]
    """Prefect's documented zombie check: a running flow run whose heartbeats stop is crashed.

    A run's heartbeats come from the process that executes it: an executor (a thread per run
    it executes) or the run's own process on a process worker; when that process dies they
    stop. The clock starts at the run's Running event as well as at each heartbeat, so a
    run whose process died before its first heartbeat left is caught too. A suspended run
    stops its heartbeats, so suspension ends the expectation like a final state. The sweep
    then reschedules crashed runs whose procedure is still active.
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
            after={"prefect.flow-run.heartbeat", "prefect.flow-run.Running"}, expect=ends,
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=ZOMBIE_AFTER_S)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message="no heartbeat: its process is gone")])


def run_cluster(*, runner: str = "in-process", workers: int = 2) -> None:
    """`protect cluster up`: bring the topology up, print where things are, wait for Ctrl-C.

    Ctrl-C and SIGTERM stop every process it started within `STOP_GRACE_S` and a moment,
    also while it is still starting them; a second signal does not cut the stopping short.
    """
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, and SIGTERM (systemd, `docker stop`, kill) stop every process the same way; also
    # when started in the background, where a shell hands Python SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    topology = topology_from_settings(runner=runner, workers=workers)
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
        if topology.runner == "in-process":
            print(f"Executors:    {topology.workers} in-process, "
                  f"{topology.executor_concurrency} runs at once each")
        else:
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
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping every process of the cluster…", flush=True)
        cluster.stop()
        print("stopped", flush=True)
