"""One executor of the cluster: the in-process executor on deployments that are already applied.

`protect serve` applies every deployment when it starts, schedules included: right for one
serving process. A cluster has N executors, on several machines, each started and restarted
at any time; were each to apply the deployments, every start would rewrite all of them and
re-create the schedules of the sweep and the monthly report (Prefect deletes a re-created
schedule's future runs and plans them again). So one step applies them, with their schedules,
once per release (`protect cluster deploy`, which `protect cluster up` runs), and an executor
only looks their ids up: the sweep has one schedule, in Prefect's database, and the one
services process's scheduler fires it. Every executor claims each run the same way as
`protect serve` does (proposing Pending), so any number of them serve the same deployments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

log = logging.getLogger("protect.executor")
MISSING_RETRY_S = 5.0


class Deployed:
    """A deployment applied by the deploy step: `aapply` finds its id and writes nothing.

    It stands in for a RunnerDeployment in `Executor.register`, which only asks each
    deployment for its id. One not applied yet (an executor started before the deploy step,
    or with code that adds a procedure) is waited for, with a line in the log.
    """

    def __init__(self, flow_name: str, name: str) -> None:
        self.flow_name, self.name = flow_name, name

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"

    async def aapply(self) -> UUID:
        from prefect.client.orchestration import get_client
        from prefect.exceptions import ObjectNotFound

        said = False
        while True:
            async with get_client() as client:
                try:
                    return (await client.read_deployment_by_name(self.full_name)).id
                except ObjectNotFound:
                    pass
            if not said:
                log.warning("deployment %s is not applied yet: waiting for `protect cluster "
                            "deploy`", self.full_name)
                said = True
            await asyncio.sleep(MISSING_RETRY_S)


def deployed() -> list[tuple[Any, Any]]:
    """Every deployment of `protect serve`, as applied by the deploy step, with its flow."""
    from deployments.serve import build_deployments

    return [(Deployed(flow.name, d.name), flow)
            for d, flow in build_deployments(sweep_interval_s=None)]


def serve_deployed() -> None:
    """Block, executing every scheduled or resumed run of the applied deployments here.

    SIGTERM (an operator, systemd, Kubernetes, `protect cluster up` stopping) and Ctrl-C stop
    it promptly: the runs under way get a moment to reach their suspension, the rest are
    marked crashed and recovered by the sweep.
    """
    import signal

    from deployments.executor import serve_in_process

    def on_start(stop: Callable[[], None]) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda _signum, _frame: stop())

    serve_in_process(deployed(), on_start=on_start)
