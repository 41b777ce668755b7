"""`protect agency …`: the agencies, their webhooks and group robots."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.adapters.store import db
from app.domain import clock
from app.domain.errors import NotFound
from app.entrypoints.cli.common import JsonOpt, out, ready

agency_cli = typer.Typer(help="Agencies, their webhooks and group robots.",
                         no_args_is_help=True)


@agency_cli.command("list")
def agency_list(as_json: JsonOpt = False) -> None:
    """Every agency with its code, webhook and the kind of its group robot (never its URL)."""
    from sqlmodel import select

    from app.adapters.robots import robot_kinds
    from models import Agency

    ready()
    with db() as session:
        robots = robot_kinds(session=session)
        rows = [{**a.model_dump(), "robot": robots.get(a.code)}
                for a in session.exec(select(Agency).order_by(Agency.code))]
    out(rows, as_json, "\n".join(
        f"{r['code']:<30} {r['name_zh']}  {r['webhook_url'] or ''}"
        + (f"  robot: {r['robot']}" if r["robot"] else "") for r in rows))


@agency_cli.command("set-webhook")
def agency_set_webhook(code: str, url: str) -> None:
    """Send this agency's notifications to URL (signed; see docs)."""
    from models import Agency

    with db() as session:
        agency = session.get(Agency, code)
        if agency is None:
            raise NotFound(f"no agency {code}")
        agency.webhook_url = url or None
        session.add(agency)
    typer.echo(f"{code} → {url}")


@agency_cli.command("set-robot")
def agency_set_robot(
    code: str,
    kind: Annotated[str, typer.Option("--kind", help="wecom (企业微信) or dingtalk (钉钉).")],
    url: Annotated[str, typer.Option("--url", help="The group robot's webhook URL, with its "
                                                   "key or access token.")],
    secret: Annotated[str | None, typer.Option(
        "--secret", help="DingTalk's 加签 secret (SEC…); '-' reads it from stdin.")] = None,
) -> None:
    """Also post this agency's new and escalated tasks to a WeCom or DingTalk group robot.

    In Chinese, without the child's personal data (docs/operations.md, "Group robots")."""
    from app.adapters.robots import set_robot

    if secret == "-":
        secret = sys.stdin.readline().rstrip("\r\n")
    ready()
    with db() as session:
        set_robot(session=session, code=code, kind=kind, url=url, secret=secret,
                  actor="cli", now=clock.now())
    # Neither the URL (it holds the robot's key) nor the secret is ever printed.
    typer.echo(f"{code}: {kind} robot set" + (", signed" if secret is not None else ""))


@agency_cli.command("clear-robot")
def agency_clear_robot(code: str) -> None:
    """Stop sending this agency's tasks to its group robot."""
    from app.adapters.robots import clear_robot

    ready()
    with db() as session:
        cleared = clear_robot(session=session, code=code, actor="cli", now=clock.now())
    typer.echo(f"{code}: robot cleared" if cleared else f"{code}: had no robot")
