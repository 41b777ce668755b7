"""Group robots: an agency's new and escalated tasks, in Chinese, in its WeCom (企业微信) or
DingTalk (钉钉) group chat, in each robot's own message format and signing.

A task-opened or task-escalated notification for an agency with a robot is queued twice: the
webhook's message (kind "notify", app/adapters/dispatch.py) and the robot's (kind "robot", key
`robot:…`), so the outbox retries, backs off and dead-letters each channel on its own, and a
robot that fails never sends the webhook again, nor the other way round.

A group chat is no access-controlled place: a message names the step, the procedure, the case
number, the responsible agency, the deadline and a link to the task page, and nothing about
the child (no name, ID number, address, phone or free text). Whoever opens the link signs in
and sees what their role may see. The message is written when it is delivered, from codes and
ids; the outbox keeps only those.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from sqlmodel import Session, col, select

from app.adapters import audit
from app.adapters.notify import DeliveryError, post_once, where
from app.adapters.outbox import enqueue
from app.adapters.store import db
from app.config.settings import get_settings
from app.domain import clock
from app.domain.errors import NotFound, ProtectError
from models import Agency, AgencyRobot, Case, HumanTask, OutboxMessage, ProcedureRun

KINDS = ("wecom", "dingtalk")
MESSAGE_KIND = "robot"  # the outbox kind of a robot's message
EVENTS = {"task.opened": "新任务", "task.escalated": "任务已升级"}  # what a robot is told
# Why a robot refused, for the operator; its own errmsg is kept only when it is plain words.
KNOWN_ERRCODES = {
    93000: "the robot's webhook URL is invalid (WeCom)",
    45009: "too many messages to this robot (WeCom: 20 a minute)",
    130101: "too many messages to this robot (DingTalk: 20 a minute)",
    310000: "the robot's security check failed (DingTalk: signature, timestamp, keyword or "
            "IP address)",
    300001: "the robot's access token is invalid (DingTalk)",
}


class RobotRefused(ProtectError):
    """A robot's settings were refused; nothing was written."""

    code = "invalid_robot"


# --- settings --------------------------------------------------------------------------------


def check_robot(kind: str, url: str, secret: str | None) -> None:
    """Refuse a robot's settings that cannot work, in one line.

    Raises:
        RobotRefused: An unknown kind, an address that is not https (http only on 127.0.0.1,
            for tests), or a secret that the kind does not take or that is empty.
    """
    if kind not in KINDS:
        raise RobotRefused(f"--kind: {kind!r} is not a robot kind; known: {', '.join(KINDS)}")
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname == "127.0.0.1"
    if not ((parts.scheme == "https" and parts.hostname) or local):
        raise RobotRefused("--url: a robot's address must start with https:// "
                           "(http:// only for 127.0.0.1)")
    if secret is not None:
        if kind == "wecom":
            raise RobotRefused("--secret: a WeCom robot takes no secret (its key is in the URL)")
        if not secret.strip() or secret != secret.strip():
            raise RobotRefused("--secret: empty, or with spaces around it")


def set_robot(*, session: Session, code: str, kind: str, url: str, secret: str | None,
              actor: str, now: datetime) -> AgencyRobot:
    """Send `code`'s task-opened and task-escalated messages to this robot too (replaces one
    set before). Audited with the kind only: the URL and the secret are the robot's keys."""
    check_robot(kind, url, secret)
    if session.get(Agency, code) is None:
        raise NotFound(f"no agency {code}")
    robot = session.get(AgencyRobot, code) or AgencyRobot(agency_code=code, kind=kind, url=url,
                                                           updated_at=now)
    robot.kind, robot.url, robot.secret, robot.updated_at = kind, url, secret, now
    session.add(robot)
    audit.record(session=session, at=now, actor=actor, action="agency.robot_set", agency=code,
                 kind=kind, signed=secret is not None)
    return robot


def clear_robot(*, session: Session, code: str, actor: str, now: datetime) -> bool:
    """Stop sending `code`'s messages to a robot; whether one was set. Messages already queued
    for it are then delivered to nobody."""
    if session.get(Agency, code) is None:
        raise NotFound(f"no agency {code}")
    robot = session.get(AgencyRobot, code)
    if robot is None:
        return False
    session.delete(robot)
    audit.record(session=session, at=now, actor=actor, action="agency.robot_cleared",
                 agency=code)
    return True


def robot_kinds(*, session: Session) -> dict[str, str]:
    """Which agencies have a robot, and of which kind (never its URL or secret)."""
    return dict(session.exec(select(AgencyRobot.agency_code, AgencyRobot.kind)).all())


# --- queueing --------------------------------------------------------------------------------


def robot_key(notify_key: str) -> str:
    """The robot's message key next to a webhook message's: "notify:task:7:opened" →
    "robot:task:7:opened"."""
    return "robot:" + notify_key.removeprefix("notify:")


def _agency(payload: dict[str, Any]) -> str:
    return str(payload.get("agency", "")).split("/", 1)[0]


def robot_messages(*, session: Session, messages: Iterable[tuple[str, str, dict[str, Any]]]
                   ) -> list[tuple[str, str, dict[str, Any]]]:
    """The robots' (kind, key, payload) for these webhook messages: one for each task event of
    an agency that has a robot now, with the same payload (codes and ids)."""
    wanted = [(key, payload) for kind, key, payload in messages
              if kind == "notify" and payload.get("event") in EVENTS]
    if not wanted:
        return []
    agencies = {_agency(p) for _, p in wanted}
    with_robot = set(session.exec(select(AgencyRobot.agency_code).where(
        col(AgencyRobot.agency_code).in_(agencies))).all())
    return [(MESSAGE_KIND, robot_key(key), dict(payload)) for key, payload in wanted
            if _agency(payload) in with_robot]


def enqueue_robot(*, session: Session, notify_key: str, payload: dict[str, Any],
                  now: datetime) -> None:
    """Queue the robot's message for a webhook message just queued, if it is for one."""
    for kind, key, data in robot_messages(session=session,
                                          messages=[("notify", notify_key, payload)]):
        enqueue(session=session, kind=kind, dedupe_key=key, payload=data, now=now)


# --- the message -----------------------------------------------------------------------------


def message_lines(payload: dict[str, Any], *, case_no: str, procedure: str, now: datetime,
                  base_url: str) -> tuple[str, list[str]]:
    """The title and the markdown lines of a robot message, in Chinese, from codes and ids.

    Nothing about the child: the step, the procedure and the agencies in words, the case
    number, the deadline in Beijing time, the rung, and the task page's link.
    """
    from app.config.vocabulary import agency_name, procedure_name, step_name
    from app.domain.workdays import TZ, working_days_between

    event = str(payload["event"])
    step = step_name(str(payload["step"]), "zh")
    title = f"{EVENTS[event]}：{step}"
    lines = [f"### {title}", f"程序：{procedure_name(procedure, 'zh')}", f"案件编号：{case_no}"]
    if event == "task.escalated":
        before = agency_name(str(payload["from"]), "zh")
        after = agency_name(str(payload["to"]), "zh")
        lines.append(f"升级：第 {int(payload['rung'])} 级，由{before}转至{after}")
    else:
        lines.append(f"承办部门：{agency_name(str(payload['agency']), 'zh')}")
    due = datetime.fromisoformat(str(payload["due_at"]))
    when = due.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    if due <= now:
        left = "已逾期"
    else:
        days = working_days_between(now, due)
        left = f"剩余 {days} 个工作日" if days > 0 else "今日到期"
    lines.append(f"期限：{when}（北京时间，{left}）")
    lines.append(f"[打开任务]({base_url}/tasks/{int(payload['task_id'])})")
    return title, lines


def wecom_body(title: str, lines: list[str]) -> dict[str, Any]:
    """A WeCom group robot's markdown message (its content at most 4096 bytes)."""
    return {"msgtype": "markdown", "markdown": {"content": "\n".join(lines)}}


def dingtalk_body(title: str, lines: list[str]) -> dict[str, Any]:
    """A DingTalk custom robot's markdown message; its markdown wants blank lines between
    lines. The title is what the chat list shows."""
    return {"msgtype": "markdown", "markdown": {"title": title, "text": "\n\n".join(lines)}}


# --- signing and sending ---------------------------------------------------------------------


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk's 加签: base64 of HMAC-SHA256("<timestamp>\\n<secret>") keyed with the secret,
    URL-encoded, as the robot checks it (with a timestamp within an hour of its clock)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return quote(base64.b64encode(mac.digest()).decode("ascii"), safe="")


def dingtalk_url(url: str, secret: str | None, timestamp_ms: str) -> str:
    """The robot's URL with `&timestamp=…&sign=…` appended when it signs."""
    if secret is None:
        return url
    parts = urlsplit(url)
    extra = f"timestamp={timestamp_ms}&sign={dingtalk_sign(timestamp_ms, secret)}"
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def _errmsg(answer: dict[str, Any]) -> str:
    """The robot's errmsg when it is a few plain words ("sign not match"); else nothing, so
    that an answer that echoed the message cannot carry it into an error."""
    words = re.split(r"[,，;；\[(]", str(answer.get("errmsg", "")), maxsplit=1)[0].strip()
    return words if re.fullmatch(r"[A-Za-z][A-Za-z _]{0,59}", words) else ""


def post_robot(kind: str, url: str, secret: str | None, body: dict[str, Any], *,
               message_id: str, now: datetime, timeout: float) -> None:
    """POST one message to a WeCom or DingTalk robot, once.

    Both answer HTTP 200 with `{"errcode": 0, "errmsg": "ok"}`; any other errcode, or an
    answer that is not that JSON, is a failed delivery.

    Raises:
        DeliveryError: With the address's host only (its path and query hold the robot's key),
            never the message.
    """
    if kind == "dingtalk":
        url = dingtalk_url(url, secret, str(int(now.timestamp() * 1000)))
    elif kind != "wecom":
        raise DeliveryError(f"unknown robot kind {kind!r} for message {message_id}")
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    response = post_once(url, data, headers={"Content-Type": "application/json; charset=utf-8"},
                         message_id=message_id, timeout=timeout)
    host = where(url)
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code} delivering message {message_id} "
                            f"to {kind} robot at {host}")
    try:
        answer = response.json()
        errcode = int(answer["errcode"])
    except (ValueError, KeyError, TypeError):
        raise DeliveryError(f"{kind} robot at {host} gave no errcode for message {message_id}"
                            ) from None
    if errcode != 0:
        said = _errmsg(answer)
        raise DeliveryError(
            f"{kind} robot at {host} refused message {message_id}: errcode {errcode}"
            + (f' "{said}"' if said else "")
            + f": {KNOWN_ERRCODES.get(errcode, 'see the robot documentation for this errcode')}")


def deliver(msg: OutboxMessage) -> None:
    """Deliver a robot message of the outbox: written now, sent to the agency's robot as set
    now; nothing to do when the agency has no robot any more."""
    payload = msg.payload
    with db() as session:
        robot = session.get(AgencyRobot, _agency(payload))
        if robot is None:
            return  # cleared since it was queued
        kind, url, secret = robot.kind, robot.url, robot.secret
        found = session.exec(
            select(Case.case_no, ProcedureRun.code).select_from(HumanTask)
            .join(ProcedureRun, col(ProcedureRun.id) == HumanTask.procedure_run_id)
            .join(Case, col(Case.id) == HumanTask.case_id)
            .where(HumanTask.id == payload.get("task_id"))).first()
    if found is None:
        raise DeliveryError(f"message {msg.id}: no task {payload.get('task_id')}")
    case_no, procedure = found
    settings = get_settings()
    now = clock.now()
    title, lines = message_lines(payload, case_no=case_no, procedure=procedure, now=now,
                                 base_url=settings.public_base_url)
    body = wecom_body(title, lines) if kind == "wecom" else dingtalk_body(title, lines)
    post_robot(kind, url, secret, body, message_id=str(msg.id), now=now,
               timeout=settings.webhook_timeout_s)
