"""The bare-Prefect baseline of B1: the same suspend/resume cycles with no case store.

`bare_steps` has the shape of our procedures — per step a persisted, replay-safe task, then a
suspension waiting for input — and nothing else. B1 runs it two ways:
- stock: `flow.serve()` with Prefect's default settings (a new process per run, 10 s poll);
- floor: our in-process executor and settings, the execution path of our own procedures.
"""

from __future__ import annotations

import sys

from prefect import flow, task
from prefect.flow_runs import asuspend_flow_run
from pydantic import BaseModel

from flows.steps import REPLAY_SAFE


class Go(BaseModel):
    ok: bool = True


@task(name="touch", cache_policy=REPLAY_SAFE, persist_result=True)
async def touch(step: int) -> int:
    return step


@flow(name="bare-steps", persist_result=True)
async def bare_steps(steps: int = 5) -> int:
    for step in range(steps):
        await touch(step)
        await asuspend_flow_run(wait_for_input=Go, key=f"step-{step}")
    return steps


def main() -> None:
    """`python -m bench.bare stock|floor`: serve bare_steps the one way or the other."""
    mode = sys.argv[1]
    deployment = bare_steps.to_deployment(name=mode)
    if mode == "stock":
        from prefect import serve

        serve(deployment)
    else:
        from deployments.executor import serve_in_process

        serve_in_process([(deployment, bare_steps)])


if __name__ == "__main__":
    main()
