"""Screening lists (S2): importing a community's list, then `protect screening …` for the
duplicates to resolve and the risk proposals to confirm."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import ProtectError
from app.entrypoints.cli.common import JsonOpt, out, ready

screening_cli = typer.Typer(
    help="Screening lists (S2): duplicates to resolve, risk proposals to confirm.",
    no_args_is_help=True)


def _progress(enabled: bool) -> Any:
    """A progress bar on stderr for a long import, or nothing (--json, not a terminal)."""
    from contextlib import nullcontext

    if not enabled or not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=Console(stderr=True), transient=True)


def _write_atomically(path: Path, data: bytes) -> None:
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def import_(file: Annotated[Path, typer.Argument(help="The screening list: .csv or .xlsx.")],
            community: Annotated[str, typer.Option(
                "--community", help="The community that sent it, e.g. "
                                    "community:xingqing-fenghuang.")],
            rejects: Annotated[Path | None, typer.Option(
                "--rejects", help="Where to write the rejected rows (default: beside FILE, "
                                  "as NAME.rejects.csv / .xlsx).")] = None,
            actor: Annotated[str, typer.Option("--actor", help="Who imports (audit trail).")]
            = "coordinator",
            as_json: JsonOpt = False) -> None:
    """Import a community's screening list: check, find duplicates, build dossiers, propose."""
    from app.services.screening import import_screening

    try:
        data = Path(file).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise ProtectError(f"no file {file}") from None
    ready()
    with _progress(not as_json) as bar:
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int) -> None:
            if bar is None:
                return
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        with db() as session:
            result = import_screening(session=session, data=data, file_name=file.name,
                                      community=community, actor=actor, now=clock.now(),
                                      progress=report)
    rejects_path = None
    if result.rejects is not None:
        rejects_path = rejects or file.with_name(f"{file.stem}.rejects{file.suffix or '.csv'}")
        _write_atomically(rejects_path, result.rejects)
    summary = {**result.to_dict(), "rejects_file": str(rejects_path) if rejects_path else None}
    text = (f"{'already imported' if result.already_imported else 'imported'} {result.file} "
            f"from {result.community} (batch {result.batch}): {result.rows} row(s), "
            f"{result.accepted} accepted ({result.created} new with a dossier, "
            f"{result.duplicates} possible duplicate(s) to resolve, {result.unchanged} already "
            f"on file), {result.rejected} rejected"
            + (f" → {rejects_path}" if rejects_path else "")
            + f"; {result.proposals} procedure(s) proposed")
    out(summary, as_json, text)


@screening_cli.command("duplicates")
def screening_duplicates(status: Annotated[str, typer.Option(
        "--status", help="pending (default), merged or kept_apart.")] = "pending",
                         as_json: JsonOpt = False) -> None:
    """Rows that may be a child already on file, beside that child: merge or keep apart."""
    from app.services.screening import list_duplicates

    with db() as session:
        rows = list_duplicates(session=session, actor="coordinator", now=clock.now(),
                               status=status)
    lines = []
    for r in rows:
        row, ex = r["row_data"], r["existing"]
        lines.append(f"{r['id']:>6}  batch {r['batch']} row {r['row']}  same {r['reason']}")
        lines.append(f"        row:   {row['name']}  {row['sex']}  {row['birth_date']}  "
                     f"{row['id_number'] or '-'}  {row['district']}  {','.join(row['categories'])}")
        lines.append(f"        child {ex['child_id']}: {ex['name']}  {ex['sex']}  "
                     f"{ex['birth_date']}  {ex['id_number'] or '-'}  {ex['district']}  "
                     f"{','.join(ex['categories'])}")
    out(rows, as_json, "\n".join(lines) or f"no {status} duplicates")


@screening_cli.command("resolve")
def screening_resolve(candidate: int,
                      merge: Annotated[bool, typer.Option(
                          "--merge", help="The row is the child on file.")] = False,
                      keep_apart: Annotated[bool, typer.Option(
                          "--keep-apart", help="The row is another child.")] = False,
                      as_json: JsonOpt = False) -> None:
    """Resolve a duplicate candidate: --merge or --keep-apart (audited)."""
    from app.services.screening import resolve_duplicate

    if merge == keep_apart:
        raise ProtectError("say --merge or --keep-apart (one of them)")
    with db() as session:
        data = resolve_duplicate(session=session, candidate_id=candidate, merge=merge,
                                 actor="coordinator", now=clock.now())
    out(data, as_json, f"candidate {candidate} {data['status'].replace('_', ' ')}: child "
                       f"{data['child_id']}, dossier {data['dossier']}, "
                       f"{data['new_proposals']} new proposal(s)")


@screening_cli.command("proposals")
def screening_proposals(dossier: Annotated[int | None, typer.Option("--dossier")] = None,
                        all_: Annotated[bool, typer.Option(
                            "--all", help="Confirmed ones too.")] = False,
                        as_json: JsonOpt = False) -> None:
    """Procedures the risk rules propose, by dossier, waiting for a coordinator."""
    from app.services.screening import list_proposals

    with db() as session:
        rows = list_proposals(session=session, dossier_id=dossier,
                              status=None if all_ else "proposed")
    lines = [f"dossier {r['dossier']:>6}  {r['code']:<4} {r['status']:<10} rule {r['rule']}"
             + (f"  (procedure run {r['procedure_run']})" if r["procedure_run"] else "")
             for r in rows]
    out(rows, as_json, "\n".join(lines) or "no proposals")


@screening_cli.command("confirm")
def screening_confirm(dossier: int,
                      codes: Annotated[list[str] | None, typer.Argument(
                          help="The procedures to start (default: every one proposed).")] = None,
                      as_json: JsonOpt = False) -> None:
    """Confirm a dossier's proposals: open a case if needed and start the procedures."""
    from app.services.procedures import commit_and_start
    from app.services.screening import confirm

    ready()
    started = commit_and_start(
        lambda session, now: confirm(session=session, dossier_id=dossier, codes=codes or [],
                                     actor="coordinator", now=now),
        lambda confirmed: [s["procedure_run"] for s in confirmed], handover=True).result
    lines = [f"started {s['code']} for {s['case']} (procedure run {s['procedure_run']})"
             for s in started]
    out(started, as_json, "\n".join(lines) or f"nothing proposed for dossier {dossier}")


@screening_cli.command("rules")
def screening_rules(as_json: JsonOpt = False) -> None:
    """The risk rules in effect (PROTECT_RISK_FILE, default risk.toml)."""
    from app.config.risk import current_rules

    rules = [r.model_dump() for r in current_rules()]
    out(rules, as_json, "\n".join(
        f"{r['name']:<22} {'+'.join(r['propose']):<8} categories {','.join(r['categories']) or '-'}"
        f"; risks {','.join(r['risks']) or '-'}; age {r['min_age']}-{r['max_age']}"
        for r in rules))
