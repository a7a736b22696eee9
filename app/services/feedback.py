"""The support desk's rules for feedback: life cycle, service targets, overdue.

Statuses move new → in_progress → resolved → closed, and resolved →
in_progress to reopen. Each level has a target time to resolution (config
``FEEDBACK_TARGET_HOURS``); an open problem past its target is overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, false, func, inspect, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import CrmUser, Feedback, FeedbackLevel, FeedbackStatus
from app.models.base import LabeledEnum
from app.permissions import EDIT, FEEDBACK, permission_name
from app.services.notifications import queue_resolution_notice, send_pending
from app.services.querying import is_key, keys_in
from app.services.record_rules import RecordForbidden, check_feedback_editable

S = FeedbackStatus
ALLOWED_MOVES = {
    S.new: {S.in_progress},
    S.in_progress: {S.resolved},
    S.resolved: {S.closed, S.in_progress},
    S.closed: set(),
}
OPEN_STATUSES = (S.new, S.in_progress)
DEFAULT_TARGET_HOURS = {"urgent": 4, "high": 24, "medium": 72, "low": 168}


def now() -> datetime:
    """The desk's clock (naive local time, like ``created_at``); tests freeze it here."""
    return datetime.now()


def target_hours() -> dict[FeedbackLevel, int]:
    """The target per level: the desk's due times and the service report's KPI both use it.

    ``FEEDBACK_TARGET_HOURS`` may name only some levels; the others keep their default.
    """
    configured = current_app.config.get("FEEDBACK_TARGET_HOURS") or {}
    return {
        level: int(configured.get(level.name, DEFAULT_TARGET_HOURS[level.name]))
        for level in FeedbackLevel
    }


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
    elif (
        before is not None and status not in (None, before) and status not in ALLOWED_MOVES[before]
    ):
        allowed = _("; ").join(str(move) for move in ALLOWED_MOVES[before]) or _("(none)")
        errors["status"] = _(
            'A problem cannot move from "%(before)s" to "%(after)s"; allowed: %(allowed)s.',
            before=before,
            after=status,
            allowed=allowed,
        )
    if status in (S.resolved, S.closed) and not (values.get("cause") or "").strip():
        errors["cause"] = _("Write the cause analysis before marking the problem resolved.")
    return errors


def apply_status_effects(item: Feedback, before: FeedbackStatus | None, now: datetime) -> bool:
    """Set or clear the resolved time for a status change; True when it became resolved."""
    if item.status == S.resolved and before != S.resolved:
        if item.resolved_at is None:
            # A problem typed in with a future creation time is never resolved before it.
            item.resolved_at = max(now, item.created_at) if item.created_at else now
        return True
    if item.status in OPEN_STATUSES:
        item.resolved_at = None
    return False


def before_save(item: Feedback, pk) -> None:
    """Apply a status change's effects; queue the reporter's notice when it became resolved."""
    history = inspect(item).attrs.status.history
    before = history.deleted[0] if history.deleted else previous_status(pk)
    if apply_status_effects(item, before, now()):
        queue_resolution_notice(item)


def after_save(item: Feedback) -> None:
    """After the commit: the queued e-mails go out on a background thread."""
    if item.id is not None:
        send_pending(item.id)


class LifeCycleHooks:
    """The life cycle on Flask-AppBuilder's save hooks, for the feedback page and its API.

    The record rules refuse a forbidden move first (the base classes' pre_add and
    pre_update); then the move's effects, and the reporter's notice, sent once the
    change is committed.
    """

    def pre_add(self, item):
        super().pre_add(item)
        before_save(item, None)

    def pre_update(self, item):
        super().pre_update(item)
        before_save(item, item.id)

    def post_add(self, item):
        super().post_add(item)
        after_save(item)

    def post_update(self, item):
        super().post_update(item)
        after_save(item)


# --- the desk's queues --------------------------------------------------------


class FeedbackQueue(LabeledEnum):
    """The list's quick filters; several at once narrow the list further."""

    mine = _l("Mine")
    overdue = _l("Overdue")
    unassigned = _l("Unassigned")
    open = _l("Not closed")


def parse_queue(code) -> FeedbackQueue | None:
    if isinstance(code, FeedbackQueue):
        return code
    try:
        return FeedbackQueue[str(code).strip()]
    except KeyError:
        return None


def queue_condition(queue: FeedbackQueue | None, user_id, at: datetime):
    """SQL for one queue; an unknown queue (or "mine" without a user) matches nothing."""
    if queue is FeedbackQueue.mine:
        return Feedback.engineer_id == user_id if user_id is not None else false()
    if queue is FeedbackQueue.overdue:
        return overdue_condition(at)
    if queue is FeedbackQueue.unassigned:
        return Feedback.engineer_id.is_(None)
    if queue is FeedbackQueue.open:
        return Feedback.status.in_(OPEN_STATUSES)
    return false()


def open_counts_by_level(at: datetime, customer_id=None, reporter_id=None) -> list[dict]:
    """Open problems (and how many are overdue) per level, in level order: one GROUP BY."""
    overdue = case((overdue_condition(at), 1), else_=0)
    query = (
        select(Feedback.level, func.count(Feedback.id), func.coalesce(func.sum(overdue), 0))
        .where(Feedback.status.in_(OPEN_STATUSES))
        .group_by(Feedback.level)
    )
    if customer_id is not None:
        query = query.where(Feedback.customer_id == customer_id)
    if reporter_id is not None:
        query = query.where(Feedback.reporter_id == reporter_id)
    found = {level: (count, late) for level, count, late in db.session.execute(query)}
    return [
        {
            "level": level,
            "open": int(found.get(level, (0, 0))[0]),
            "overdue": int(found.get(level, (0, 0))[1]),
        }
        for level in FeedbackLevel
    ]


def open_problems(reporter_id: int, limit: int = 50) -> list[Feedback]:
    """A reporter's open problems, oldest first (the ones to chase)."""
    return list(
        db.session.scalars(
            select(Feedback)
            .options(joinedload(Feedback.engineer))
            .where(Feedback.reporter_id == reporter_id, Feedback.status.in_(OPEN_STATUSES))
            .order_by(Feedback.created_at, Feedback.id)
            .limit(limit)
        )
    )


# --- assigning the tracking engineer ----------------------------------------


def assignable_engineers() -> list[CrmUser]:
    """Active users whose roles may edit feedback: who can take a problem on."""
    config = current_app.config
    editing_roles = (
        select(Role.id)
        .join(Role.permissions)
        .join(PermissionView.permission)
        .join(PermissionView.view_menu)
        .where(Permission.name == permission_name(EDIT), ViewMenu.name == FEEDBACK)
    )
    query = (
        select(CrmUser)
        .where(
            CrmUser.active.is_(True),
            CrmUser.roles.any(
                or_(Role.id.in_(editing_roles), Role.name == config["AUTH_ROLE_ADMIN"])
            ),
        )
        .order_by(CrmUser.first_name, CrmUser.username)
    )
    return list(db.session.scalars(query))


class AssignRefused(Exception):
    """Nothing was assigned; ``str()`` is the user's message."""


MAX_ASSIGN = 100  # rows one assignment may change


def feedback_to_assign(ids) -> list[Feedback]:
    """The problems ``ids`` (keys, or comma-separated lists of them), at most ``MAX_ASSIGN``."""
    keys = keys_in(ids)[:MAX_ASSIGN]
    if not keys:
        return []
    query = (
        select(Feedback)
        .options(joinedload(Feedback.engineer))
        .where(Feedback.id.in_(keys))
        .order_by(Feedback.id)
    )
    return list(db.session.scalars(query))


def reassign_refusals(user, items: list[Feedback]) -> list[str]:
    """Why ``user`` may not reassign some of ``items`` (one message each)."""
    refusals = []
    for item in items:
        try:
            check_feedback_editable(user, item, reassigning=True)
        except RecordForbidden as refusal:
            refusals.append(str(refusal))
    return refusals


def assign(items: list[Feedback], engineer, user) -> CrmUser | None:
    """Make ``engineer`` (a user key as sent; blank: nobody) the tracking engineer of
    every item, or refuse all, and commit.

    The record rule applies: an engineer reassigns only the problems assigned
    to them. Raises ``RecordForbidden`` or ``AssignRefused``; nothing is then saved.
    """
    if not items:
        raise AssignRefused(_("Choose at least one problem to assign."))
    refusals = reassign_refusals(user, items)
    if refusals:
        raise RecordForbidden(refusals[0])
    chosen = None
    wanted = str(engineer if engineer is not None else "").strip()
    if wanted:
        chosen = next(
            (u for u in assignable_engineers() if is_key(wanted) and u.id == int(wanted)), None
        )
        if chosen is None:
            raise AssignRefused(
                _("Choose an active user who may work on feedback as the tracking engineer.")
            )
    try:
        for item in items:
            item.engineer = chosen
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return chosen
