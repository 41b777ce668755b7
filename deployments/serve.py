"""Serve every procedure and the sweep from one process (the local, one-machine setup)."""

from __future__ import annotations

from typing import Any

SWEEP_INTERVAL_S = 60


def flows_by_code() -> dict[str, Any]:
    """The flow object of every procedure, by code (imports Prefect and the flows)."""
    from flows.judicial.j2 import j2_hukou_registration
    from flows.medical.m1 import m1_emergency_treatment
    from flows.rescue.r2 import r2_street_child_rescue
    from flows.rescue.r3 import r3_return_home

    return {"R2": r2_street_child_rescue, "R3": r3_return_home, "M1": m1_emergency_treatment,
            "J2": j2_hukou_registration}


def build_deployments(*, sweep_interval_s: int | None = SWEEP_INTERVAL_S) -> list[Any]:
    from flows.catalog import all_procedures
    from flows.platform.sweep import sweep_flow

    specs = all_procedures()
    deployments = [
        f.to_deployment(name=code.lower(), tags=[specs[code].area, code],
                        description=specs[code].title)
        for code, f in flows_by_code().items()
    ]
    deployments.append(sweep_flow.to_deployment(
        name="every-minute", tags=["platform"], interval=sweep_interval_s,
        description="Fire due timers, escalate overdue tasks, deliver the outbox.",
    ) if sweep_interval_s else sweep_flow.to_deployment(name="every-minute", tags=["platform"]))
    return deployments


def serve_all(*, sweep_interval_s: int | None = SWEEP_INTERVAL_S) -> None:
    """Block, running every deployment's flow runs as they are scheduled or resumed."""
    from prefect import serve

    serve(*build_deployments(sweep_interval_s=sweep_interval_s), print_starting_message=True)
