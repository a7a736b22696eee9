"""Telling reporters about their problems: e-mail when possible, else a phone call.

Every attempt is a FeedbackNotification row, written in the same transaction
as the change that caused it; the e-mail itself goes out on a background
thread after the commit, so a page never waits on the mail server. A row
left "sending" (the worker died before its thread sent it) is sent by
``flask crm notify`` from cron (``send_stale``), or again from the feedback page.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Feedback,
    FeedbackNotification,
    NotificationChannel,
    NotificationState,
)
from app.services.display import format_datetime

log = logging.getLogger(__name__)
SUBJECT_MAX = 200
BODY_MAX = 10000
# A notice still pending this long after it was queued has lost its sending thread.
STALE_AFTER = timedelta(minutes=5)
# Sending threads of this process still running: ``wait_for_sending`` joins them
# (tests, and commands that must not exit before their mail is out).
_in_flight: set[threading.Thread] = set()
_in_flight_lock = threading.Lock()


def mail_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def resolution_message(item: Feedback) -> tuple[str, str]:
    """Subject and body of the "your problem is solved" notice, in the reporter's language."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Your reported problem has been resolved: %(problem)s", problem=item.problem)
        body = _(
            "Dear %(reporter)s,\n\n"
            "The problem you reported on %(created)s has been resolved.\n\n"
            "Problem: %(problem)s\n"
            "Cause: %(cause)s\n"
            "Resolved at: %(resolved)s\n"
            "Engineer: %(engineer)s\n\n"
            "If it happens again, please reply to this message or call our support line.\n\n"
            "%(company)s customer service",
            reporter=item.reporter.name if item.reporter else "",
            created=format_datetime(item.created_at),
            problem=item.problem,
            cause=item.cause or "",
            resolved=format_datetime(item.resolved_at),
            engineer=str(item.engineer) if item.engineer else "",
            company=current_app.config["APP_NAME"],
        )
    return subject, body


def followup_message(item: Feedback) -> tuple[str, str]:
    """The template support starts from when writing to the reporter from the feedback page."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("About the problem you reported: %(problem)s", problem=item.problem)
        body = _(
            "Dear %(reporter)s,\n\n"
            "Thank you for reporting the problem below on %(created)s.\n\n"
            "Problem: %(problem)s\n"
            "Status: %(status)s\n\n"
            "[Write here what you need from the reporter or what has been done.]\n\n"
            "If you have any question, please reply to this message or call our support line.\n\n"
            "%(company)s customer service",
            reporter=item.reporter.name if item.reporter else "",
            created=format_datetime(item.created_at),
            problem=item.problem,
            status=str(item.status) if item.status else "",
            company=current_app.config["APP_NAME"],
        )
    return subject, body


def message_errors(subject: str, body: str) -> list[str]:
    """What is wrong with a message support typed, as messages to show."""
    errors = []
    if not subject.strip():
        errors.append(_("Write a subject for the message."))
    elif len(subject) > SUBJECT_MAX:
        errors.append(_("The subject may have at most %(count)d characters.", count=SUBJECT_MAX))
    if not body.strip():
        errors.append(_("Write the text of the message."))
    elif len(body) > BODY_MAX:
        errors.append(_("The message may have at most %(count)d characters.", count=BODY_MAX))
    return errors


def notifications_of(feedback_id: int) -> list[FeedbackNotification]:
    """Every message to the reporter about this feedback, newest first."""
    return list(
        db.session.scalars(
            select(FeedbackNotification)
            .where(FeedbackNotification.feedback_id == feedback_id)
            .order_by(FeedbackNotification.queued_at.desc(), FeedbackNotification.id.desc())
        )
    )


def queue_message(item: Feedback, subject: str, body: str) -> FeedbackNotification:
    """Record a message to the reporter: by e-mail when we can send one, else as a call to make."""
    reporter = item.reporter
    email = (reporter.email or "").strip() if reporter else ""
    if email and mail_configured():
        notice = FeedbackNotification(
            channel=NotificationChannel.email, recipient=email, state=NotificationState.pending
        )
    else:
        phone = (reporter.phone or "").strip() if reporter else ""
        reason = (
            _("The mail server is not configured; call the reporter.")
            if email
            else _("The reporter has no e-mail address; call the reporter.")
        )
        notice = FeedbackNotification(
            channel=NotificationChannel.phone,
            recipient=phone or "-",
            state=NotificationState.call_needed,
            error=reason,
        )
    notice.feedback = item
    notice.subject, notice.body = subject[:200], body
    db.session.add(notice)
    return notice


def queue_resolution_notice(item: Feedback) -> FeedbackNotification:
    return queue_message(item, *resolution_message(item))


def send_pending(feedback_id: int) -> threading.Thread | None:
    """Send this feedback's waiting e-mails on a background thread (after the commit)."""
    pending = db.session.scalars(
        select(FeedbackNotification.id).where(
            FeedbackNotification.feedback_id == feedback_id,
            FeedbackNotification.state == NotificationState.pending,
        )
    ).all()
    if not pending:
        return None
    app = current_app._get_current_object()
    thread = threading.Thread(target=_send_in_app, args=(app, pending), daemon=True)
    with _in_flight_lock:
        _in_flight.add(thread)
    thread.start()
    return thread


def wait_for_sending(timeout: float = 30) -> None:
    """Join this process's sending threads (each waits at most ``timeout`` seconds)."""
    with _in_flight_lock:
        threads = list(_in_flight)
    for thread in threads:
        thread.join(timeout=timeout)


def _send_in_app(app, notification_ids) -> None:
    try:
        with app.app_context():
            try:
                for notification_id in notification_ids:
                    send_now(notification_id)
            except Exception:  # a background thread has nobody to raise to: log it
                log.exception("sending notifications %s failed", notification_ids)
                db.session.rollback()
            finally:
                db.session.remove()
    finally:
        with _in_flight_lock:
            _in_flight.discard(threading.current_thread())


def send_stale(older_than: timedelta = STALE_AFTER) -> list[FeedbackNotification]:
    """Send, here and now, the e-mails still pending ``older_than`` after they were queued.

    Younger ones are left to the thread that queued them; each is sent at most
    once even when two senders meet (``send_now``), e.g. the cron jobs of two
    hosts. What comes back is what this call delivered (or failed to).
    """
    cutoff = datetime.now() - older_than
    waiting = db.session.scalars(
        select(FeedbackNotification.id)
        .where(
            FeedbackNotification.state == NotificationState.pending,
            FeedbackNotification.queued_at < cutoff,
        )
        .order_by(FeedbackNotification.queued_at, FeedbackNotification.id)
    ).all()
    sent = [send_now(notification_id) for notification_id in waiting]
    return [notice for notice in sent if notice is not None]


def send_now(notification_id: int) -> FeedbackNotification | None:
    """Deliver one pending e-mail and record the result; ``None`` when another sender has it.

    The claim is ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL): the row stays
    locked while it is sent, so another sender (a worker's thread, a resend,
    ``crm notify`` on another host) skips it rather than sending it twice, and
    one that comes after the commit finds it no longer pending. SQLite has no
    row locks; there one host runs everything (tests/cluster proves the claim
    on PostgreSQL).
    """
    notice = db.session.get(
        FeedbackNotification, notification_id, with_for_update={"skip_locked": True}
    )
    if notice is None or notice.state != NotificationState.pending:
        db.session.commit()  # release the lock of a row already dealt with
        return None
    try:
        _deliver(notice)
    except (OSError, smtplib.SMTPException) as error:
        notice.state = NotificationState.failed
        notice.error = (str(error) or error.__class__.__name__)[:500]
    else:
        notice.state = NotificationState.sent
        notice.sent_at = datetime.now()
        notice.error = None
    db.session.commit()
    return notice


def _deliver(notice: FeedbackNotification) -> None:
    config = current_app.config
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = config.get("MAIL_DEFAULT_SENDER") or "crm@localhost"
    message["To"] = notice.recipient
    message.set_content(notice.body)
    smtp_class = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25), timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def resend(notice: FeedbackNotification) -> FeedbackNotification:
    """A new attempt with the same text; the failed one stays in the record.

    The caller starts the sending (``send_pending``) once this is committed.
    """
    again = queue_message(notice.feedback, notice.subject, notice.body)
    db.session.commit()
    return again


def write_to_reporter(item: Feedback, subject: str, body: str) -> FeedbackNotification:
    """Record support's own message to the reporter; sent like the resolution notice."""
    notice = queue_message(item, subject.strip(), body.strip())
    db.session.commit()
    return notice
