"""The local system on one machine: a Prefect server on SQLite and one serving process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from app.config.settings import PREFECT_AUTH_FILE, get_settings


def wait_for_prefect(api_url: str, *, timeout_s: float = 120,
                     proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until the Prefect API answers its health check."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {proc.returncode}")
        try:
            if requests.get(f"{api_url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server at {api_url} did not answer in {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PrefectServer:
    """`prefect server start` on our host and port; can be stopped and started again."""

    def __init__(self, log_path: Path) -> None:
        self.log_path, self.proc = log_path, None
        self.api_url = get_settings().prefect_api_url

    def start(self, timeout_s: float = 180) -> None:
        s = get_settings()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", s.prefect_host,
             "--port", str(s.prefect_port)],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        wait_for_prefect(self.api_url, proc=self.proc, timeout_s=timeout_s)

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


class Runner:
    """`protect serve` in its own process: every deployment served, as `protect up` does."""

    READY = b"polling for scheduled runs"

    def __init__(self, log_path: Path, sweep_interval_s: int = 0,
                 runner: str = "in-process") -> None:
        self.log_path, self.sweep_interval_s, self.proc = log_path, sweep_interval_s, None
        self.runner = runner

    def start(self, timeout_s: float = 120) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--sweep-interval",
             str(self.sweep_interval_s), "--runner", self.runner],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"protect serve exited; see {self.log_path}")
            if self.READY in self.log_path.read_bytes()[offset:]:
                return
            time.sleep(0.5)
        raise RuntimeError(f"protect serve did not start in {timeout_s:.0f} s")

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


class ApiServer:
    """The REST API under uvicorn, in its own process, on PROTECT_API_PORT."""

    def __init__(self, log_path: Path) -> None:
        self.log_path, self.proc = log_path, None
        self.url = get_settings().api_url

    def start(self, timeout_s: float = 60) -> None:
        s = get_settings()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.entrypoints.api:create_app", "--factory",
             "--host", s.api_host, "--port", str(s.api_port), "--no-access-log"],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the API server exited; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the API at {self.url} did not answer in {timeout_s:.0f} s")

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


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
