"""The home dashboard's figures, per role: only what the user may read is computed.

Feedback figures cover the trend period (the last ``TREND_MONTHS`` calendar
months, this one included) under the service report's definitions, so they
equal ``app.services.statistics``' for the same dates (tests/test_dashboard.py
checks it). They are not obtained by calling ``statistics.breakdown`` and
``statistics.monthly``: those compute every KPI and a median per group, several
seconds per call at 100 000 rows on SQLite, for a page shown after every
sign-in. One GROUP BY (status, level, month) here gives the bars, the trend
and the average, with statistics' own SQL pieces (``seconds_between``,
``year_month``, ``ReportQuery``, ``OPEN_STATUSES``). The counts the report has
no notion of (the backlog and the overdue problems now, what was resolved this
calendar month, the user's own queue) use ``feedback.overdue_condition``.
License and contract alerts come from ``app.services.licenses``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Contract, Customer, Feedback, FeedbackLevel, FeedbackStatus, License
from app.permissions import CONTRACT, CUSTOMER, FEEDBACK, LICENSE
from app.services import feedback as desk
from app.services import licenses, statistics
from app.services.feedback import due_at, overdue_condition
from app.services.statistics import ReportQuery

TREND_MONTHS = 12
QUEUE_SIZE = 15
ALERT_SIZE = 10


def now() -> datetime:
    """The feedback desk's clock, so that the cards and the desk's queues agree."""
    return desk.now()


# --- periods ----------------------------------------------------------------

def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month ``months_back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def trend_period(on: date, months: int = TREND_MONTHS) -> ReportQuery:
    """The last ``months`` calendar months up to ``on``, as a service report period."""
    return ReportQuery(month_start(on, months - 1), on)


# --- counts the service report does not have --------------------------------

def open_count() -> int:
    """Feedback new or in progress, whenever it was created: the backlog."""
    return int(db.session.scalar(
        select(func.count(Feedback.id)).where(Feedback.status.in_(statistics.OPEN_STATUSES))
    ) or 0)


def overdue_count(at: datetime) -> int:
    """Open feedback past its level's target time at ``at``."""
    return int(db.session.scalar(
        select(func.count(Feedback.id)).where(overdue_condition(at))
    ) or 0)


def resolved_count(start: datetime, before: datetime) -> int:
    """Feedback whose resolution time falls in [start, before)."""
    return int(db.session.scalar(
        select(func.count(Feedback.id)).where(
            Feedback.resolved_at >= start, Feedback.resolved_at < before
        )
    ) or 0)


def resolved_this_month(at: datetime) -> int:
    start = month_start(at.date())
    following = month_start(start + timedelta(days=31))
    return resolved_count(datetime.combine(start, datetime.min.time()),
                          datetime.combine(following, datetime.min.time()))


def customer_count() -> int:
    return int(db.session.scalar(select(func.count(Customer.id))) or 0)


# --- the user's own queue -----------------------------------------------------

@dataclass(frozen=True)
class QueueItem:
    feedback: Feedback
    due_at: datetime | None
    overdue: bool


def _level_rank():
    return case(*[(Feedback.level == level, rank) for rank, level in enumerate(FeedbackLevel)],
                else_=len(FeedbackLevel))


def queue_of(user_id: int, at: datetime, limit: int | None = None) -> tuple[int, list[QueueItem]]:
    """(count, first ``limit``) of the open feedback assigned to the user.

    Overdue first, then by level (urgent first), then oldest first.
    """
    # The open backlog is small, an engineer's history is not: "+ 0" keeps both
    # databases on the status index instead of walking all the user's rows.
    mine = and_(Feedback.engineer_id + 0 == user_id, Feedback.status.in_(statistics.OPEN_STATUSES))
    count = int(db.session.scalar(select(func.count(Feedback.id)).where(mine)) or 0)
    overdue = overdue_condition(at)
    rows = db.session.scalars(
        select(Feedback)
        .where(mine)
        .options(joinedload(Feedback.customer))
        .order_by(case((overdue, 0), else_=1), _level_rank(), Feedback.created_at, Feedback.id)
        .limit(limit or QUEUE_SIZE)
    )
    items = []
    for item in rows:
        due = due_at(item.created_at, item.level)
        items.append(QueueItem(item, due, due is not None and at > due))
    return count, items


# --- feedback of the trend period ------------------------------------------------

@dataclass(frozen=True)
class Bar:
    """One bar: ``key`` is the stored code (``statistics.GroupRow.key``), ``label`` its name."""

    key: str
    label: str
    value: int


@dataclass(frozen=True)
class TrendPoint:
    """Feedback created in ``month`` (its first day), and how many of those are resolved."""

    month: date
    created: int
    resolved: int


@dataclass
class FeedbackFigures:
    """Everything about feedback; ``period`` is the trend's service-report period."""

    period: ReportQuery
    open: int = 0
    overdue: int = 0
    resolved_this_month: int = 0
    avg_hours: float | None = None
    by_status: list[Bar] = field(default_factory=list)
    by_level: list[Bar] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    queue_count: int = 0
    queue: list[QueueItem] = field(default_factory=list)


def period_summary(period: ReportQuery) -> tuple[list[Bar], list[Bar], list[TrendPoint], float | None]:
    """(by status, by level, by month, average resolution hours) of the feedback
    created in ``period``, from one aggregate query.

    Status and level list every value in their natural order, zeros included,
    and the trend every month of the period, as ``statistics`` does.
    """
    month = statistics.year_month(Feedback.created_at)
    seconds = statistics.seconds_between(Feedback.created_at, Feedback.resolved_at)
    rows = db.session.execute(
        select(
            Feedback.status, Feedback.level, month.label("month"),
            func.count().label("total"),
            func.count(Feedback.resolved_at).label("resolved"),
            func.sum(seconds).label("seconds"),
        )
        .where(Feedback.created_at >= period.since, Feedback.created_at < period.before)
        .group_by(Feedback.status, Feedback.level, month)
    ).all()
    statuses = {member: 0 for member in FeedbackStatus}
    levels = {member: 0 for member in FeedbackLevel}
    created: dict[str, int] = {}
    resolved: dict[str, int] = {}
    resolved_total = seconds_total = 0
    for row in rows:
        statuses[row.status] += row.total
        levels[row.level] += row.total
        created[row.month] = created.get(row.month, 0) + row.total
        resolved[row.month] = resolved.get(row.month, 0) + row.resolved
        resolved_total += row.resolved
        seconds_total += int(row.seconds or 0)
    trend = []
    current, last = month_start(period.start), month_start(period.end)
    while current <= last:
        key = current.strftime("%Y-%m")
        trend.append(TrendPoint(current, created.get(key, 0), resolved.get(key, 0)))
        current = month_start(current + timedelta(days=31))
    return (
        [Bar(member.name, str(member.value), count) for member, count in statuses.items()],
        [Bar(member.name, str(member.value), count) for member, count in levels.items()],
        trend,
        seconds_total / resolved_total / 3600 if resolved_total else None,
    )


def feedback_figures(at: datetime, user_id: int | None = None) -> FeedbackFigures:
    period = trend_period(at.date())
    figures = FeedbackFigures(
        period=period,
        open=open_count(),
        overdue=overdue_count(at),
        resolved_this_month=resolved_this_month(at),
    )
    figures.by_status, figures.by_level, figures.trend, figures.avg_hours = period_summary(period)
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

    @property
    def empty(self) -> bool:
        return all(value is None for value in (
            self.feedback, self.licenses_expiring, self.contracts_ending_count, self.customers,
        ))


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
    return board
