"""The local system on one machine: a Prefect server on SQLite and one serving process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import requests

from app.settings import get_settings


def wait_for_prefect(api_url: str, *, timeout_s: float = 120, proc: subprocess.Popen | None = None
                     ) -> None:
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


def start_prefect_server(log_path: str) -> subprocess.Popen:
    s = get_settings()
    log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", s.prefect_host,
         "--port", str(s.prefect_port)],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )


def run_local(*, sweep_interval_s: int) -> None:
    """Start the Prefect server, then serve every deployment until interrupted."""
    from deployments.serve import serve_all

    s = get_settings()
    logs = s.home / "log"
    logs.mkdir(parents=True, exist_ok=True)
    server = start_prefect_server(str(logs / "prefect-server.log"))
    try:
        wait_for_prefect(s.prefect_api_url, proc=server)
        print(f"Prefect UI:   {s.prefect_ui_url}")
        print(f"Prefect API:  {s.prefect_api_url}")
        print(f"Case store:   {s.database_url.split('@')[-1]}")
        print(f"Server log:   {logs / 'prefect-server.log'}")
        print("Serving every procedure and the sweep; Ctrl-C stops everything.")
        serve_all(sweep_interval_s=sweep_interval_s)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
