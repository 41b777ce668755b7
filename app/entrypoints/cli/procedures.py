"""`protect procedures …`: the procedures, their docs and the operator's settings file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.config.settings import get_settings
from app.domain.errors import NotFound
from app.entrypoints.cli.common import JsonOpt, out

procedures_cli = typer.Typer(
    help="The procedures: list them (no command), show one, draw the docs, check the settings.")


@procedures_cli.callback(invoke_without_command=True)
def procedures(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every procedure: code, area, title."""
    from app.config.procedures import all_procedures
    from app.services.procedure_docs import list_text, listing

    if ctx.invoked_subcommand is None:
        procs = all_procedures()
        out(listing(procs), as_json, list_text(procs))


@procedures_cli.command("show")
def procedures_show(code: str, as_json: JsonOpt = False) -> None:
    """A procedure's steps, owners, deadlines, ladders and step graph (Mermaid)."""
    from app.config.procedures import procedure
    from app.services.procedure_docs import describe, show_text

    try:
        spec = procedure(code)
    except KeyError as exc:
        raise NotFound(exc.args[0]) from None
    out(describe(spec), as_json, show_text(spec))


@procedures_cli.command("docs")
def procedures_docs() -> None:
    """Print docs/procedures.md: every procedure's steps and graph, from the definitions."""
    from app.config.procedures import all_procedures
    from app.services.procedure_docs import render_docs

    typer.echo(render_docs(all_procedures()), nl=False)


@procedures_cli.command("settings")
def procedures_settings(defaults: Annotated[bool, typer.Option(
        "--defaults", help="The code's defaults: what procedures.toml ships.")] = False) -> None:
    """Print the procedure settings in effect, as a settings file (TOML)."""
    from app.config.procedures import current, render_settings
    from flows.catalog import base_procedures

    if defaults:
        typer.echo(render_settings(base_procedures()), nl=False)
    else:
        loaded = current()
        typer.echo(render_settings(loaded.procedures, loaded.escalation,
                                   source=f"`protect procedures settings` from {loaded.path}"),
                   nl=False)


@procedures_cli.command("check")
def procedures_check(file: Annotated[Path | None, typer.Argument(
        help="A settings file; default: the one in effect (PROTECT_PROCEDURES_FILE).")] = None,
                     as_json: JsonOpt = False) -> None:
    """Check a procedure settings file; exit 2 with every problem when it is invalid."""
    from app.config.procedures import load

    path = file or get_settings().procedures_file
    loaded = load(path)
    data = {"file": str(path) if path else None, "valid": True,
            "procedures": sorted(loaded.procedures)}
    out(data, as_json, f"{path or 'no settings file'}: valid")
