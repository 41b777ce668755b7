"""Checking a record in a separate worker process, for a process that must stay small.

The serving process executes every flow run, and one of its steps checks a record again
inside the procedure (M1's claim against the admitting hospital). Importing Great
Expectations there would cost about 4 s and keep a few hundred MB in the process that holds
every run for its whole life. `problems` sends the record to one worker process, started on
first use with `spawn`, which imports GE once and keeps its warm validation plans; only the
suite name, the record and the problem codes cross between the two, over a local pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _codes(suite: str, record: dict[str, Any]) -> list[str]:
    """In the worker: the codes of the problems `suite` finds in `record`."""
    from expectations.runner import validate_record

    return [e.code for e in validate_record(suite, record)]


def _watch_parent(parent: int) -> None:
    """In the worker: exit when the process that started it is gone (killed, say)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _worker() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1,
                                        mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_watch_parent, initargs=(os.getpid(),))
        return _pool


def problems(suite: str, record: dict[str, Any]) -> list[str]:
    """The codes of the problems `suite` finds in `record` ([] when none), checked in the
    worker process; a worker that died is replaced once."""
    global _pool
    try:
        return _worker().submit(_codes, suite, record).result()
    except BrokenProcessPool:
        with _lock:
            _pool = None
        return _worker().submit(_codes, suite, record).result()


def shutdown() -> None:
    """Stop the worker process, if one was started."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)
