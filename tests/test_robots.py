"""Group robots (WeCom 企业微信, DingTalk 钉钉): an agency's new and escalated tasks in its group
chat, in Chinese, through the outbox, against a real local stand-in for each robot that checks
what the real one checks (DingTalk's timestamp and signature) and answers as it answers.

Each test has an empty case store of its own (the configured kind: SQLite, or PostgreSQL with
PROTECT_TEST_DATABASE=postgres), so the sweep escalates only the tasks the test opened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from app.adapters import robots
from app.adapters.dispatch import dispatch
from app.adapters.notify import DeliveryError
from app.adapters.store import db
from app.config.settings import get_settings
from app.config.vocabulary import agency_name, procedure_name, step_name
from app.domain import clock
from app.domain.errors import NotFound
from app.domain.workdays import TZ
from app.services import cases as services
from app.services import engine
from models import Agency, AgencyRobot, HumanTask, OutboxMessage, ProcedureRun
from tests.conftest import TEST_DATABASE
from tests.helpers import intake_form, protect
from tests.test_outbox import Receiver

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DINGTALK_TOKEN = "d1n9t0k3n" * 4
DINGTALK_SECRET = "SEC" + "5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"
STREET = "street:xingqing-fenghuang"  # r3.visit's owner; its ladder's next rung is the district
DISTRICT = "district:xingqing"
PUBLIC = "https://protect.example.gov.cn"


# --- a case store of the test's own -----------------------------------------------------------


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from tests.pg import own_store as fresh

    monkeypatch.setenv("PROTECT_PUBLIC_URL", PUBLIC + "/")
    with fresh(TEST_DATABASE, tmp_path, "protect_robots", monkeypatch) as url:
        yield url


# --- the robots -------------------------------------------------------------------------------


def dingtalk_expected_sign(timestamp: str, secret: str) -> str:
    """What DingTalk computes to check `sign` (before URL-encoding): written out here on its
    own, from DingTalk's documentation, not with the code under test."""
    string_to_sign = f"{timestamp}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                      digestmod=hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class RobotStub:
    """WeCom's and DingTalk's robot endpoints on 127.0.0.1.

    WeCom: POST /cgi-bin/webhook/send?key=…, refuses an unknown key (errcode 93000).
    DingTalk: POST /robot/send?access_token=…&timestamp=…&sign=…, refuses (errcode 310000) a
    timestamp more than an hour from its clock or a sign that is not the HMAC of
    "<timestamp>\\n<secret>". Both answer HTTP 200 with {"errcode": …, "errmsg": …}.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any], bytes]] = []  # (robot, body, raw)
        self.refuse: list[tuple[int, str]] = []  # answers to give next, errcode and errmsg
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)  # decodes %2B, and would turn a bare + into " "
                if parts.path == "/cgi-bin/webhook/send":
                    robot, errcode, errmsg = "wecom", *stub.check_wecom(query)
                elif parts.path == "/robot/send":
                    robot, errcode, errmsg = "dingtalk", *stub.check_dingtalk(query)
                else:
                    robot, errcode, errmsg = "?", 404, "no such robot"
                with stub.lock:
                    if errcode == 0 and stub.refuse:
                        errcode, errmsg = stub.refuse.pop(0)
                    if errcode == 0:
                        stub.received.append((robot, json.loads(raw), raw))
                answer = json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()
                self.send_response(200)  # a refusal too: the errcode says it
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.05})
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def check_wecom(self, query: dict[str, list[str]]) -> tuple[int, str]:
        if query.get("key") != [WECOM_KEY]:
            return 93000, "invalid webhook url, hint: [1700000000_1]"
        return 0, "ok"

    def check_dingtalk(self, query: dict[str, list[str]]) -> tuple[int, str]:
        if query.get("access_token") != [DINGTALK_TOKEN]:
            return 300001, "token is not exist"
        [timestamp], [sign] = query.get("timestamp", [""]), query.get("sign", [""])
        if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600_000:
            return 310000, "invalid timestamp"
        if not hmac.compare_digest(sign, dingtalk_expected_sign(timestamp, DINGTALK_SECRET)):
            return 310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/x]"
        return 0, "ok"

    @property
    def wecom_url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={WECOM_KEY}"

    @property
    def dingtalk_url(self) -> str:
        return f"{self.base}/robot/send?access_token={DINGTALK_TOKEN}"

    def texts(self, robot: str) -> list[str]:
        """The markdown each robot showed, in order."""
        return [body["markdown"]["content" if robot == "wecom" else "text"]
                for kind, body, _ in self.received if kind == robot]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def stub() -> Iterator[RobotStub]:
    s = RobotStub()
    yield s
    s.stop()


@pytest.fixture
def webhook(own_store: str) -> Iterator[Receiver]:
    """The street office's signed webhook, next to its robot."""
    from tests.conftest import free_port

    r = Receiver(free_port())
    with db() as session:
        agency = session.get(Agency, STREET)
        agency.webhook_url = r.url
        session.add(agency)
    yield r
    r.stop()


def _set_robot(code: str, kind: str, url: str, secret: str | None = None) -> None:
    with db() as session:
        robots.set_robot(session=session, code=code, kind=kind, url=url, secret=secret,
                         actor="test", now=clock.now())


# --- a case and a task ------------------------------------------------------------------------


def _case() -> tuple[str, list[str]]:
    """A case whose child has a distinctive name, ID number and address, and a guardian with a
    phone: the case number, and every piece of personal data it holds."""
    tag = uuid.uuid4().hex[:6]
    form = intake_form(name=f"甄机器人{tag}", address=f"兴庆区机器人测试巷{tag}号")
    with db() as session:
        case = services.open_case(session=session, data=form, actor="test", now=clock.now())
    child, guardian = form["child"], form["guardians"][0]
    personal = [child["name"], child["id_number"], child["address"], guardian["name"],
                guardian["phone"], guardian["address"]]
    return case.case_no, personal


def _visit_task(case_no: str) -> HumanTask:
    """R3's follow-up visit, owned by the street office: opened as the flow opens it."""
    with db() as session:
        case = services.get_case(session=session, case_ref=case_no)
        run = ProcedureRun(case_id=case.id, code="R3", start_key=f"test:{uuid.uuid4()}",
                           status="running", started_at=clock.now())
        session.add(run)
        session.flush()
        run_id = int(run.id)
    task_id = engine.open_task(run_id, "r3.visit", "visit-1mo", owner=STREET)
    with db() as session:
        return session.get(HumanTask, task_id)


def _messages() -> dict[str, OutboxMessage]:
    with db() as session:
        return {m.dedupe_key: m for m in session.exec(select(OutboxMessage))}


def _deliver(key: str) -> Any:
    return dispatch(ids=[_messages()[key].id])


def _row(key: str) -> OutboxMessage:
    return _messages()[key]


# --- signing ----------------------------------------------------------------------------------


def test_dingtalk_sign_is_the_url_encoded_base64_hmac_of_timestamp_and_secret() -> None:
    # An independent implementation's published vector (the `dingding` crate's test).
    assert robots.dingtalk_sign("1700000000000", "secret") == \
        "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
    url = robots.dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=T", "secret",
                              "1700000000000")
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000"
                   "&sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D")
    assert robots.dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=T", None,
                               "1700000000000").endswith("access_token=T")


# --- what a robot shows -----------------------------------------------------------------------


def test_a_new_task_reaches_the_wecom_robot_in_chinese_with_no_personal_data(
        own_store: str, stub: RobotStub, webhook: Receiver) -> None:
    _set_robot(STREET, "wecom", stub.wecom_url)
    case_no, personal = _case()
    task = _visit_task(case_no)
    assert _deliver(f"robot:task:{task.id}:opened").delivered == 1

    [(robot, body, raw)] = stub.received
    assert robot == "wecom" and body["msgtype"] == "markdown"
    text = body["markdown"]["content"]
    assert text.startswith("### 新任务：")
    assert step_name("r3.visit", "zh") in text  # the step's words, whatever they are today
    assert procedure_name("R3", "zh") in text
    assert agency_name(STREET, "zh") in text
    assert case_no in text
    assert f"{PUBLIC}/tasks/{task.id}" in text  # PROTECT_PUBLIC_URL, its slash dropped
    assert task.due_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M") in text
    assert "北京时间" in text and "个工作日" in text
    assert len(text.encode()) <= 4096  # WeCom's limit for markdown
    assert not [p for p in personal if p in raw.decode("utf-8") or p in text]
    # The robot's message in the outbox holds codes and ids only, as the webhook's does.
    assert not [p for p in personal if p in json.dumps(_row(f"robot:task:{task.id}:opened")
                                                       .payload, ensure_ascii=False)]

    # The webhook gets its own message, with the payload it always had.
    assert _deliver(f"notify:task:{task.id}:opened").delivered == 1
    [(_, hook_body)] = webhook.received
    assert set(json.loads(hook_body)) == {"message_id", "agency", "event", "task_id", "step",
                                          "due_at"}
    assert len(stub.received) == 1


def test_an_escalation_goes_signed_to_the_dingtalk_robot_of_the_new_rungs_agency(
        own_store: str, stub: RobotStub) -> None:
    from app.runtime.sweep import escalate_tasks

    _set_robot(STREET, "wecom", stub.wecom_url)
    _set_robot(DISTRICT, "dingtalk", stub.dingtalk_url, DINGTALK_SECRET)
    case_no, personal = _case()
    task = _visit_task(case_no)
    [escalated] = escalate_tasks(as_of=task.escalate_at + timedelta(minutes=1), limit=10)
    assert escalated["to"] == DISTRICT

    keys = _messages()
    assert f"robot:task:{task.id}:rung:1" in keys
    assert dispatch(ids=[m.id for m in keys.values()]).failed == 0

    [opened] = stub.texts("wecom")  # the street office: its new task, not the escalation
    assert opened.startswith("### 新任务：")
    [text] = stub.texts("dingtalk")  # the district, signed: the stub checked the sign
    [(_, body, raw)] = [r for r in stub.received if r[0] == "dingtalk"]
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == f"任务已升级：{step_name('r3.visit', 'zh')}"
    assert step_name("r3.visit", "zh") in text and procedure_name("R3", "zh") in text
    assert "第 1 级" in text
    assert agency_name(STREET, "zh") in text and agency_name(DISTRICT, "zh") in text
    assert case_no in text and f"{PUBLIC}/tasks/{task.id}" in text
    with db() as session:
        due = session.get(HumanTask, task.id).due_at
    assert due.astimezone(TZ).strftime("%Y-%m-%d %H:%M") in text
    assert not [p for p in personal if p in raw.decode("utf-8")]


def test_a_wrong_dingtalk_secret_is_refused_by_the_robot_and_fails_the_delivery(
        own_store: str, stub: RobotStub) -> None:
    _set_robot(STREET, "dingtalk", stub.dingtalk_url, "SECnot-the-robots-secret")
    case_no, personal = _case()
    task = _visit_task(case_no)
    key = f"robot:task:{task.id}:opened"
    assert _deliver(key).failed == 1
    row = _row(key)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "errcode 310000" in row.last_error and "sign not match" in row.last_error
    # Neither the robot's access token, nor the secret, nor the message is in the error.
    assert DINGTALK_TOKEN not in row.last_error and "SECnot" not in row.last_error
    assert case_no not in row.last_error and "任务" not in row.last_error
    assert stub.received == []


def test_an_answer_that_echoes_the_message_does_not_carry_it_into_the_error(
        stub: RobotStub) -> None:
    stub.refuse.append((40058, "markdown.content 甄机器人 C2026-000001 exceed max length"))
    body = robots.wecom_body("新任务：x", ["### 新任务：x", "案件编号：C2026-000001"])
    with pytest.raises(DeliveryError) as info:
        robots.post_robot("wecom", stub.wecom_url, None, body, message_id="9",
                          now=clock.now(), timeout=5)
    message = str(info.value)
    assert "errcode 40058" in message
    assert "C2026" not in message and "甄" not in message and WECOM_KEY not in message


# --- one channel's failure is that channel's ---------------------------------------------------


def test_a_refused_robot_message_is_retried_without_sending_the_webhook_again(
        own_store: str, stub: RobotStub, webhook: Receiver) -> None:
    _set_robot(STREET, "wecom", stub.wecom_url)
    task = _visit_task(_case()[0])
    robot_key, hook_key = f"robot:task:{task.id}:opened", f"notify:task:{task.id}:opened"
    stub.refuse.append((45009, "api freq out of limit"))  # HTTP 200, and still a failure

    assert _deliver(hook_key).delivered == 1
    assert _deliver(robot_key).failed == 1
    row = _row(robot_key)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > clock.now()  # the outbox's back-off
    assert "errcode 45009" in row.last_error and WECOM_KEY not in row.last_error

    assert _deliver(robot_key).delivered == 1
    assert len(stub.texts("wecom")) == 1
    assert len(webhook.received) == 1  # the webhook was not sent again
    assert _row(hook_key).attempts == 1


def test_a_failing_webhook_is_retried_without_sending_the_robot_message_again(
        own_store: str, stub: RobotStub, webhook: Receiver) -> None:
    _set_robot(STREET, "wecom", stub.wecom_url)
    task = _visit_task(_case()[0])
    robot_key, hook_key = f"robot:task:{task.id}:opened", f"notify:task:{task.id}:opened"
    webhook.fail_next = 1

    assert _deliver(robot_key).delivered == 1
    assert _deliver(hook_key).failed == 1
    assert _deliver(hook_key).delivered == 1
    assert len(webhook.received) == 1
    assert len(stub.texts("wecom")) == 1


def test_a_robot_that_keeps_refusing_ends_as_a_dead_letter(
        own_store: str, stub: RobotStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "outbox_max_attempts", 2)
    _set_robot(STREET, "wecom", stub.wecom_url.replace(WECOM_KEY, "revoked-key"))
    task = _visit_task(_case()[0])
    key = f"robot:task:{task.id}:opened"
    assert _deliver(key).failed == 1
    assert _deliver(key).failed == 1
    row = _row(key)
    assert (row.status, row.attempts) == ("dead", 2)
    assert "errcode 93000" in row.last_error and "revoked-key" not in row.last_error


# --- which messages go to a robot --------------------------------------------------------------


def test_only_task_events_of_an_agency_with_a_robot_get_a_robot_message(
        own_store: str, stub: RobotStub) -> None:
    case_no, _ = _case()
    task = _visit_task(case_no)  # the street office has no robot yet
    _set_robot(STREET, "wecom", stub.wecom_url)
    engine.notify(task.procedure_run_id, STREET, "r3.ran_away", key="ran-away")  # an alert
    keys = set(_messages())
    assert f"notify:task:{task.id}:opened" in keys
    assert f"notify:run:{task.procedure_run_id}:ran-away" in keys
    assert not [k for k in keys if k.startswith("robot:")]
    with db() as session:  # whoever queues an alert, a robot is told of tasks only
        assert robots.robot_messages(session=session, messages=[
            ("notify", "notify:run:1:x", {"agency": STREET, "event": "r3.ran_away"}),
            ("notify", "notify:task:1:opened", {"agency": DISTRICT, "event": "task.opened"}),
        ]) == []
        assert robots.robot_messages(session=session, messages=[
            ("notify", "notify:task:1:opened", {"agency": STREET, "event": "task.opened"}),
        ]) == [("robot", "robot:task:1:opened", {"agency": STREET, "event": "task.opened"})]


def test_a_robot_cleared_after_its_message_was_queued_is_sent_nothing(
        own_store: str, stub: RobotStub) -> None:
    _set_robot(STREET, "wecom", stub.wecom_url)
    task = _visit_task(_case()[0])
    with db() as session:
        assert robots.clear_robot(session=session, code=STREET, actor="test", now=clock.now())
    assert _deliver(f"robot:task:{task.id}:opened").delivered == 1
    assert stub.received == []


# --- setting a robot up -----------------------------------------------------------------------


def _cli(*args: str) -> Any:
    from app.entrypoints.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_set_robot_list_and_clear_robot_never_print_the_url_or_the_secret(
        own_store: str) -> None:
    url = f"https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}"
    done = _cli("agency", "set-robot", DISTRICT, "--kind", "dingtalk", "--url", url,
                "--secret", DINGTALK_SECRET)
    assert done.exit_code == 0, done.output
    listed, as_json = _cli("agency", "list"), _cli("agency", "list", "--json")
    for out in (done.output, listed.output, as_json.output):
        assert DINGTALK_TOKEN not in out and DINGTALK_SECRET not in out
    [row] = [r for r in json.loads(as_json.output) if r["code"] == DISTRICT]
    assert row["robot"] == "dingtalk"
    assert f"{DISTRICT}" in listed.output and "robot: dingtalk" in listed.output
    with db() as session:
        assert session.get(AgencyRobot, DISTRICT).secret == DINGTALK_SECRET

    assert _cli("agency", "set-robot", DISTRICT, "--kind", "wecom", "--url",
                f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}"
                ).exit_code == 0
    with db() as session:  # replaced, and no DingTalk secret left behind
        robot = session.get(AgencyRobot, DISTRICT)
        assert (robot.kind, robot.secret) == ("wecom", None)

    assert _cli("agency", "clear-robot", DISTRICT).output.strip() == f"{DISTRICT}: robot cleared"
    [row] = [r for r in json.loads(_cli("agency", "list", "--json").output)
             if r["code"] == DISTRICT]
    assert row["robot"] is None


@pytest.mark.parametrize(("kind", "url", "secret", "says"), [
    ("feishu", "https://open.feishu.cn/x", None, "not a robot kind; known: wecom, dingtalk"),
    ("wecom", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", None, "https://"),
    ("wecom", "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", None, "https://"),
    ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "SECx", "no secret"),
    ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", " ", "--secret"),
])
def test_robot_settings_that_cannot_work_are_refused(own_store: str, kind: str, url: str,
                                                     secret: str | None, says: str) -> None:
    with pytest.raises(robots.RobotRefused, match=says), db() as session:
        robots.set_robot(session=session, code=DISTRICT, kind=kind, url=url, secret=secret,
                         actor="test", now=clock.now())
    with db() as session:
        assert session.get(AgencyRobot, DISTRICT) is None


def test_a_robot_for_an_unknown_agency_is_not_found(own_store: str) -> None:
    with pytest.raises(NotFound), db() as session:
        robots.set_robot(session=session, code="police", kind="wecom",
                         url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                         secret=None, actor="test", now=clock.now())


def test_protect_agency_set_robot_refuses_in_one_line_with_exit_code_2(own_store: str) -> None:
    out = protect("agency", "set-robot", DISTRICT, "--kind", "wecom", "--url",
                  "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", check=False)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("error: --url: a robot's address must start with https://")
