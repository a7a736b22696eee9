"""Daily follow-up reminders (跟进提醒): the customers a salesperson must call today.

``crm alerts`` (cron, once a day) mails each owner the customers they own
whose next follow-up falls today or was due before today, the same rule as
the customer list's 今日待跟进 and 已逾期 filters. The mail goes through the
reporters' outbox: a row is queued in one transaction, then sent by
``notifications.send_now``. The outbox's unique (user, day) key makes a
second run that day, or the same run on another host, queue nothing more; a
run stopped between queueing and sending leaves the row pending, and the
next run (or ``crm notify``) sends it, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    CrmUser,
    Customer,
    FeedbackNotification,
    NotificationChannel,
    NotificationState,
)
from app.permissions import FOLLOWUP, READ, permission_name
from app.services import followups, notifications
from app.services.display import format_datetime

LISTED = 50  # customers named in one mail; the counts cover the rest


@dataclass
class Reminder:
    user: CrmUser
    today_count: int
    overdue_count: int
    customers: list[Customer]  # the first LISTED, most overdue first


def reminders_due(at: datetime) -> list[Reminder]:
    """One reminder per active owner with an e-mail address who may read follow-ups
    and owns a customer to follow up today or overdue."""
    today, overdue = followups.due_conditions(at)
    counts = db.session.execute(
        select(
            Customer.owner_id,
            func.count().filter(today),
            func.count().filter(overdue),
        )
        .where(Customer.owner_id.is_not(None), today | overdue)
        .group_by(Customer.owner_id)
        .order_by(Customer.owner_id)
    ).all()
    sm = current_app.appbuilder.sm
    may_read = (permission_name(READ), FOLLOWUP)
    reminders = []
    for owner_id, today_count, overdue_count in counts:
        user = db.session.get(CrmUser, owner_id)
        if not (user.active and (user.email or "").strip()):
            continue
        if may_read not in sm.get_user_permissions(user):
            continue
        customers = db.session.scalars(
            select(Customer)
            .where(Customer.owner_id == owner_id, today | overdue)
            .order_by(Customer.next_followup_at, Customer.id)
            .limit(LISTED)
        ).all()
        reminders.append(Reminder(user, int(today_count), int(overdue_count), list(customers)))
    return reminders


def message(reminder: Reminder, at: datetime) -> tuple[str, str]:
    """Subject and body, in the server's language like the reporters' mails."""
    start_of_day, _tomorrow = followups.day_bounds(at)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _(
            "Follow-ups for %(day)s: %(today)d due today, %(overdue)d overdue",
            day=start_of_day.date().isoformat(),
            today=reminder.today_count,
            overdue=reminder.overdue_count,
        )
        lines = []
        for customer in reminder.customers:
            state = _("overdue") if customer.next_followup_at < start_of_day else _("due today")
            lines.append(
                f"- {format_datetime(customer.next_followup_at)}  {state}  "
                f"{customer.code}  {customer.name}"
            )
        hidden = reminder.today_count + reminder.overdue_count - len(reminder.customers)
        if hidden > 0:
            lines.append(_("… and %(count)d more on the customer list.", count=hidden))
        body = _(
            "Dear %(user)s,\n\n"
            "These customers of yours are due for a follow-up:\n\n"
            "%(customers)s\n\n"
            'The customer list\'s filters "Follow up today" and "Follow-up overdue" '
            "show them all.\n\n"
            "%(company)s",
            user=str(reminder.user),
            customers="\n".join(lines),
            company=current_app.config["APP_NAME"],
        )
    return subject, body


def queue_reminders(at: datetime) -> list[int]:
    """Queue today's reminder of every user who has none yet; the ids of the new rows."""
    day = at.date()
    queued = []
    for reminder in reminders_due(at):
        subject, body = message(reminder, at)
        notice = FeedbackNotification(
            user_id=reminder.user.id,
            reminder_day=day,
            channel=NotificationChannel.email,
            recipient=reminder.user.email.strip(),
            subject=subject[: notifications.SUBJECT_MAX],
            body=body,
            state=NotificationState.pending,
        )
        try:
            with db.session.begin_nested():
                db.session.add(notice)
        except IntegrityError:  # already queued today (an earlier run, another host)
            continue
        queued.append(notice.id)
    db.session.commit()
    return queued


def pending_reminders(day: date) -> list[int]:
    """Today's reminders still waiting: queued by a run that stopped before sending."""
    return list(
        db.session.scalars(
            select(FeedbackNotification.id)
            .where(
                FeedbackNotification.reminder_day == day,
                FeedbackNotification.state == NotificationState.pending,
            )
            .order_by(FeedbackNotification.id)
        )
    )


def send_reminders(at: datetime) -> list[FeedbackNotification]:
    """Queue and send today's reminders; what this call delivered (or failed to)."""
    queue_reminders(at)
    sent = [notifications.send_now(key) for key in pending_reminders(at.date())]
    return [notice for notice in sent if notice is not None]
