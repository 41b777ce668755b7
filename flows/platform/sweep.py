"""The sweep as a scheduled deployment: every minute by default."""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger

from app.domain import clock
from app.runtime.sweep import sweep


@flow(name="protect-sweep", persist_result=False, log_prints=False)
async def sweep_flow(as_of: str | None = None) -> dict[str, int]:
    """Fire due timers, escalate overdue tasks one rung, deliver the outbox.

    Args:
        as_of: an ISO instant to sweep "as of" (default: now).
    """
    # The sweep is synchronous database work; a thread keeps the serving process's loop free.
    report = await asyncio.to_thread(sweep, now=clock.parse_instant(as_of) if as_of else None)
    counts = {"timers_fired": report.timers_fired, "tasks_escalated": report.tasks_escalated,
              "delivered": report.delivered, "delivery_failures": report.delivery_failures}
    get_run_logger().info("sweep: %s", counts)
    return counts
