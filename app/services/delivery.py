"""Delivering what a write has just put in the outbox (a start, a resume), so that it happens
now, and telling the person who made the write what became of it.

A long-lived process (the API, the pages) delivers the messages itself, at once: Prefect's
client is loaded there already. A short command (`protect start`, `protect intake`, `protect
complete`) hands them over instead (`handover`): the running system (`protect up`, a
cluster's dispatchers) polls the outbox for starts and resumes every 0.2 s with Prefect
loaded, while loading it in the command costs about 1.5 s of CPU, more than all the rest of
the command. The command then waits for that delivery, at most `SETTLE_S`, and reads what
became of each message from the outbox. A message nobody has taken within `HANDOVER_S`
(nothing is running) the command delivers itself, as a long-lived process does.

Either way the answer is what the outbox says: delivered; being delivered; waiting a moment
because Prefect is busy (its SQLite database was locked: it answers 503) or the run is not at
its step yet; or waiting because Prefect did not answer. Only the last is "not reachable".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlmodel import col, select

from app.adapters.prefect import retried_soon
from app.adapters.store import db
from models import OutboxMessage

Outcome = Literal["delivered", "delivering", "busy", "unreachable"]
HANDOVER_S = 0.6  # a running dispatcher polls every 0.2 s: three polls, on a loaded machine
SETTLE_S = 0.9  # how long a short command waits for the deliveries it handed over
POLL_S = 0.05


@dataclass(frozen=True)
class Delivery:
    """What became of each message (by its outbox key) when the writer answered."""

    outcomes: dict[str, Outcome]

    @property
    def delivered(self) -> int:
        return sum(o == "delivered" for o in self.outcomes.values())

    @property
    def waiting(self) -> Outcome | None:
        """Why something is not delivered yet (the gravest reason), or None: all delivered."""
        for reason in ("unreachable", "busy", "delivering"):
            if reason in self.outcomes.values():
                return reason  # type: ignore[return-value]
        return None


def deliver_now(keys: Sequence[str], *, handover: bool = False) -> Delivery:
    """Deliver the outbox messages `keys` now (see the module's docstring); what became of
    each. `handover`: a short command, which leaves them to a running dispatcher if any."""
    keys = list(keys)
    if not keys:
        return Delivery({})
    if not handover:
        from app.adapters.dispatch import dispatch

        dispatch(keys=keys)
        return Delivery({k: "unreachable" if o is None else o for k, o in _read(keys).items()})
    began, ours = time.monotonic(), set[str]()
    while True:
        seen = _read(keys)
        waited = time.monotonic() - began
        # Settled: delivered, failed, or busy at the running dispatcher, which asks again
        # within seconds itself. What we took ourselves we ask again until SETTLE_S.
        settled = all(o in ("delivered", "unreachable") or (o == "busy" and k not in ours)
                      for k, o in seen.items())
        if settled or waited >= SETTLE_S:
            # Untouched at the end: our own delivery did not take it either.
            return Delivery({k: "unreachable" if o is None else o for k, o in seen.items()})
        if waited >= HANDOVER_S:
            # Nobody took these (no dispatcher runs), or we took them and Prefect was busy.
            mine = [k for k, o in seen.items() if o is None or (o == "busy" and k in ours)]
            if mine:
                ours.update(mine)
                _deliver_due(mine)
        time.sleep(POLL_S)


def _read(keys: list[str]) -> dict[str, Outcome | None]:
    """Each message's state in the outbox; None: pending and never taken by anyone."""
    with db() as session:
        rows = session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).in_(keys))).all()
    by_key = {r.dedupe_key: r for r in rows}
    out: dict[str, Outcome | None] = {}
    for key in keys:
        row = by_key.get(key)
        if row is None or row.status == "dead":
            out[key] = "unreachable"
        elif row.status == "delivered":
            out[key] = "delivered"
        elif row.last_error is not None:
            out[key] = "busy" if retried_soon(row.last_error) else "unreachable"
        else:
            out[key] = "delivering" if row.attempts > 0 else None
    return out


def _deliver_due(keys: list[str]) -> None:
    """Deliver those of `keys` that are due, here, as a dispatcher does: claimed first, so a
    dispatcher that took one meanwhile keeps it; a busy Prefect is not waited for (its
    client would sleep 2 s before the one retry), the loop above asks again. A failure is
    said once: with Prefect down, an intake that queued three starts said it three times
    under the command's own sentence ("Prefect is not reachable")."""
    from app.adapters.dispatch import claim, deliver_claimed, pending
    from app.adapters.prefect import NotYet

    said = False
    for msg in pending(keys=keys):
        if claim(msg):
            error = deliver_claimed(msg, prefect_retries=0, warn=not said)
            said = said or (error is not None and not isinstance(error, NotYet))
