"""Follow-ups (跟进记录) and the customer's last and next follow-up times.

A customer's 最后跟进时间 is the time of its latest follow-up and its 下次跟进时间
the next time that latest follow-up set. Both are derived columns on the
customer, so that the customer list sorts and filters on them without a join.
``init_app`` keeps them in step: one listener on the session recomputes them,
in the transaction that writes any follow-up (pages, API, import, command
line), for every customer whose follow-ups changed, including one a follow-up
was moved away from. Bulk Core statements (demo data) call
``refresh_customers`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, event, false, inspect, or_, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Customer, FollowUp
from app.models.base import LabeledEnum

PENDING = "crm_followup_customers"  # session.info key: customer ids to refresh after the flush

_registered = False


def now() -> datetime:
    return datetime.now()


def refresh_customers(connection, customer_ids: Iterable[int]) -> None:
    """Set the follow-up times of ``customer_ids`` from their follow-ups, in one UPDATE.

    The customer's own version and change stamps stay as they are: a follow-up
    is not an edit of the customer, and must not make someone's open edit form stale.
    """
    ids = sorted({key for key in customer_ids if key is not None})
    if not ids:
        return
    latest = (
        select(FollowUp.followed_at)
        .where(FollowUp.customer_id == Customer.id)
        .order_by(FollowUp.followed_at.desc(), FollowUp.id.desc())
        .limit(1)
    )
    table = Customer.__table__
    for start in range(0, len(ids), 500):
        connection.execute(
            update(table)
            .where(table.c.id.in_(ids[start : start + 500]))
            .values(
                last_followup_at=latest.scalar_subquery(),
                next_followup_at=latest.with_only_columns(FollowUp.next_at).scalar_subquery(),
                changed_on=table.c.changed_on,
                changed_by_fk=table.c.changed_by_fk,
            )
        )


def init_app(app) -> None:
    """Listen on the shared session class once, however many apps are created."""
    global _registered
    if _registered:
        return
    event.listen(db.session, "before_flush", _note_customers)
    event.listen(db.session, "after_flush", _refresh_after_flush)
    event.listen(db.session, "after_flush_postexec", _expire_customers)
    _registered = True


def _note_customers(session: Session, _flush_context, _instances) -> None:
    """The customers a follow-up leaves (its stored customer) before the flush changes it."""
    noted = session.info.setdefault(PENDING, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, FollowUp):
            noted.add(inspect(obj).attrs.customer_id.loaded_value)


def _followups_of_flush(session: Session):
    return [
        obj for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, FollowUp)
    ]


def _refresh_after_flush(session: Session, _flush_context) -> None:
    """The customers a follow-up joins (known once the flush set its key), then the UPDATE."""
    noted = session.info.get(PENDING, set())
    noted |= {obj.customer_id for obj in _followups_of_flush(session)}
    noted = {key for key in noted if isinstance(key, int)}
    if noted:
        refresh_customers(session.connection(), noted)
        session.info[PENDING] = noted


def _expire_customers(session: Session, _flush_context) -> None:
    """Loaded customers read their new times from the database when next asked."""
    noted = session.info.pop(PENDING, set())
    for key in noted:
        customer = session.identity_map.get(inspect(Customer).identity_key_from_primary_key((key,)))
        if customer is not None:
            session.expire(customer, ["last_followup_at", "next_followup_at"])


# --- quick filters on the customer list -------------------------------------------


def day_bounds(at: datetime | None = None) -> tuple[datetime, datetime]:
    """The start of ``at``'s day and of the next day."""
    start = (at or now()).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def week_bounds(at: datetime | None = None) -> tuple[datetime, datetime]:
    """Monday 00:00 of ``at``'s week and of the next week (weeks start on Monday in China)."""
    start, _end = day_bounds(at)
    start -= timedelta(days=start.weekday())
    return start, start + timedelta(days=7)


IDLE_DAYS = 30


class FollowUpQueue(LabeledEnum):
    """The customer list's quick filters on the next and last follow-up times."""

    due_today = _l("Follow up today")
    overdue = _l("Follow-up overdue")
    this_week = _l("Follow up this week")
    idle = _l("No follow-up for over 30 days")


def parse_queue(code) -> FollowUpQueue | None:
    if isinstance(code, FollowUpQueue):
        return code
    try:
        return FollowUpQueue[str(code).strip()]
    except KeyError:
        return None


def queue_condition(queue: FollowUpQueue | None, at: datetime):
    """SQL on the customer's own columns (no join) for one quick filter.

    Overdue: the next follow-up was due before today; due today: it falls on
    today; idle: never followed up, or not for ``IDLE_DAYS`` days.
    """
    today, tomorrow = day_bounds(at)
    if queue is FollowUpQueue.due_today:
        return and_(Customer.next_followup_at >= today, Customer.next_followup_at < tomorrow)
    if queue is FollowUpQueue.overdue:
        return Customer.next_followup_at < today
    if queue is FollowUpQueue.this_week:
        start, end = week_bounds(at)
        return and_(Customer.next_followup_at >= start, Customer.next_followup_at < end)
    if queue is FollowUpQueue.idle:
        return or_(
            Customer.last_followup_at.is_(None),
            Customer.last_followup_at < at - timedelta(days=IDLE_DAYS),
        )
    return false()


def due_conditions(at: datetime):
    """(due today, overdue): what the dashboard shows and the reminder mail lists."""
    return (
        queue_condition(FollowUpQueue.due_today, at),
        queue_condition(FollowUpQueue.overdue, at),
    )
