"""The local system on one machine: a Prefect server on SQLite and one serving process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from app.config.settings import PREFECT_AUTH_FILE, get_settings


def answers(url: str) -> bool:
    """Whether `url` answers its health check now."""
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def wait_until(ready: Callable[[], bool], *, timeout_s: float, gone: str, late: str,
               proc: subprocess.Popen[bytes] | None = None, poll_s: float = 0.5) -> None:
    """Block until `ready()`. Raises with `gone` if `proc` exits first ({code}: its exit code), with
    `late` after `timeout_s` ({timeout}: the seconds)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(gone.replace("{code}", str(proc.returncode)))
        if ready():
            return
        time.sleep(poll_s)
    raise RuntimeError(late.replace("{timeout}", f"{timeout_s:.0f}"))


def wait_for_prefect(api_url: str, *, timeout_s: float = 120,
                     proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until the Prefect API answers its health check."""
    wait_until(lambda: answers(f"{api_url}/health"), timeout_s=timeout_s, proc=proc,
               gone="the Prefect server exited with code {code}",
               late=f"the Prefect server at {api_url} did not answer in {{timeout}} s")


class Process:
    """One process of the local system, its output appended to its log; started, stopped and
    started again."""

    def __init__(self, log_path: Path) -> None:
        self.log_path, self.proc = log_path, None

    def spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     env=os.environ.copy())
        return self.proc

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class PrefectServer(Process):
    """`prefect server start` on our host and port."""

    def __init__(self, log_path: Path) -> None:
        super().__init__(log_path)
        self.api_url = get_settings().prefect_api_url

    def start(self, timeout_s: float = 180) -> None:
        s = get_settings()
        proc = self.spawn([sys.executable, "-m", "prefect", "server", "start",
                           "--host", s.prefect_host, "--port", str(s.prefect_port)])
        wait_for_prefect(self.api_url, proc=proc, timeout_s=timeout_s)


class Runner(Process):
    """`protect serve` in its own process: every deployment served, as `protect up` does."""

    READY = b"polling for scheduled runs"

    def __init__(self, log_path: Path, sweep_interval_s: int = 0,
                 runner: str = "in-process") -> None:
        super().__init__(log_path)
        self.sweep_interval_s, self.runner = sweep_interval_s, runner

    def start(self, timeout_s: float = 120) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        proc = self.spawn([sys.executable, "-m", "app", "serve", "--sweep-interval",
                           str(self.sweep_interval_s), "--runner", self.runner])
        wait_until(lambda: self.READY in self.log_path.read_bytes()[offset:],
                   timeout_s=timeout_s, proc=proc,
                   gone=f"protect serve exited; see {self.log_path}",
                   late="protect serve did not start in {timeout} s")


class ApiServer(Process):
    """The REST API under uvicorn, in its own process, on PROTECT_API_PORT."""

    def __init__(self, log_path: Path) -> None:
        super().__init__(log_path)
        self.url = get_settings().api_url

    def start(self, timeout_s: float = 60) -> None:
        s = get_settings()
        proc = self.spawn([sys.executable, "-m", "uvicorn", "app.entrypoints.api:create_app",
                           "--factory", "--host", s.api_host, "--port", str(s.api_port),
                           "--no-access-log"])
        wait_until(lambda: answers(f"{self.url}/api/v1/health"), timeout_s=timeout_s,
                   proc=proc, poll_s=0.3, gone=f"the API server exited; see {self.log_path}",
                   late=f"the API at {self.url} did not answer in {{timeout}} s")


def _auth_hint(s: Any) -> str:
    if os.environ.get("PROTECT_PREFECT_AUTH") or not (s.home / PREFECT_AUTH_FILE).exists():
        return "PROTECT_PREFECT_AUTH"
    return f"cat {s.home / PREFECT_AUTH_FILE}"


def run_local(*, sweep_interval_s: int, runner: str = "in-process") -> None:
    """Start the Prefect server, then serve every deployment until interrupted."""
    from deployments.serve import serve_all

    s = get_settings()
    server = PrefectServer(s.home / "log" / "prefect-server.log")
    api = ApiServer(s.home / "log" / "api.log")
    try:
        server.start()
        api.start()
        print(f"Web pages:    {api.url}/ (sign in as a user: protect user add …)")
        print(f"Prefect UI:   {s.prefect_ui_url} (asks for Prefect's auth string: "
              f"{_auth_hint(s)})")
        print(f"Prefect API:  {s.prefect_api_url}")
        print(f"REST API:     {api.url}/api/v1 (OpenAPI: {api.url}/api/v1/docs)")
        print(f"Case store:   {s.database_url.split('@')[-1]}")
        print(f"Server log:   {server.log_path}")
        print("Serving every procedure and the sweep; Ctrl-C stops everything.")
        serve_all(sweep_interval_s=sweep_interval_s, runner=runner)
    finally:
        api.stop()
        server.stop()
