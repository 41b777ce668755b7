"""Users, passwords and API tokens: argon2id hashes only, secrets shown once.

Tokens end (`expires_at`): an API token after `api_token_days`, a web page session's after
`session_max_age_s`; each kind is refused where the other is expected. Logins are throttled
from the audit trail, so every API process sees the same count: `login_max_failures` wrong
passwords for a username, or from an address, within `login_lockout_s` refuse further logins
(TooManyAttempts, 429) until the oldest of them leaves the window; a right password resets
the username's count. At most `HASH_SLOTS` argon2 computations run at once in a process (each
takes 64 MiB): the others wait their turn, at most `HASH_WAIT_S`.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from threading import BoundedSemaphore, Lock

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from app.adapters import audit
from app.config.passwords import common_passwords
from app.config.settings import get_settings
from app.domain.access import ROLES, Principal
from app.domain.errors import Conflict, NotFound, ProtectError, ValidationFailed
from app.domain.passwords import password_problem
from models import Agency, ApiToken, AuditEvent, User

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN = re.compile(r"^([a-z0-9]{12})\.([A-Za-z0-9_-]{20,100})$")
KINDS = ("api", "web")  # a bearer token of the API; a web page session's token
LOGIN_NAMES = {"api": "login", "web": "web"}  # what a login names its token, by kind
# Active login tokens a user may hold per kind: a new login revokes the oldest beyond this.
MAX_LOGIN_TOKENS = 10
# argon2 computations at once in a process (64 MiB each), and how long one waits for its turn.
HASH_SLOTS = 2
HASH_WAIT_S = 10.0
_hasher = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) parameters
_slots = BoundedSemaphore(HASH_SLOTS)
# A wrong password costs the same as a right one: verify against this when the user is unknown.
_DUMMY = _hasher.hash("no such user")
# Tokens verified by argon2 in this process, or issued by it: token id → SHA-256 of the whole
# token. Saves the ~50 ms argon2 check on every request, and on the first request after a
# login in the process that issued the token; the row is still read each time (revocation,
# expiry), and a token whose row is gone is refused before this is looked at.
_verified: dict[int, str] = {}
_verified_lock = Lock()
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is written at most this often
NOT_VALID = "the token is unknown, revoked, expired, or its user is inactive"

PASSWORD_RULES = {
    "length": ("8 to 1024 characters", "密码长度须为 8–1024"),
    "blank": ("not only spaces", "密码不能为空白"),
    "common": ("too common: choose one that is not on the list of common passwords",
               "密码过于常见，请另选"),
    "username": ("must not be the username", "密码不能与用户名相同"),
}


class Unauthorized(ProtectError):
    """No credentials, or credentials that do not match an active user."""

    code = "unauthorized"


class TooManyAttempts(ProtectError):
    """Too many wrong passwords lately (for this username or from this address), or too many
    passwords being checked at once: try again after `retry_after` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


@contextmanager
def _hashing() -> Iterator[None]:
    """One of the process's argon2 slots, waited for at most HASH_WAIT_S."""
    if not _slots.acquire(timeout=HASH_WAIT_S):
        raise TooManyAttempts("too many passwords are being checked at once; try again "
                              "in a moment", retry_after=1)
    try:
        yield
    finally:
        _slots.release()


def hash_secret(secret: str) -> str:
    with _hashing():
        return _hasher.hash(secret)


def verify_secret(stored: str | None, secret: str) -> bool:
    try:
        with _hashing():
            return _hasher.verify(stored or _DUMMY, secret) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def principal(user: User) -> Principal:
    return Principal(username=user.username, agency=user.agency_code,
                     roles=frozenset(user.roles), user_id=user.id)


def add_user(*, session: Session, username: str, agency: str, roles: list[str],
             password: str | None, actor: str, now: datetime) -> User:
    """Create a user of an agency with roles; the password, if any, is stored hashed.

    A password has 8 to 1024 characters, is not blank, not one of the common passwords
    (app/config/common-passwords.txt) and not the username (app/domain/passwords.py)."""
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
    weak = None if password is None else password_problem(password, username=username,
                                                            common=common_passwords())
    if weak is not None:
        message, message_zh = PASSWORD_RULES[weak]
        problems.append(FieldError(field="password", code=f"password.{weak}",
                                   message=message, message_zh=message_zh))
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


def lifetime(kind: str) -> timedelta:
    """How long a new token of `kind` works: an API token `api_token_days`, a web page
    session's as long as the session's cookie, `session_max_age_s`."""
    s = get_settings()
    return timedelta(days=s.api_token_days) if kind == "api" \
        else timedelta(seconds=s.session_max_age_s)


def issue_token(*, session: Session, user: User, name: str, actor: str, now: datetime,
                kind: str = "api", days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`: the row and the token itself, which is never stored. It ends
    after `days` if given, else after the lifetime of its kind."""
    if kind not in KINDS:
        raise ProtectError(f"a token's kind is one of {', '.join(KINDS)}, not {kind!r}")
    if days is not None and not 1 <= days <= 3650:
        raise ProtectError("a token lasts 1 to 3650 days")
    lookup, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    expires = now + (timedelta(days=days) if days is not None else lifetime(kind))
    row = ApiToken(user_id=user.id, lookup=lookup, secret_hash=hash_secret(secret),
                   name=name[:64], kind=kind, created_at=now, expires_at=expires)
    session.add(row)
    session.flush()
    audit.record(session=session, at=now, actor=actor, action="token.issued", user_id=user.id,
                 token_id=row.id, kind=kind, expires_at=expires.isoformat())
    token = f"{lookup}.{secret}"
    with _verified_lock:  # this process made the hash: checking it again proves nothing new
        _verified[int(row.id or 0)] = hashlib.sha256(token.encode()).hexdigest()
    return row, token


def find_user(*, session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username}")
    return user


# --- logging in, throttled --------------------------------------------------------------------


def _detail(key: str) -> object:
    return AuditEvent.detail[key].as_string()  # type: ignore[index]


def _lockout(session: Session, *, username: str, address: str, now: datetime) -> int:
    """Seconds until a login for `username` from `address` may be tried again; 0: now.

    From the audit trail, so that every API process counts the same: the wrong passwords
    (`login.failed`) within the last `login_lockout_s`, for the username since its last
    right one (`login.succeeded`), and from the address. At `login_max_failures` of either,
    logins wait until the oldest counted failure leaves the window."""
    s = get_settings()
    window, most = timedelta(seconds=s.login_lockout_s), s.login_max_failures
    since = now - window
    for_user = session.exec(
        select(AuditEvent.action, AuditEvent.at)
        .where(col(AuditEvent.action).in_(("login.failed", "login.succeeded")),
               AuditEvent.at > since, _detail("username") == username)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())).all()
    user_failures = []
    for action, at in for_user:
        if action != "login.failed":
            break
        user_failures.append(at)
    address_failures = session.exec(
        select(AuditEvent.at)
        .where(AuditEvent.action == "login.failed", AuditEvent.at > since,
               _detail("address") == address)
        .order_by(col(AuditEvent.at).desc()).limit(most)).all()
    wait = 0.0
    for failures in (user_failures, list(address_failures)):
        if len(failures) >= most:
            wait = max(wait, (failures[most - 1] + window - now).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


def login(*, session: Session, username: str, password: str, now: datetime, address: str,
          kind: str = "api") -> tuple[User, ApiToken, str]:
    """Exchange a username and password for a new token of `kind`: the user, the token's row
    and the token (shown once). The same answer for every wrong username or password
    (Unauthorized); TooManyAttempts after too many lately (see `_lockout`).

    `address` is the client's (request.client.host). Every attempt is audited: login.failed
    (the username as typed, the address, why; never the password), login.throttled,
    login.succeeded. A refusal's audit event is committed before the refusal is raised, so
    the caller's rollback cannot take it out of the count. API logins name their tokens
    "login", the web pages' "web"; a user keeps at most MAX_LOGIN_TOKENS active of each, a
    new login revoking the oldest."""
    typed, address = username[:64], (address or "unknown")[:64]
    wait = _lockout(session, username=typed, address=address, now=now)
    if wait:
        audit.record(session=session, at=now, actor="anonymous", action="login.throttled",
                     username=typed, address=address, kind=kind, retry_after=wait)
        session.commit()
        raise TooManyAttempts(f"too many wrong passwords; try again in {wait} s",
                              retry_after=wait)
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_secret(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        reason = "unknown_user" if user is None else "no_password" \
            if user.password_hash is None else "wrong_password" if not ok else "inactive"
        audit.record(session=session, at=now, actor="anonymous", action="login.failed",
                     username=typed, address=address, kind=kind, reason=reason)
        session.commit()
        raise Unauthorized("wrong username or password")
    actor = f"user:{user.username}"
    audit.record(session=session, at=now, actor=actor, action="login.succeeded",
                 user_id=user.id, username=user.username, address=address, kind=kind)
    name = LOGIN_NAMES[kind]
    row, token = issue_token(session=session, user=user, name=name, actor=actor, now=now,
                             kind=kind)
    older = session.exec(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.kind == kind, ApiToken.name == name,
        col(ApiToken.revoked_at).is_(None), ApiToken.expires_at > now, ApiToken.id != row.id)
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())).all()
    for extra in older[MAX_LOGIN_TOKENS - 1:]:
        revoke_token(session=session, token_id=int(extra.id or 0), actor=actor, now=now,
                     reason="login_limit")
    return user, row, token


def authenticate(*, session: Session, token: str, now: datetime, kind: str = "api"
                 ) -> tuple[Principal, int]:
    """The user behind a token of `kind` ("api": the API's bearer tokens, "web": a page
    session's), and the token's id; Unauthorized for any other, revoked or expired one."""
    m = TOKEN.match(token)
    row = session.exec(select(ApiToken).where(ApiToken.lookup == m.group(1))).first() if m \
        else None
    user = session.get(User, row.user_id) if row is not None else None
    if m is None or row is None or row.revoked_at is not None or row.kind != kind or \
            row.expires_at <= now or user is None or not user.active:
        raise Unauthorized(NOT_VALID)
    digest = hashlib.sha256(token.encode()).hexdigest()
    with _verified_lock:
        known = _verified.get(int(row.id or 0)) == digest
    if not known:
        if not verify_secret(row.secret_hash, m.group(2)):
            raise Unauthorized(NOT_VALID)
        with _verified_lock:
            _verified[int(row.id or 0)] = digest
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        session.add(row)
    return principal(user), int(row.id or 0)


# --- an operator's actions: revoke, deactivate, reactivate ---------------------------------


def revoke_token(*, session: Session, token_id: int, actor: str, now: datetime,
                 reason: str | None = None) -> None:
    """Revoke one token (signing out, or an operator's revocation); audited once."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
        extra = {"reason": reason} if reason else {}
        audit.record(session=session, at=now, actor=actor, action="token.revoked",
                     user_id=row.user_id, token_id=token_id, **extra)
    with _verified_lock:
        _verified.pop(token_id, None)


def _active_tokens(session: Session, user: User, now: datetime) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(
        ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None),
        ApiToken.expires_at > now).order_by(col(ApiToken.id))))


def revoke_tokens(*, session: Session, username: str, actor: str, now: datetime,
                  token_id: int | None = None) -> list[int]:
    """Revoke one of a user's tokens (`token_id`), or every active one (None): the ids
    revoked. A token of another user is NotFound, like one that does not exist."""
    user = find_user(session=session, username=username)
    if token_id is not None:
        row = session.get(ApiToken, token_id)
        if row is None or row.user_id != user.id:
            raise NotFound(f"no token {token_id} of user {username}")
        ids = [token_id]
    else:
        ids = [int(t.id or 0) for t in _active_tokens(session, user, now)]
    for one in ids:
        revoke_token(session=session, token_id=one, actor=actor, now=now, reason="operator")
    return ids


def deactivate_user(*, session: Session, username: str, actor: str, now: datetime
                    ) -> list[int]:
    """The user may no longer log in or use any token: every active token is revoked, so
    that reactivating the user does not bring them back. The ids revoked."""
    user = find_user(session=session, username=username)
    ids = [int(t.id or 0) for t in _active_tokens(session, user, now)]
    for one in ids:
        revoke_token(session=session, token_id=one, actor=actor, now=now, reason="deactivated")
    if user.active:
        user.active = False
        session.add(user)
        audit.record(session=session, at=now, actor=actor, action="user.deactivated",
                     user_id=user.id, tokens_revoked=ids)
    return ids


def reactivate_user(*, session: Session, username: str, actor: str, now: datetime) -> User:
    """The user may log in again (their old tokens stay revoked)."""
    user = find_user(session=session, username=username)
    if not user.active:
        user.active = True
        session.add(user)
        audit.record(session=session, at=now, actor=actor, action="user.reactivated",
                     user_id=user.id)
    return user


def list_tokens(*, session: Session, username: str) -> list[ApiToken]:
    """A user's tokens, newest first, revoked and expired ones included."""
    user = find_user(session=session, username=username)
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id)
                             .order_by(col(ApiToken.id).desc())))


def any_user(*, session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is not None
