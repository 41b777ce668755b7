"""`protect up` started and stopped as an operator does: in a terminal of its own, Ctrl-C
(SIGINT to its whole process group) or SIGTERM to it alone; and started a second time while a
port is taken.

Each start is a real `protect up` (Prefect's server, the API, the executor) with a home and
ports of its own; it takes 20-40 s here, so only the two stops start it. The Ctrl-C test starts
in an empty home, as a newcomer's first `make run` does; the SIGTERM test's home has Prefect's
migrated database already, as every later start does (tests/prefect_db.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import PREFECT_TEMPLATE, free_port

ROOT = Path(__file__).resolve().parents[1]
BANNER = "Ctrl-C stops everything"
SERVING = "polling for scheduled runs"  # the executor's: it serves from now on
START_S = 240  # to the banner, on a loaded machine
STOP_S = 10  # what an operator may wait for after Ctrl-C


class Up:
    """One `protect up` in a session of its own, its console in a file."""

    def __init__(self, home: Path, prefect_port: int, api_port: int) -> None:
        self.home, self.ports = home, (prefect_port, api_port)
        self.console = home.parent / "console.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PROTECT_"))}
        env.update(PROTECT_HOME=str(home), PROTECT_PREFECT_PORT=str(prefect_port),
                   PROTECT_API_PORT=str(api_port))
        with open(self.console, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "app", "up"], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self) -> str:
        return self.console.read_text(errors="replace")

    def wait_for(self, line: str) -> None:
        deadline = time.monotonic() + START_S
        while line not in self.output():
            assert self.proc.poll() is None, f"protect up exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {line!r} in {START_S} s:\n{self.output()}"
            time.sleep(0.5)


def start_a_run_and_wait_for_it(up: Up) -> None:
    """A run of the sweep's deployment, asked of Prefect's REST API as its UI does, and under
    way in the executor: Ctrl-C comes while a run executes and its logs wait to be sent."""
    api = f"http://127.0.0.1:{up.ports[0]}/api"
    auth = tuple((up.home / "prefect-auth").read_text().strip().split(":", 1))
    began = up.output().count("Beginning flow run")
    deadline = time.monotonic() + 60

    def ask(method: str, path: str) -> requests.Response:
        while True:  # 503: SQLite busy, as Prefect's own client, ask again
            r = requests.request(method, f"{api}/{path}", auth=auth, timeout=30,
                                 json={} if method == "POST" else None)
            if r.status_code != 503 or time.monotonic() > deadline:
                r.raise_for_status()
                return r
            time.sleep(0.5)

    deployment = ask("GET", "deployments/name/protect-sweep/every-minute").json()
    ask("POST", f"deployments/{deployment['id']}/create_flow_run")
    while up.output().count("Beginning flow run") <= began:
        assert time.monotonic() < deadline, f"the run did not start:\n{up.output()}"
        time.sleep(0.05)


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: state, ppid, pgid, …; None if it is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _processes() -> dict[int, list[str]]:
    return {int(p.name): s for p in Path("/proc").iterdir()
            if p.name.isdigit() and (s := _stat(int(p.name))) is not None}


def descendants(pid: int) -> set[int]:
    procs = _processes()
    found, queue = set(), [pid]
    while queue:
        parent = queue.pop()
        for child, stat in procs.items():
            if int(stat[1]) == parent and child not in found:
                found.add(child)
                queue.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if (s := _stat(pid)) is not None and s[0] != "Z"}


def in_group(pgid: int) -> set[int]:
    return {pid for pid, s in _processes().items() if int(s[2]) == pgid and s[0] != "Z"}


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@contextmanager
def running_up(tmp_path: Path, *, first_start: bool) -> Iterator[tuple[Up, set[int]]]:
    """A `protect up` past its banner and serving (the executor polls Prefect: the stop that
    used to take a minute), and the processes it started; whatever the test does, nothing of
    it outlives the test. `first_start`: in an empty home, where Prefect's server migrates its
    database; otherwise the home has a migrated one."""
    home = tmp_path / "var"
    if not first_start:
        PREFECT_TEMPLATE.copy_to(home / "prefect")
    up = Up(home, free_port(), free_port())
    parts: set[int] = set()
    try:
        up.wait_for(BANNER)
        up.wait_for(SERVING)
        parts = descendants(up.proc.pid)
        assert len(parts) >= 2, f"Prefect's server and the API: {parts}"
        yield up, parts
    finally:
        for pid in {up.proc.pid, *parts}:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        up.proc.wait()


def assert_all_gone(up: Up, parts: set[int], sent: float) -> None:
    """Within STOP_S of the signal: `protect up` and everything it started exited, its ports
    refuse connections."""
    try:
        code = up.proc.wait(timeout=max(0.1, sent + STOP_S - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"protect up still runs {STOP_S} s after the signal:\n{up.output()}")
    while alive(parts) and time.monotonic() < sent + STOP_S:
        time.sleep(0.1)
    took = time.monotonic() - sent
    assert not alive(parts), f"still running {took:.1f} s after the signal: {alive(parts)}"
    assert not in_group(up.proc.pid), "a process of its group is still there"
    for port in up.ports:
        assert refused(port), f"port {port} still answers"
    assert code == 0, f"exit code {code}:\n{up.output()}"
    print(f"everything stopped {took:.1f} s after the signal")


def test_ctrl_c_stops_everything_quietly(tmp_path: Path) -> None:
    with running_up(tmp_path, first_start=True) as (up, parts):
        start_a_run_and_wait_for_it(up)
        sent = time.monotonic()
        os.killpg(up.proc.pid, signal.SIGINT)  # as a terminal does: the whole group
        assert_all_gone(up, parts, sent)
        console = up.output()
        assert "Traceback" not in console, console
        assert "ERROR" not in console, console


def test_sigterm_to_protect_up_alone_stops_everything(tmp_path: Path) -> None:
    with running_up(tmp_path, first_start=False) as (up, parts):
        start_a_run_and_wait_for_it(up)
        sent = time.monotonic()
        os.kill(up.proc.pid, signal.SIGTERM)
        assert_all_gone(up, parts, sent)
        assert "Traceback" not in up.output(), up.output()


@pytest.mark.parametrize("taken", ["prefect", "api"])
def test_a_taken_port_stops_the_start_at_once_naming_its_holder(tmp_path: Path,
                                                                taken: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        other = free_port()
        up = Up(tmp_path / "var", *((port, other) if taken == "prefect" else (other, port)))
        try:
            code = up.proc.wait(timeout=30)  # a second or two here; the CLI imports slowly
        except subprocess.TimeoutExpired:
            os.killpg(up.proc.pid, signal.SIGKILL)
            up.proc.wait()
            pytest.fail(f"protect up did not stop:\n{up.output()}")
    lines = [line for line in up.output().splitlines() if line.strip()]
    assert code != 0
    assert len(lines) == 1, lines
    assert f"port {port}" in lines[0] and f"pid {os.getpid()}" in lines[0], lines
    assert "\0" not in lines[0], lines  # its command line, readable
    assert BANNER not in up.output()
    assert not (tmp_path / "var" / "log").exists(), "something was started"
