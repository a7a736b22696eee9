"""Telling the reporter, end to end: through the pages and the API, to real SMTP servers on 127.0.0.1.

The desk's clock is frozen at FROZEN_DESK_TIME (2026-03-10 12:00) where times matter.
"""

from __future__ import annotations

import re
import socket
import threading
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select
from test_feedback_desk import (
    CAUSE,
    S,
    edit_form,
    feedback_in,
    list_rows,
    notices_of,
    row_ids,
    stored,
    user_id,
)

from app.models import Feedback, FeedbackNotification, NotificationState
from app.services import notifications
from factories import make_reporter
from helpers import FROZEN_DESK_TIME, unescaped_html

SUBJECT = "您反馈的问题已解决：收银机无法打印小票"


# --------------------------------------------------------------------------- a mail server that stalls


class StalledSmtp:
    """An SMTP server on 127.0.0.1 that accepts a connection, then says nothing until
    ``release`` is set; after that it takes the message like any server."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connected = threading.Event()
        self.release = threading.Event()
        self.messages = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _address = self.listener.accept()
        except OSError:  # closed before anyone connected
            return
        with conn, conn.makefile("rb") as reader:
            self.connected.set()
            self.release.wait(timeout=60)
            self._converse(conn, reader)

    def _converse(self, conn, reader):
        def say(line):
            conn.sendall(line.encode() + b"\r\n")

        say("220 127.0.0.1 ESMTP")
        for line in iter(reader.readline, b""):
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                say("250 127.0.0.1")
            elif verb == b"DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                data = []
                for row in iter(reader.readline, b""):
                    if row == b".\r\n":
                        break
                    data.append(row[1:] if row.startswith(b"..") else row)
                self.messages.append(message_from_bytes(b"".join(data), policy=policy.default))
                say("250 OK")
            elif verb == b"QUIT":
                say("221 Bye")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                say("250 OK")

    def close(self):
        self.release.set()
        self.listener.close()
        self.thread.join(timeout=15)


@pytest.fixture
def stalled_smtp(app, monkeypatch):
    server = StalledSmtp()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    yield server
    server.close()
    notifications.wait_for_sending()


def test_resolving_does_not_wait_for_a_stalled_mail_server(db_session, signed_in, stalled_smtp):
    item = feedback_in(S.in_progress, problem="收银机无法打印小票")
    visitor = signed_in("support")
    response = visitor.post(
        f"/feedback/edit/{item.id}", data=edit_form(item, status="resolved", cause=CAUSE)
    )
    # The page answered while the server has not said a word yet.
    assert response.status_code == 302
    assert stalled_smtp.connected.wait(timeout=15), "the notice was never sent"
    assert not stalled_smtp.release.is_set()
    assert stored(db_session, item.id).status == S.resolved
    [notice] = notices_of(db_session, item.id)
    assert notice.state == NotificationState.pending
    page = unescaped_html(visitor.get(f"/feedback/show/{item.id}"))
    assert f'data-id="{notice.id}" data-state="pending"' in page and "发送中" in page

    stalled_smtp.release.set()
    notifications.wait_for_sending()
    [notice] = notices_of(db_session, item.id)
    assert notice.state == NotificationState.sent and notice.sent_at is not None
    [message] = stalled_smtp.messages
    assert message["Subject"] == SUBJECT and message["To"] == item.reporter.email


# --------------------------------------------------------------------------- the REST API


def test_resolving_through_the_api_mails_the_reporter(app, db_session, jwt_headers, smtp_server):
    item = feedback_in(S.in_progress, problem="收银机无法打印小票")
    response = app.test_client().put(
        f"/api/v1/feedback/{item.id}",
        json={"status": "resolved", "cause": CAUSE},
        headers=jwt_headers("support"),
    )
    assert response.status_code == 200, response.json
    notifications.wait_for_sending()
    assert stored(db_session, item.id).resolved_at is not None
    [notice] = notices_of(db_session, item.id)
    assert notice.state == NotificationState.sent
    [message] = smtp_server.messages
    assert message["Subject"] == SUBJECT and message["To"] == item.reporter.email
    body = message.get_content()
    assert CAUSE in body and f"{item.reporter.name} 您好" in body and "问题已经解决" in body

    # Reopening sends nothing; resolving again sends a new notice.
    client = app.test_client()
    assert (
        client.put(
            f"/api/v1/feedback/{item.id}",
            json={"status": "in_progress"},
            headers=jwt_headers("support"),
        ).status_code
        == 200
    )
    assert (
        client.put(
            f"/api/v1/feedback/{item.id}",
            json={"status": "resolved", "cause": CAUSE},
            headers=jwt_headers("support"),
        ).status_code
        == 200
    )
    notifications.wait_for_sending()
    assert [n.state for n in notices_of(db_session, item.id)] == [NotificationState.sent] * 2
    assert len(smtp_server.messages) == 2


# --------------------------------------------------------------------------- the "done when"


def _version_on_the_edit_page(visitor, item_id) -> str:
    page = visitor.get(f"/feedback/edit/{item_id}").get_data(as_text=True)
    tag = re.search(r'<input[^>]*name="row_version"[^>]*>', page).group(0)
    return re.search(r'value="(\d+)"', tag).group(1)


def _move(visitor, db_session, item_id, **changes):
    """What support does on the edit page: change the fields, keep the rest, save."""
    item = stored(db_session, item_id)
    form = edit_form(item, row_version=_version_on_the_edit_page(visitor, item_id), **changes)
    response = visitor.post(f"/feedback/edit/{item_id}", data=form)
    assert response.status_code == 302, unescaped_html(response)
    return stored(db_session, item_id)


def test_a_support_user_takes_a_problem_from_new_to_closed(
    db_session, signed_in, frozen, smtp_server
):
    reporter = make_reporter(name="南京路店王店长", email="wang@store.example.com")
    engineer = user_id(db_session, "engineer")
    support = signed_in("support")

    # 1. Reported six hours ago, urgent (4 h target): new, nobody's, already overdue.
    response = support.post(
        "/feedback/add",
        data={
            "customer": reporter.customer_id,
            "reporter": reporter.id,
            "problem": "收银机无法打印小票",
            "level": "urgent",
            "status": "new",
            "created_at": "2026-03-10 06:00:00",
            "city": "上海",
            "store": "南京路店",
        },
    )
    assert response.status_code == 302, unescaped_html(response)
    item_id = db_session.scalar(select(Feedback.id).where(Feedback.reporter_id == reporter.id))
    row = list_rows(support.get("/feedback/list/"))[item_id]
    assert "feedback-overdue" in row and "feedback-unassigned" in row and "新建" in row
    assert item_id in row_ids(support.get("/feedback/list/?_flt_0_queue=overdue"))
    assert item_id in row_ids(support.get("/feedback/list/?_flt_0_queue=unassigned"))

    # 2. Assigned from the list: the row says whose it is.
    chooser = support.post("/feedback/action_post", data={"action": "assign", "rowid": item_id})
    assert chooser.status_code == 302 and "/feedback/assign/" in chooser.location
    assert (
        support.post("/feedback/assign/", data={"ids": item_id, "engineer": engineer}).status_code
        == 302
    )
    row = list_rows(support.get("/feedback/list/"))[item_id]
    assert "engineer user" in row and "feedback-unassigned" not in row
    assert "feedback-overdue" in row

    # 3. In progress, then resolved with its cause: the reporter gets the mail in Chinese.
    assert _move(support, db_session, item_id, status="in_progress").status == S.in_progress
    resolved = _move(support, db_session, item_id, status="resolved", cause=CAUSE)
    assert resolved.status == S.resolved and resolved.resolved_at == FROZEN_DESK_TIME
    notifications.wait_for_sending()
    [message] = smtp_server.messages
    assert message["To"] == "wang@store.example.com"
    assert message["Subject"] == SUBJECT
    body = message.get_content()
    assert "南京路店王店长 您好" in body and "您于 2026-03-10 06:00 反馈的问题已经解决" in body
    assert f"原因：{CAUSE}" in body and "处理工程师：engineer user" in body
    row = list_rows(support.get("/feedback/list/"))[item_id]
    assert "已解决" in row and "feedback-overdue" not in row and "engineer user" in row
    assert item_id not in row_ids(support.get("/feedback/list/?_flt_0_queue=overdue"))

    # 4. Closed; the page keeps the record of the message.
    assert _move(support, db_session, item_id, status="closed").status == S.closed
    row = list_rows(support.get("/feedback/list/"))[item_id]
    assert "已关闭" in row and "engineer user" in row
    page = unescaped_html(support.get(f"/feedback/show/{item_id}"))
    [notice] = db_session.scalars(
        select(FeedbackNotification).where(FeedbackNotification.feedback_id == item_id)
    ).all()
    assert f'data-id="{notice.id}" data-state="sent"' in page and "已发送" in page
