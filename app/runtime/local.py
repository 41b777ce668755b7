"""The local system on one machine: a Prefect server on SQLite and one serving process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from app.config.settings import PREFECT_AUTH_FILE, Settings, get_settings
from app.domain.errors import ProtectError
from app.runtime.ports import ensure_free

# Stopping `protect up`: how long the API, then Prefect's server, may take after SIGTERM before
# they are killed; with the executor's (deployments/executor.py, STOP_GRACE_S) everything is gone
# within 10 s.
API_GRACE_S = 2.0
SERVER_GRACE_S = 4.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
                     proc: subprocess.Popen[bytes] | None = None,
                     log_path: Path | None = None) -> None:
    """Block until the Prefect API answers its health check."""
    see = f"; see {log_path}" if log_path else ""
    wait_until(lambda: answers(f"{api_url}/health"), timeout_s=timeout_s, proc=proc,
               gone="the Prefect server exited with code {code}" + see,
               late=f"the Prefect server at {api_url} did not answer in {{timeout}} s{see}")


class Process:
    """One process of the local system, its output appended to its log; started, stopped and
    started again.

    `own_group`: in a process group of its own, so that a Ctrl-C at the terminal reaches only
    the process that started it (`protect up`), which stops its parts in order; stopping and
    killing then reach everything it started in turn.
    """

    def __init__(self, log_path: Path, *, own_group: bool = False) -> None:
        self.log_path, self.own_group = log_path, own_group
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         env=os.environ.copy(),
                                         start_new_session=self.own_group)
        return self.proc

    def launch(self) -> None:
        """Start the process; `wait_ready` waits until it serves."""
        raise NotImplementedError

    def wait_ready(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start the process and wait until it serves."""
        self.launch()
        self.wait_ready()

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            if self.own_group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def stop(self, grace_s: float = 30) -> None:
        """SIGTERM, and SIGKILL if it is still there after `grace_s`."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, without waiting for anything but the exit itself."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait()


class PrefectServer(Process):
    """`prefect server start` on our host and port."""

    def __init__(self, log_path: Path, *, own_group: bool = False) -> None:
        super().__init__(log_path, own_group=own_group)
        self.api_url = get_settings().prefect_api_url

    def launch(self) -> None:
        s = get_settings()
        self.spawn([sys.executable, "-m", "prefect", "server", "start",
                    "--host", s.prefect_host, "--port", str(s.prefect_port)])

    def wait_ready(self, timeout_s: float = 180) -> None:
        wait_for_prefect(self.api_url, proc=self.proc, timeout_s=timeout_s,
                         log_path=self.log_path)


class Runner(Process):
    """`protect serve` in its own process: every deployment served, as `protect up` does."""

    READY = b"polling for scheduled runs"

    def __init__(self, log_path: Path, sweep_interval_s: int = 0,
                 runner: str = "in-process") -> None:
        super().__init__(log_path)
        self.sweep_interval_s, self.runner = sweep_interval_s, runner

    def launch(self) -> None:
        """Started before Prefect's server answers, it imports and builds its deployments
        meanwhile and waits for the server to register them (`protect serve`)."""
        self.offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.spawn([sys.executable, "-m", "app", "serve", "--sweep-interval",
                    str(self.sweep_interval_s), "--runner", self.runner])

    def wait_ready(self, timeout_s: float = 180) -> None:
        wait_until(lambda: self.READY in self.log_path.read_bytes()[self.offset:],
                   timeout_s=timeout_s, proc=self.proc,
                   gone=f"protect serve exited; see {self.log_path}",
                   late="protect serve did not start in {timeout} s")


class ApiServer(Process):
    """The REST API under uvicorn, in its own process, on PROTECT_API_PORT."""

    def __init__(self, log_path: Path, *, own_group: bool = False) -> None:
        super().__init__(log_path, own_group=own_group)
        self.url = get_settings().api_url

    def launch(self) -> None:
        s = get_settings()
        self.spawn([sys.executable, "-m", "uvicorn", "app.entrypoints.api:create_app",
                    "--factory", "--host", s.api_host, "--port", str(s.api_port),
                    "--no-access-log"])

    def wait_ready(self, timeout_s: float = 60) -> None:
        wait_until(lambda: answers(f"{self.url}/api/v1/health"), timeout_s=timeout_s,
                   proc=self.proc, poll_s=0.3,
                   gone=f"the API server exited with code {{code}}; see {self.log_path}",
                   late=f"the API at {self.url} did not answer in {{timeout}} s; "
                        f"see {self.log_path}")


def _auth_hint(s: Any) -> str:
    if os.environ.get("PROTECT_PREFECT_AUTH") or not (s.home / PREFECT_AUTH_FILE).exists():
        return "PROTECT_PREFECT_AUTH"
    return f"cat {s.home / PREFECT_AUTH_FILE}"


def local_ports(s: Settings | None = None) -> dict[str, tuple[str, int]]:
    """The ports `protect up` listens on, by what listens there."""
    s = s or get_settings()
    return {"Prefect's server, PROTECT_PREFECT_PORT": (s.prefect_host, s.prefect_port),
            "the REST API, PROTECT_API_PORT": (s.api_host, s.api_port)}


class Stopping:
    """SIGINT, SIGTERM and SIGHUP while `protect up` runs: the first stops everything in order,
    a second at once.

    In order: the executor first, while Prefect's server still answers (the runs under way
    reach their suspension; nothing is left polling a server that is gone), then the API, then
    Prefect's server. At once: every part killed, and this process ends.
    """

    def __init__(self, parts: list[Process]) -> None:
        self.parts, self.asked = parts, False
        self.stop_serving: Callable[[], None] | None = None  # set while the executor serves

    def install(self) -> dict[int, Any]:
        """Handle the signals; the handlers there were before."""
        return {sig: signal.signal(sig, self.handle) for sig in STOP_SIGNALS}

    def serving(self, stop: Callable[[], None]) -> None:
        self.stop_serving = stop

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.asked:
            _say("stopping at once")
            for part in self.parts:
                part.kill()
            os._exit(128 + signum)
        self.asked = True
        _say("stopping…")
        if self.stop_serving is None:
            raise KeyboardInterrupt
        self.stop_serving()


def _say(text: str) -> None:
    """A line on stderr from a signal handler: os.write, as the signal may have come in the
    middle of a print; nothing if the terminal is gone (SIGHUP)."""
    try:
        os.write(2, f"{text}\n".encode())
    except OSError:
        pass


def run_local(*, sweep_interval_s: int, runner: str = "in-process") -> None:
    """Start the Prefect server and the API, then serve every deployment until interrupted
    (Ctrl-C, SIGTERM or SIGHUP), and stop them all again.

    The three start at once: the server and the API in processes of their own, while this
    one imports Prefect and the flows and builds the deployments (about 4 s of the server's
    10-15 s), then waits for both before it registers the deployments and serves."""
    from deployments.serve import serve_all

    s = get_settings()
    ensure_free(local_ports(s))
    server = PrefectServer(s.home / "log" / "prefect-server.log", own_group=True)
    api = ApiServer(s.home / "log" / "api.log", own_group=True)
    stopping = Stopping([api, server])
    before = stopping.install()

    def when_ready() -> None:
        """Called by serve_all once it has imported and built the deployments: the server and
        the API started meanwhile, in processes of their own."""
        try:
            server.wait_ready()
            api.wait_ready()
        except RuntimeError as exc:  # one line, no traceback: what failed and where to look
            raise ProtectError(str(exc)) from None
        print(f"Web pages:    {api.url}/ (sign in as a user: protect user add …)")
        print(f"Prefect UI:   {s.prefect_ui_url} (asks for Prefect's auth string: "
              f"{_auth_hint(s)})")
        print(f"Prefect API:  {s.prefect_api_url}")
        print(f"REST API:     {api.url}/api/v1 (OpenAPI: {api.url}/api/v1/docs)")
        print(f"Case store:   {s.database_url.split('@')[-1]}")
        print(f"Server log:   {server.log_path}")
        print("Serving every procedure and the sweep; Ctrl-C stops everything.", flush=True)

    try:
        server.launch()
        api.launch()
        serve_all(sweep_interval_s=sweep_interval_s, runner=runner, on_start=stopping.serving,
                  when_ready=when_ready)
    except KeyboardInterrupt:
        pass
    finally:
        stopping.asked, stopping.stop_serving = True, None  # a signal now: stop at once
        api.stop(grace_s=API_GRACE_S)
        server.stop(grace_s=SERVER_GRACE_S)
        for sig, handler in before.items():
            signal.signal(sig, handler)
