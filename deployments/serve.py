"""Serve every procedure and the sweep from one process (the local, one-machine setup)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SWEEP_INTERVAL_S = 60
# The monthly report: 06:00 Beijing time on the 1st, for the month before.
REPORT_CRON = "0 6 1 * *"
REPORT_TIMEZONE = "Asia/Shanghai"


def flows_by_code() -> dict[str, Any]:
    """The flow object of every procedure, by code (imports Prefect and the flows).

    Found from each procedure's own entrypoint ("flows/rescue/r2.py:r2_street_child_rescue").
    """
    import importlib

    from app.config.procedures import all_procedures

    flows = {}
    for code, spec in all_procedures().items():
        path, name = spec.entrypoint.split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flows[code] = getattr(module, name)
    return flows


def build_deployments(*, sweep_interval_s: int | None = SWEEP_INTERVAL_S
                      ) -> list[tuple[Any, Any]]:
    """Every deployment with the flow it runs: the procedures, the sweep, the monthly report."""
    from prefect.schedules import Cron

    from app.config.procedures import all_procedures
    from flows.platform.report import monthly_report_flow
    from flows.platform.sweep import sweep_flow

    specs = all_procedures()
    pairs = [
        (f.to_deployment(name=code.lower(), tags=[specs[code].area, code],
                         description=specs[code].title), f)
        for code, f in flows_by_code().items()
    ]
    schedule = {"interval": sweep_interval_s} if sweep_interval_s else {}
    pairs.append((sweep_flow.to_deployment(
        name="every-minute", tags=["platform"],
        description="Fire due timers, escalate overdue tasks, deliver the outbox.", **schedule,
    ), sweep_flow))
    pairs.append((monthly_report_flow.to_deployment(
        name="monthly", tags=["platform", "S3"],
        description="The S3 indicators for the previous month: Prefect artifacts and the "
                    "report files (HTML, CSV).",
        schedules=[Cron(REPORT_CRON, timezone=REPORT_TIMEZONE)],
    ), monthly_report_flow))
    return pairs


def serve_all(*, sweep_interval_s: int | None = SWEEP_INTERVAL_S, runner: str = "in-process",
              on_start: Callable[[Callable[[], None]], None] | None = None,
              when_ready: Callable[[], None] | None = None) -> None:
    """Block, running every deployment's flow runs as they are scheduled or resumed.

    `runner="in-process"` (the default) executes runs in this process (deployments/executor.py);
    `runner="process"` is Prefect's own served runner, one new process per run.
    `on_start` (in-process only) is handed a function that stops serving promptly, safe to
    call from a signal handler: `protect up` stops serving first, then Prefect's server.
    `when_ready`, if given, is called once the deployments are built and before they are
    registered with Prefect: it waits for a server started at the same time as this process.
    """
    from app.runtime.dispatcher import say_unconfigured_channels

    say_unconfigured_channels()  # once, at start-up; the in-process executor's dispatcher too
    pairs = build_deployments(sweep_interval_s=sweep_interval_s)
    if when_ready is not None:
        when_ready()
    if runner == "process":
        from prefect import serve

        serve(*[d for d, _ in pairs], print_starting_message=True)
    elif runner == "in-process":
        from deployments.executor import serve_in_process

        serve_in_process(pairs, on_start=on_start)
    else:
        raise ValueError(f"unknown runner {runner!r}: 'in-process' or 'process'")
