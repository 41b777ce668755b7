"""Several executors: each run is for exactly one of those that answer the roll call
(deployments/executor.py, `_mine`), and one that leaves moves only its own runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import UUID, uuid4

from deployments.executor import TAKE_OVER_AFTER, Executor

RUNS = [uuid4() for _ in range(600)]


def _executors(names: list[str]) -> list[Executor]:
    executors = []
    for name in names:
        e = Executor([])
        e.name, e.peers = name, sorted(names)
        executors.append(e)
    return executors


def _owner(executors: list[Executor], run: UUID) -> str:
    (owner,) = [e.name for e in executors if e._mine(run)]
    return owner


def test_each_run_is_for_exactly_one_executor_and_they_share_them() -> None:
    three = _executors(["a:1", "b:2", "c:3"])
    owners = [_owner(three, run) for run in RUNS]
    for name in ("a:1", "b:2", "c:3"):
        assert 150 < owners.count(name) < 250  # about a third each


def test_an_executor_that_leaves_moves_only_its_own_runs() -> None:
    before = {run: _owner(_executors(["a:1", "b:2", "c:3"]), run) for run in RUNS}
    after = {run: _owner(_executors(["a:1", "b:2"]), run) for run in RUNS}
    moved = [run for run in RUNS if before[run] != after[run]]
    assert moved and all(before[run] == "c:3" for run in moved)


def test_alone_an_executor_takes_every_run() -> None:
    (alone,) = _executors(["a:1"])
    assert all(alone._mine(run) for run in RUNS)
    nobody = Executor([])  # no roll call answered yet, or no roll-call pool
    assert nobody.peers == [] and all(nobody._mine(run) for run in RUNS)


def test_another_executors_run_is_taken_over_once_it_stays_due() -> None:
    def run(due: datetime) -> SimpleNamespace:
        state = SimpleNamespace(state_details=SimpleNamespace(scheduled_time=due))
        return SimpleNamespace(state=state, expected_start_time=due)

    now = datetime.now(UTC)
    assert not Executor._overdue(run(now))
    assert Executor._overdue(run(now - TAKE_OVER_AFTER - timedelta(seconds=1)))
