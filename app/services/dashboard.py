"""The home dashboard's figures, per role: only what the user may read is computed.

The feedback numbers come from ``app.services.statistics``, the service
report's module: ``statistics.summary`` for the trend period (the last
``TREND_MONTHS`` calendar months, this one included: the bars, the trend and
the average resolution time) and ``statistics.workload`` for the cards about
now (open, overdue, resolved this month). The user's own queue uses the desk's
rules (``app.services.feedback``); license and contract alerts come from
``app.services.licenses``. Feedback costs four queries, whatever the table size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Contract, Customer, Feedback, FeedbackLevel, License
from app.permissions import CONTRACT, CUSTOMER, FEEDBACK, FOLLOWUP, LICENSE
from app.services import feedback as desk
from app.services import followups, licenses, scope, statistics
from app.services.statistics import ReportQuery, month_start

TREND_MONTHS = 12
QUEUE_SIZE = 15
ALERT_SIZE = 10


def now() -> datetime:
    """The feedback desk's clock, so that the cards and the desk's queues agree."""
    return desk.now()


def trend_period(on: date, months: int = TREND_MONTHS) -> ReportQuery:
    """The last ``months`` calendar months up to ``on``, as a service report period."""
    return ReportQuery(month_start(on, months - 1), on)


def customer_count() -> int:
    query = select(func.count(Customer.id)).where(*scope.conditions(Customer))
    return int(db.session.scalar(query) or 0)


# --- the user's own queue -----------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    feedback: Feedback
    due_at: datetime | None
    overdue: bool


def _level_rank():
    return case(
        *[(Feedback.level == level, rank) for rank, level in enumerate(FeedbackLevel)],
        else_=len(FeedbackLevel),
    )


def queue_of(user_id: int, at: datetime, limit: int | None = None) -> tuple[int, list[QueueItem]]:
    """(count, first ``limit``) of the open feedback assigned to the user.

    Overdue first, then by level (urgent first), then oldest first.
    """
    # The open backlog is small, an engineer's history is not: "+ 0" keeps both
    # databases on the status index instead of walking all the user's rows.
    mine = and_(
        Feedback.engineer_id + 0 == user_id,
        Feedback.status.in_(desk.OPEN_STATUSES),
        *scope.conditions(Feedback),
    )
    count = int(db.session.scalar(select(func.count(Feedback.id)).where(mine)) or 0)
    overdue = desk.overdue_condition(at)
    rows = db.session.scalars(
        select(Feedback)
        .where(mine)
        .options(joinedload(Feedback.customer))
        .order_by(case((overdue, 0), else_=1), _level_rank(), Feedback.created_at, Feedback.id)
        .limit(limit or QUEUE_SIZE)
    )
    return count, [
        QueueItem(item, desk.due_at(item.created_at, item.level), desk.is_overdue(item, at))
        for item in rows
    ]


# --- follow-ups ------------------------------------------------------------------


@dataclass
class FollowUpsDue:
    """The customers of the user's data scope (a salesperson's own, a manager's team's)
    whose next follow-up is today, or was due before today."""

    today_count: int
    overdue_count: int
    customers: list[Customer]  # the first ALERT_SIZE, most overdue first


def followups_due(at: datetime) -> FollowUpsDue:
    """Three queries on the customer's own columns, whatever the number of follow-ups."""
    today, overdue = followups.due_conditions(at)
    in_scope = scope.conditions(Customer)

    def count(condition) -> int:
        return int(db.session.scalar(select(func.count(Customer.id)).where(condition, *in_scope)))

    customers = db.session.scalars(
        select(Customer)
        .where(today | overdue, *in_scope)
        .order_by(Customer.next_followup_at, Customer.id)
        .limit(ALERT_SIZE)
    ).all()
    return FollowUpsDue(count(today), count(overdue), list(customers))


# --- feedback ---------------------------------------------------------------------


@dataclass
class FeedbackFigures:
    """Everything about feedback: the trend period's ``summary``, the ``workload`` now."""

    summary: statistics.Summary
    workload: statistics.Workload
    queue_count: int = 0
    queue: list[QueueItem] = field(default_factory=list)


def feedback_figures(at: datetime, user_id: int | None = None) -> FeedbackFigures:
    figures = FeedbackFigures(
        summary=statistics.summary(trend_period(at.date())),
        workload=statistics.workload(at),
    )
    if user_id is not None:
        figures.queue_count, figures.queue = queue_of(user_id, at)
    return figures


# --- the whole page -------------------------------------------------------------


@dataclass
class Dashboard:
    """One user's dashboard; a section is ``None`` when the user may not read its data."""

    on: date
    warning_days: int
    feedback: FeedbackFigures | None = None
    licenses_expiring: int | None = None  # in the "expiring soon" state
    licenses_ending_count: int | None = None  # ending in the window, trials too
    licenses_ending: list[License] | None = None  # the first ALERT_SIZE of them
    contracts_ending_count: int | None = None
    contracts_ending: list[Contract] | None = None
    customers: int | None = None
    followups: FollowUpsDue | None = None

    @property
    def empty(self) -> bool:
        return all(
            value is None
            for value in (
                self.feedback,
                self.licenses_expiring,
                self.contracts_ending_count,
                self.customers,
                self.followups,
            )
        )


def build(
    may_read: Callable[[str], bool], user_id: int | None, at: datetime, on: date
) -> Dashboard:
    """The dashboard of a user who may read the resources ``may_read`` accepts.

    ``at`` is the clock of feedback times, ``on`` the business date of
    licenses and contracts (``licenses.today()``).
    """
    days = licenses.warning_days()
    board = Dashboard(on=on, warning_days=days)
    if may_read(FEEDBACK):
        board.feedback = feedback_figures(at, user_id)
    if may_read(LICENSE):
        board.licenses_expiring = licenses.count_expiring(on)
        board.licenses_ending_count = licenses.count_licenses_ending(on, days)
        board.licenses_ending = licenses.licenses_ending(on, days, ALERT_SIZE)
    if may_read(CONTRACT):
        board.contracts_ending_count = licenses.count_contracts_ending(on, days)
        board.contracts_ending = licenses.contracts_ending(on, days, ALERT_SIZE)
    if may_read(CUSTOMER):
        board.customers = customer_count()
    if may_read(CUSTOMER) and may_read(FOLLOWUP):
        board.followups = followups_due(followups.now())
    return board
