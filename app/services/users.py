"""Users, passwords and API tokens: argon2id hashes only, secrets shown once."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from threading import Lock

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from app.adapters import audit
from app.domain.access import ROLES, Principal
from app.domain.errors import Conflict, NotFound, ProtectError
from models import Agency, ApiToken, User

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN = re.compile(r"^([a-z0-9]{12})\.([A-Za-z0-9_-]{20,100})$")
_hasher = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) parameters
# A wrong password costs the same as a right one: verify against this when the user is unknown.
_DUMMY = _hasher.hash("no such user")
# Tokens verified by argon2 in this process: token id → SHA-256 of the whole token. Saves the
# ~50 ms argon2 check on every request; the row is still read each time (revocation, activity).
_verified: dict[int, str] = {}
_verified_lock = Lock()
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is written at most this often


class Unauthorized(ProtectError):
    """No credentials, or credentials that do not match an active user."""

    code = "unauthorized"


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, secret) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def principal(user: User) -> Principal:
    return Principal(username=user.username, agency=user.agency_code,
                     roles=frozenset(user.roles), user_id=user.id)


def add_user(*, session: Session, username: str, agency: str, roles: list[str],
             password: str | None, actor: str, now: datetime) -> User:
    """Create a user of an agency with roles; the password, if any, is stored hashed."""
    from app.domain.errors import ValidationFailed
    from expectations.runner import FieldError

    problems = []
    if not USERNAME.match(username):
        problems.append(FieldError(field="username", code="username.pattern",
                                   message="2–64 of a-z, 0-9, '.', '_', '-', starting with a "
                                           "letter or digit", message_zh="用户名格式无效"))
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        problems.append(FieldError(field="role", code="role.unknown",
                                   message=f"roles must be among {', '.join(ROLES)}",
                                   message_zh="角色无效"))
    if password is not None and not 8 <= len(password) <= 1024:
        problems.append(FieldError(field="password", code="password.length",
                                   message="8 to 1024 characters",
                                   message_zh="密码长度须为 8–1024"))
    if session.get(Agency, agency) is None:
        problems.append(FieldError(field="agency", code="agency.unknown",
                                   message=f"no agency {agency!r} (see `protect agency list`)",
                                   message_zh="机构不存在"))
    if problems:
        raise ValidationFailed(problems)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username} already exists")
    user = User(username=username, agency_code=agency, roles=sorted(set(roles)),
                password_hash=hash_secret(password) if password else None, created_at=now)
    session.add(user)
    session.flush()
    audit.record(session=session, at=now, actor=actor, action="user.added", user_id=user.id,
                 agency=agency, roles=user.roles)
    return user


def issue_token(*, session: Session, user: User, name: str, actor: str, now: datetime
                ) -> tuple[ApiToken, str]:
    """A new token for `user`: the row and the token itself, which is never stored."""
    lookup, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, lookup=lookup, secret_hash=hash_secret(secret),
                   name=name[:64], created_at=now)
    session.add(row)
    session.flush()
    audit.record(session=session, at=now, actor=actor, action="token.issued", user_id=user.id,
                 token_id=row.id)
    return row, f"{lookup}.{secret}"


def find_user(*, session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username}")
    return user


def login(*, session: Session, username: str, password: str, now: datetime,
          token_name: str = "login") -> tuple[User, str]:
    """Exchange a username and password for a new token; the same answer for every failure.

    The web pages name theirs "web": the session cookie carries it, signing out revokes it."""
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_secret(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise Unauthorized("wrong username or password")
    _, token = issue_token(session=session, user=user, name=token_name,
                           actor=f"user:{username}", now=now)
    return user, token


def authenticate(*, session: Session, token: str, now: datetime) -> tuple[Principal, int]:
    """The user behind a bearer token, and the token's id; Unauthorized otherwise."""
    m = TOKEN.match(token)
    row = session.exec(select(ApiToken).where(ApiToken.lookup == m.group(1))).first() if m \
        else None
    user = session.get(User, row.user_id) if row is not None else None
    if m is None or row is None or row.revoked_at is not None or user is None or \
            not user.active:
        raise Unauthorized("the token is unknown, revoked, or its user is inactive")
    digest = hashlib.sha256(token.encode()).hexdigest()
    with _verified_lock:
        known = _verified.get(int(row.id or 0)) == digest
    if not known:
        if not verify_secret(row.secret_hash, m.group(2)):
            raise Unauthorized("the token is unknown, revoked, or its user is inactive")
        with _verified_lock:
            _verified[int(row.id or 0)] = digest
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        session.add(row)
    return principal(user), int(row.id or 0)


def revoke_token(*, session: Session, token_id: int, actor: str, now: datetime) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
        audit.record(session=session, at=now, actor=actor, action="token.revoked",
                     user_id=row.user_id, token_id=token_id)
    with _verified_lock:
        _verified.pop(token_id, None)


def any_user(*, session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is not None
