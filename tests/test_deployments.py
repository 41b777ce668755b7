"""The deployments as data agree with the procedures and with what `protect up` serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.config.procedures import all_procedures
from deployments.serve import flows_by_code

ROOT = Path(__file__).parent.parent


def test_prefect_yaml_names_every_procedure_with_its_entrypoint() -> None:
    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    declared = {d["name"]: d["entrypoint"] for d in spec["deployments"]}
    for code, proc in all_procedures().items():
        assert declared[code.lower()] == proc.entrypoint
    assert declared["every-minute"] == "flows/platform/sweep.py:sweep_flow"
    assert declared["monthly"] == "flows/platform/report.py:monthly_report_flow"


def test_the_monthly_report_is_scheduled_alike_in_both_places() -> None:
    from deployments.serve import REPORT_CRON, REPORT_TIMEZONE, build_deployments

    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    monthly = next(d for d in spec["deployments"] if d["name"] == "monthly")
    assert monthly["schedules"] == [{"cron": REPORT_CRON, "timezone": REPORT_TIMEZONE}]
    served = next(d for d, _ in build_deployments() if d.name == "monthly")
    (schedule,) = served.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (REPORT_CRON, REPORT_TIMEZONE)


def test_every_entrypoint_is_the_flow_that_is_served() -> None:
    served = flows_by_code()
    for code, proc in all_procedures().items():
        path, name = proc.entrypoint.split(":")
        assert (ROOT / path).exists()
        assert served[code].fn.__name__ == name
        assert served[code].name == proc.flow_name


def test_every_deployment_runs_on_the_process_pool_and_the_cluster_pools_are_described() -> None:
    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    assert {d["name"]: d.get("work_pool", {}).get("name") for d in spec["deployments"]} == {
        d["name"]: "protect-process" for d in spec["deployments"]}
    [pull] = spec["pull"]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == \
        "{{ $PROTECT_ROOT }}"
    pools = spec["definitions"]["work_pools"]
    # One process per flow run: the engine itself, not a supervisor that starts it.
    assert pools["process"]["job_variables"]["command"] == \
        "{{ $PROTECT_PYTHON }} -m prefect.engine"
    for pool in ("docker", "kubernetes"):
        variables = pools[pool]["job_variables"]
        assert variables["image"] and variables["env"]["PROTECT_ENV"] == "production"
    assert pools["kubernetes"]["job_variables"]["namespace"] == "protect"
