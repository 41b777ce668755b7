"""Serve every procedure and the sweep from one process (the local, one-machine setup)."""

from __future__ import annotations

from typing import Any

SWEEP_INTERVAL_S = 60


def flows_by_code() -> dict[str, Any]:
    """The flow object of every procedure, by code (imports Prefect and the flows)."""
    from flows.education.e1 import e1_orphan_schooling
    from flows.education.e2 import e2_disabled_child_schooling
    from flows.education.e3 import e3_dropout_return
    from flows.education.e4 import e4_education_aid
    from flows.education.e5 import e5_migrant_children_enrolment
    from flows.education.e6 import e6_proxy_mothers
    from flows.judicial.j2 import j2_hukou_registration
    from flows.medical.m1 import m1_emergency_treatment
    from flows.rescue.r1 import r1_infant_orphan_placement
    from flows.rescue.r2 import r2_street_child_rescue
    from flows.rescue.r3 import r3_return_home
    from flows.rescue.r4 import r4_guardian_intervention
    from flows.rescue.r5 import r5_temporary_placement
    from flows.rescue.r6 import r6_living_assistance
    from flows.rescue.r7 import r7_charity_visit

    return {"R1": r1_infant_orphan_placement, "R2": r2_street_child_rescue,
            "R3": r3_return_home, "R4": r4_guardian_intervention,
            "R5": r5_temporary_placement, "R6": r6_living_assistance, "R7": r7_charity_visit,
            "E1": e1_orphan_schooling, "E2": e2_disabled_child_schooling,
            "E3": e3_dropout_return, "E4": e4_education_aid,
            "E5": e5_migrant_children_enrolment, "E6": e6_proxy_mothers,
            "M1": m1_emergency_treatment, "J2": j2_hukou_registration}


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
