"""The dispatcher: the outbox delivered continuously, each message on a thread of its own pool.

The serving process (deployments/executor.py) polls a `Dispatcher` for the starts and
resumes; the cluster's dispatcher process (`protect dispatch --forever`) runs `run_forever`
for every kind. One delivery is app/adapters/dispatch.py's.

An optional channel left unset is said once, when the process starts its dispatcher
(`say_unconfigured_channels`), not by a failed delivery on every sweep: its messages wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from app.adapters.dispatch import claim, deliver_claimed, pending, unconfigured_channels
from app.adapters.prefect import backlog
from app.config.settings import get_settings
from models import OutboxMessage

log = logging.getLogger("protect.dispatch")
BACKLOG_UNREACHABLE_S = 5.0  # Prefect did not answer the count: hold starts this long
_said = False  # whether this process has said which optional channels are off


def say_unconfigured_channels() -> list[str]:
    """Warn, once per process, of each optional channel left unset, naming its setting; the
    lines said (none on a later call). A serving or dispatching process calls this when it
    starts; the sweep never does, as it runs every minute, in a process of its own on a
    worker."""
    global _said
    if _said:
        return []
    _said = True
    lines = unconfigured_channels()
    for line in lines:
        log.warning("%s", line)
    return lines


class Dispatcher:
    """Delivers due messages continuously, each on a thread of its own pool.

    `dispatch()` delivers a batch and returns when the whole batch is done, so one slow
    delivery (a busy Prefect's client sleeps 2 s before it gives up) holds back every message
    that falls due meanwhile. The serving process polls this instead: each poll claims only as
    many due messages as there are free threads, hands each to a thread and returns at once.
    A claimed message is leased (`LEASE`), so the next poll does not see it again.
    """

    def __init__(self, *, workers: int, kinds: Iterable[str] | None = ("resume", "start")
                 ) -> None:
        say_unconfigured_channels()  # the process starts delivering: once, whatever its kinds
        self.workers = workers
        self.kinds = tuple(kinds) if kinds is not None else None  # None: every kind
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="dispatch")
        self.in_flight = 0
        self.lock = threading.Lock()
        self._count_again_at = 0.0  # monotonic; after Prefect failed to count the backlog

    def poll(self) -> int:
        """Claim what is due, up to the free threads, and start delivering it; how many."""
        with self.lock:
            free = self.workers - self.in_flight
        if free <= 0:
            return 0
        started = 0
        for msg in pending(kinds=self.kinds, limit=free, exclude=self._held_kinds()):
            if not claim(msg):
                continue  # another dispatcher has it
            with self.lock:
                self.in_flight += 1
            self.pool.submit(self._deliver, msg)
            started += 1
        return started

    def _held_kinds(self) -> tuple[str, ...]:
        """("start",) while starts are held (`Held`): they are left where they are, due and
        in order, instead of being claimed only to be put back."""
        limit = get_settings().start_backlog
        if limit <= 0 or (self.kinds is not None and "start" not in self.kinds):
            return ()
        if time.monotonic() < self._count_again_at:
            return ("start",)
        try:
            return ("start",) if backlog() >= limit else ()
        except Exception:  # noqa: BLE001 - Prefect down or busy: no start could go out now
            # Everything else is delivered meanwhile; the count is asked again in a while,
            # not on every poll.
            self._count_again_at = time.monotonic() + BACKLOG_UNREACHABLE_S
            return ("start",)

    def _deliver(self, msg: OutboxMessage) -> None:
        try:
            # A busy answer goes back to the outbox at once, to be asked again in 0.3–1.5 s
            # (`Busy`), instead of Prefect's client sleeping 2 s first: on SQLite, Prefect's
            # server refuses a new flow run whenever another write lands during its read.
            deliver_claimed(msg, prefect_retries=0)
        finally:
            with self.lock:
                self.in_flight -= 1

    def close(self) -> None:
        """Wait for the deliveries under way; nothing else is queued (claims match threads)."""
        self.pool.shutdown(wait=True)


def run_forever(*, poll_s: float = 0.2, workers: int = 8, stop: threading.Event | None = None
                ) -> None:
    """Deliver every kind of due message until stopped (the cluster's dispatcher).

    An outage of the case store or of Prefect is reported once when it begins and once when it
    ends, with the error's type; the loop keeps polling, so nothing waits for a restart.
    """
    stop = stop or threading.Event()
    dispatcher = Dispatcher(workers=workers, kinds=None)
    outage: str | None = None
    log.info("dispatcher polling every %.1f s", poll_s)
    try:
        while not stop.is_set():
            try:
                dispatcher.poll()
            except Exception as exc:  # noqa: BLE001 - the case store may be restarting
                if outage is None:
                    outage = type(exc).__name__
                    log.error("case store unreachable (%s): retrying every %.1f s; "
                              "no message is lost", outage, poll_s)
            else:
                if outage is not None:
                    log.warning("case store reachable again after %s", outage)
                    outage = None
            stop.wait(poll_s)
    finally:
        dispatcher.close()
