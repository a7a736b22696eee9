"""Telling the reporter: a real SMTP server on 127.0.0.1, started by the test."""

from datetime import datetime

from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.extensions import db
from app.models import FeedbackNotification, FeedbackStatus, NotificationChannel, NotificationState
from app.services import feedback as desk
from app.services import notifications
from factories import make_feedback, make_reporter
from helpers import Inbox


def _resolve(item):
    """What the pages and API do around a save that resolves the problem."""
    item_id = item.id  # loads the row before it changes, as the pages do
    item.status = FeedbackStatus.resolved
    item.cause = "门店网络驱动版本过旧，已升级"
    desk.before_save(item, item_id)
    db.session.commit()
    thread = notifications.send_pending(item_id)
    if thread:
        thread.join(timeout=15)
    return db.session.scalars(
        select(FeedbackNotification)
        .where(FeedbackNotification.feedback_id == item_id)
        .order_by(FeedbackNotification.id)
    ).all()


def test_resolution_mails_the_reporter_in_chinese(db_session, smtp_server):
    item = make_feedback(status=FeedbackStatus.in_progress, problem="收银机无法打印小票")
    [notice] = _resolve(item)
    db_session.refresh(notice)
    assert notice.state == NotificationState.sent
    assert notice.sent_at is not None and item.resolved_at is not None
    [message] = smtp_server.messages
    assert message["To"] == item.reporter.email
    assert "已解决" in message["Subject"] and "收银机无法打印小票" in message["Subject"]
    body = message.get_content()
    assert "门店网络驱动版本过旧" in body and item.reporter.name in body


def test_a_mail_server_that_is_down_is_recorded_and_can_be_resent(app, db_session, mail_config):
    item = make_feedback(status=FeedbackStatus.in_progress)
    [failed] = _resolve(item)
    db_session.refresh(failed)
    assert failed.state == NotificationState.failed
    assert failed.error
    assert db_session.get(type(item), item.id).status == FeedbackStatus.resolved

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=mail_config)
    controller.start()
    try:
        again = notifications.resend(failed)
        notifications.send_pending(item.id).join(timeout=15)
        db_session.refresh(again)
        db_session.refresh(failed)
        assert again.state == NotificationState.sent
        assert failed.state == NotificationState.failed  # the record of the failure stays
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_a_reporter_without_email_gets_a_call(db_session, smtp_server):
    reporter = make_reporter(email=None, phone="13900001111")
    item = make_feedback(reporter=reporter, status=FeedbackStatus.in_progress)
    [notice] = _resolve(item)
    assert notice.channel == NotificationChannel.phone
    assert notice.state == NotificationState.call_needed
    assert notice.recipient == "13900001111"
    assert smtp_server.messages == []


def test_without_a_mail_server_support_is_told_to_call(app, db_session):
    assert not app.config.get("MAIL_SERVER")
    item = make_feedback(
        status=FeedbackStatus.in_progress, resolved_at=None, created_at=datetime(2026, 3, 1)
    )
    [notice] = _resolve(item)
    assert notice.state == NotificationState.call_needed
    assert notice.recipient == item.reporter.phone
