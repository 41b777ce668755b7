"""Serve every procedure and the sweep from one process (the local, one-machine setup)."""

from __future__ import annotations

from typing import Any

SWEEP_INTERVAL_S = 60


def flows_by_code() -> dict[str, Any]:
    """The flow object of every procedure, by code (imports Prefect and the flows)."""
    from flows.employment.w1 import w1_skills_training
    from flows.employment.w2 import w2_public_welfare_job
    from flows.employment.w3 import w3_startup_support
    from flows.employment.w4 import w4_vocational_training
    from flows.judicial.j2 import j2_hukou_registration
    from flows.medical.m1 import m1_emergency_treatment
    from flows.psych.p1 import p1_counselling
    from flows.psych.p2 import p2_regular_visits
    from flows.rescue.r2 import r2_street_child_rescue
    from flows.rescue.r3 import r3_return_home

    return {"R2": r2_street_child_rescue, "R3": r3_return_home, "M1": m1_emergency_treatment,
            "J2": j2_hukou_registration, "W1": w1_skills_training, "W2": w2_public_welfare_job,
            "W3": w3_startup_support, "W4": w4_vocational_training, "P1": p1_counselling,
            "P2": p2_regular_visits}


def build_deployments(*, sweep_interval_s: int | None = SWEEP_INTERVAL_S
                      ) -> list[tuple[Any, Any]]:
    """Every deployment with the flow it runs: the procedures and the sweep."""
    from flows.catalog import all_procedures
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
    return pairs


def serve_all(*, sweep_interval_s: int | None = SWEEP_INTERVAL_S, runner: str = "in-process",
              poll_s: float = 0.25) -> None:
    """Block, running every deployment's flow runs as they are scheduled or resumed.

    `runner="in-process"` (the default) executes runs in this process (deployments/executor.py);
    `runner="process"` is Prefect's own served runner, one new process per run.
    """
    pairs = build_deployments(sweep_interval_s=sweep_interval_s)
    if runner == "process":
        from prefect import serve

        serve(*[d for d, _ in pairs], print_starting_message=True)
    elif runner == "in-process":
        from deployments.executor import serve_in_process

        serve_in_process(pairs, poll_s=poll_s)
    else:
        raise ValueError(f"unknown runner {runner!r}: 'in-process' or 'process'")
