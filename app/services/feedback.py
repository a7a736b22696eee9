"""The support desk's rules for feedback: life cycle, service targets, overdue.

Statuses move new → in_progress → resolved → closed, and resolved →
in_progress to reopen. Each level has a target time to resolution (config
``FEEDBACK_TARGET_HOURS``); an open problem past its target is overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, false, inspect, or_, select

from app.extensions import db
from app.models import Feedback, FeedbackLevel, FeedbackStatus
from app.services.notifications import queue_resolution_notice, send_pending

S = FeedbackStatus
ALLOWED_MOVES = {
    S.new: {S.in_progress},
    S.in_progress: {S.resolved},
    S.resolved: {S.closed, S.in_progress},
    S.closed: set(),
}
OPEN_STATUSES = (S.new, S.in_progress)
DEFAULT_TARGET_HOURS = {"urgent": 4, "high": 24, "medium": 72, "low": 168}


def target_hours() -> dict[FeedbackLevel, int]:
    configured = current_app.config.get("FEEDBACK_TARGET_HOURS", DEFAULT_TARGET_HOURS)
    return {level: configured[level.name] for level in FeedbackLevel}


def due_at(created_at: datetime | None, level: FeedbackLevel | None) -> datetime | None:
    if created_at is None or level is None:
        return None
    return created_at + timedelta(hours=target_hours()[level])


def is_overdue(item: Feedback, now: datetime) -> bool:
    due = due_at(item.created_at, item.level)
    return item.status in OPEN_STATUSES and due is not None and now > due


def overdue_condition(now: datetime):
    """SQL for "open and past its target": one comparison per level, index-friendly."""
    per_level = [
        and_(Feedback.level == level, Feedback.created_at < now - timedelta(hours=hours))
        for level, hours in target_hours().items()
    ]
    return and_(Feedback.status.in_(OPEN_STATUSES), or_(*per_level) if per_level else false())


def previous_status(pk) -> FeedbackStatus | None:
    if pk is None:
        return None
    with db.session.no_autoflush:
        return db.session.scalar(select(Feedback.status).where(Feedback.id == pk))


def status_errors(values, pk) -> dict[str, str]:
    """Broken life-cycle rules for a feedback about to be saved, by field."""
    errors = {}
    status = values.get("status")
    before = previous_status(pk)
    if before is None and status not in (None, S.new):
        errors["status"] = _('A new problem starts as "%(status)s".', status=S.new)
    elif before is not None and status not in (None, before) and status not in ALLOWED_MOVES[before]:
        allowed = _("; ").join(str(move) for move in ALLOWED_MOVES[before]) or _("(none)")
        errors["status"] = _(
            'A problem cannot move from "%(before)s" to "%(after)s"; allowed: %(allowed)s.',
            before=before, after=status, allowed=allowed,
        )
    if status in (S.resolved, S.closed) and not (values.get("cause") or "").strip():
        errors["cause"] = _("Write the cause analysis before marking the problem resolved.")
    return errors


def apply_status_effects(item: Feedback, before: FeedbackStatus | None, now: datetime) -> bool:
    """Set or clear the resolved time for a status change; True when it became resolved."""
    if item.status == S.resolved and before != S.resolved:
        if item.resolved_at is None:
            item.resolved_at = now
        return True
    if item.status in OPEN_STATUSES:
        item.resolved_at = None
    return False


def before_save(item: Feedback, pk) -> None:
    """Apply a status change's effects; queue the reporter's notice when it became resolved."""
    history = inspect(item).attrs.status.history
    before = history.deleted[0] if history.deleted else previous_status(pk)
    if apply_status_effects(item, before, datetime.now()):
        queue_resolution_notice(item)


def after_save(item: Feedback) -> None:
    send_pending(item.id)
