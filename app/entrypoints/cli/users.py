"""`protect user …`: users of the API, their passwords and tokens."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from app.adapters.store import db
from app.domain import clock
from app.entrypoints.cli.common import JsonOpt, local_time, out, ready

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
        "--name", help="What the token is for.")] = "cli",
        days: Annotated[int | None, typer.Option(
            "--days", min=1, max=3650, help="How long it works; default: PROTECT_API_TOKEN_DAYS "
                                            "(90).")] = None,
        as_json: JsonOpt = False) -> None:
    """Issue a new API token for a user and print it once (only its hash is kept)."""
    from app.services.users import find_user, issue_token

    ready()
    with db() as session:
        user = find_user(session=session, username=username)
        row, token = issue_token(session=session, user=user, name=name, actor="cli",
                                 now=clock.now(), days=days)
        data = {"username": username, "token_id": row.id, "token": token,
                "expires_at": row.expires_at.isoformat()}
    out(data, as_json, token)


@user_cli.command("tokens")
def user_tokens(username: str, as_json: JsonOpt = False) -> None:
    """A user's tokens, newest first: id, name, kind, state, created, expires, last used."""
    from app.services.users import list_tokens

    ready()
    now = clock.now()
    with db() as session:
        rows = [{"id": t.id, "name": t.name, "kind": t.kind,
                 "state": "revoked" if t.revoked_at else "expired" if t.expires_at <= now
                 else "active", "created_at": t.created_at.isoformat(),
                 "expires_at": t.expires_at.isoformat(),
                 "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None}
                for t in list_tokens(session=session, username=username)]
    out(rows, as_json, "\n".join(
        f"{r['id']:>6}  {r['name']:<16} {r['kind']:<4} {r['state']:<8} expires "
        f"{local_time(datetime.fromisoformat(r['expires_at']))}" for r in rows) or "no tokens")


@user_cli.command("revoke")
def user_revoke(
    username: str,
    token: Annotated[int | None, typer.Option("--token", help="The token's id "
                                              "(`protect user tokens NAME`).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every active token of the user.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Revoke one of a user's tokens (--token ID) or all of them (--all); audited."""
    from app.domain.errors import ProtectError
    from app.services.users import revoke_tokens

    if (token is None) == (not every):
        raise ProtectError("say which: --token ID or --all")
    ready()
    with db() as session:
        ids = revoke_tokens(session=session, username=username, token_id=token, actor="cli",
                            now=clock.now())
    out({"username": username, "revoked": ids}, as_json,
        f"{len(ids)} token(s) of {username} revoked")


@user_cli.command("deactivate")
def user_deactivate(username: str, as_json: JsonOpt = False) -> None:
    """The user can no longer log in; every token of theirs is revoked; audited."""
    from app.services.users import deactivate_user

    ready()
    with db() as session:
        ids = deactivate_user(session=session, username=username, actor="cli", now=clock.now())
    out({"username": username, "active": False, "revoked": ids}, as_json,
        f"user {username} deactivated; {len(ids)} token(s) revoked")


@user_cli.command("reactivate")
def user_reactivate(username: str, as_json: JsonOpt = False) -> None:
    """The user may log in again (with a new token: the old ones stay revoked); audited."""
    from app.services.users import reactivate_user

    ready()
    with db() as session:
        reactivate_user(session=session, username=username, actor="cli", now=clock.now())
    out({"username": username, "active": True}, as_json, f"user {username} reactivated")


@user_cli.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """Every user: agency, roles, active, tokens in use (neither revoked nor expired)."""
    from sqlmodel import col, select

    from models import ApiToken, User

    ready()
    now = clock.now()
    with db() as session:
        rows = []
        for u in session.exec(select(User).order_by(col(User.username))):
            tokens = session.exec(select(ApiToken).where(ApiToken.user_id == u.id,
                                                         col(ApiToken.revoked_at).is_(None),
                                                         ApiToken.expires_at > now))
            rows.append({"username": u.username, "agency": u.agency_code, "roles": u.roles,
                         "active": u.active, "tokens": len(list(tokens))})
    out(rows, as_json, "\n".join(
        f"{r['username']:<24} {r['agency']:<28} {','.join(r['roles']):<24} "
        f"{'active' if r['active'] else 'inactive'}  {r['tokens']} token(s)" for r in rows)
        or "no users")
