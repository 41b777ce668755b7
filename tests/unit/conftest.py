"""The fast tier (`make test-fast`): tests of pure code, with no server, no process, no database
and no browser.

A test here that connects or binds a socket, sends a datagram, starts a process or opens a
SQLite database fails, in its set-up, its body or its tear-down, even if the code under test
catches the error: Python's audit hooks (PEP 578) see each of these at its source, whichever
library asks. PostgreSQL, Prefect's API, the web server and the browser are all reached through
a socket. Threads that were already running when the test began (a Prefect client of an
earlier test in a whole-suite run) are not the test's doing and are left alone.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager

import pytest

FORBIDDEN = {
    "socket.connect": "connects a socket",
    "socket.bind": "binds a socket",
    "socket.sendto": "sends a datagram",
    "subprocess.Popen": "starts a process",
    "os.system": "starts a process",
    "os.posix_spawn": "starts a process",
    "os.spawn": "starts a process",
    "os.exec": "replaces the process",
    "os.fork": "forks the process",
    "sqlite3.connect": "opens a SQLite database",
}


class _Watch:
    """What the running unit test did that it must not; `caught` is None between tests."""

    caught: list[str] | None = None
    others: frozenset[int] = frozenset()  # threads that were running before the test


def _audit(event: str, args: tuple[object, ...]) -> None:
    caught = _Watch.caught
    if caught is None or event not in FORBIDDEN or threading.get_ident() in _Watch.others:
        return
    what = f"{FORBIDDEN[event]} ({event} {args[:2]!r})"
    caught.append(what)
    raise RuntimeError(f"a unit test {what}: it belongs outside tests/unit")


sys.addaudithook(_audit)  # an audit hook stays for the whole process; `_Watch.caught` arms it


@contextmanager
def _watched() -> Iterator[None]:
    me = threading.get_ident()
    _Watch.others = frozenset(t.ident for t in threading.enumerate()
                              if t.ident is not None and t.ident != me)
    _Watch.caught = caught = []
    try:
        yield
    finally:
        _Watch.caught = None
        if caught:
            pytest.fail("a unit test " + "; ".join(dict.fromkeys(caught)), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _watched():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _watched():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None
                            ) -> Generator[None, None, None]:
    with _watched():
        return (yield)
