"""Hotline reports (S1): taking one in, and `protect hotline …` for the triage rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.config.settings import get_settings
from app.entrypoints.cli.common import JsonOpt, out, read_json, ready

hotline_cli = typer.Typer(help="The hotline's triage rules.", no_args_is_help=True)


def intake(file: Annotated[Path, typer.Option("--file", "-f", help="The hotline report (JSON).")],
           as_json: JsonOpt = False) -> None:
    """Take in a hotline report: check, triage, route to the agencies, start procedures."""
    from app.services.hotline import receive_report
    from app.services.procedures import commit_and_start

    ready()
    data = read_json(file)
    starts = commit_and_start(
        lambda session, now: receive_report(session=session, data=data, actor="hotline",
                                            now=now),
        lambda receipt: receipt.run_ids if receipt.created else [], handover=True)
    queued = starts.queued
    r = {**starts.result.to_dict(), "queued": queued, "waiting": starts.waiting}
    lines = [f"report {r['source']}:{r['reference']} "
             + ("received" if r["created"] else "was received before: nothing new")
             + f"; case {r['case']}" + (" (opened)" if r["case_opened"] else ""),
             f"  categories: {', '.join(r['categories'])}",
             "  routed to:  " + ", ".join(f"{x['agency']} (run {x['procedure_run']})"
                                         for x in r["routed"])]
    if r["started"]:
        lines.append("  started:    " + ", ".join(
            f"{x['code']} (run {x['procedure_run']}"
            + ("" if x["new"] else ", already running") + ")" for x in r["started"]))
    if queued:
        lines.append("  " + WAITING[starts.waiting or "unreachable"])
    out(r, as_json, "\n".join(lines))


# What a start not yet in Prefect when the intake answers waits for (app/services/delivery.py).
WAITING = {
    "delivering": "(the running system is creating the flow runs of the starts)",
    "busy": "(Prefect is busy: a start waits in the outbox; the running system delivers it "
            "within seconds)",
    "unreachable": "(Prefect is not reachable: the starts are queued; the sweep delivers them)",
}


@hotline_cli.command("check")
def hotline_check(file: Annotated[Path | None, typer.Argument(
        help="A rules file; default: the one in effect (PROTECT_HOTLINE_FILE).")] = None,
                  as_json: JsonOpt = False) -> None:
    """Check a hotline rules file; exit 2 with every problem when it is invalid."""
    from app.config.hotline import load

    path = file or get_settings().hotline_file
    rules = load(path)
    data = {"file": str(path), "valid": True, "categories": list(rules.categories),
            "fallback": rules.fallback}
    out(data, as_json, f"{path}: valid ({len(rules.categories)} categories)")


@hotline_cli.command("rules")
def hotline_rules_show(as_json: JsonOpt = False) -> None:
    """The triage rules in effect: each category's concerns, agencies and procedures."""
    from dataclasses import asdict

    from app.config.hotline import current

    rules = current()
    rows = [asdict(c) for c in rules.categories.values()]
    lines = [f"{r['name']:<16} {' '.join(r['concerns']) or '-':<40} → "
             f"{', '.join(r['route_to'])}" + (f"; starts {', '.join(r['start'])}"
                                               if r["start"] else "") for r in rows]
    lines.append(f"(no concern matched: {rules.fallback})")
    out({"file": str(rules.path), "fallback": rules.fallback, "categories": rows}, as_json,
        "\n".join(lines))
