"""`protect user …`: users of the API, their passwords and tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.adapters.store import db
from app.domain import clock
from app.entrypoints.cli.common import JsonOpt, out, ready

user_cli = typer.Typer(help="Users of the API and their tokens.", no_args_is_help=True)


def _password() -> str | None:
    """The new password: typed twice at a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        typed = typer.prompt("Password (empty: API tokens only)", default="", hide_input=True,
                             confirmation_prompt=True, show_default=False)
        return str(typed) or None
    line = sys.stdin.readline().rstrip("\r\n")
    return line or None


@user_cli.command("add")
def user_add(
    username: str,
    agency: Annotated[str, typer.Option("--agency", help="The user's agency code.")],
    role: Annotated[list[str], typer.Option(
        "--role", help="coordinator, worker, supervisor, manager or judicial; repeat for more.")],
    password: Annotated[bool, typer.Option(
        "--password/--no-password", help="Ask for a password (prompt, or stdin's first line); "
                                         "without one the user logs in with tokens only.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Create a user of an agency with roles; the password is stored as an argon2id hash."""
    from app.services.users import add_user

    ready()
    secret = _password() if password else None
    with db() as session:
        user = add_user(session=session, username=username, agency=agency, roles=role,
                        password=secret, actor="cli", now=clock.now())
        data = {"id": user.id, "username": user.username, "agency": user.agency_code,
                "roles": user.roles, "password": secret is not None}
    out(data, as_json, f"user {username} ({agency}: {', '.join(data['roles'])}) created")


@user_cli.command("token")
def user_token(username: str, name: Annotated[str, typer.Option(
        "--name", help="What the token is for.")] = "cli", as_json: JsonOpt = False) -> None:
    """Issue a new API token for a user and print it once (only its hash is kept)."""
    from app.services.users import find_user, issue_token

    ready()
    with db() as session:
        user = find_user(session=session, username=username)
        row, token = issue_token(session=session, user=user, name=name, actor="cli",
                                 now=clock.now())
        data = {"username": username, "token_id": row.id, "token": token}
    out(data, as_json, token)


@user_cli.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """Every user: agency, roles, active, tokens in use."""
    from sqlmodel import col, select

    from models import ApiToken, User

    ready()
    with db() as session:
        rows = []
        for u in session.exec(select(User).order_by(col(User.username))):
            tokens = session.exec(select(ApiToken).where(ApiToken.user_id == u.id,
                                                         col(ApiToken.revoked_at).is_(None)))
            rows.append({"username": u.username, "agency": u.agency_code, "roles": u.roles,
                         "active": u.active, "tokens": len(list(tokens))})
    out(rows, as_json, "\n".join(
        f"{r['username']:<24} {r['agency']:<28} {','.join(r['roles']):<24} "
        f"{'active' if r['active'] else 'inactive'}  {r['tokens']} token(s)" for r in rows)
        or "no users")
