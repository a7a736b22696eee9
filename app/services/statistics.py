"""Feedback statistics: the one place that computes service KPIs.

Everything is aggregated by the database (GROUP BY; the median is an aggregate
too, in the same query); Python only receives one row per group. The results are plain dataclasses, shared
by the Excel service report, the dashboard and the REST API.

Definitions (the same for every breakdown):

- a feedback belongs to a period by its ``created_at`` (both ends inclusive,
  whole days);
- *resolved* means it has a ``resolved_at``; resolution time runs from
  ``created_at`` to ``resolved_at`` in whole seconds, shown in hours;
- *within target* means resolved no later than the level's target
  (``feedback.target_hours``, the desk's due times); its rate is a share of
  the resolved ones;
- *open* (the backlog) means status new or in progress; its age runs from
  ``created_at`` to ``as_of`` (by default now);
- *overdue* means open and past the level's target (the desk's rule);
  ``workload`` counts open and overdue feedback whenever created, and what
  was resolved in a calendar month by ``resolved_at``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    DateTime,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import CrmUser, Customer, Feedback, FeedbackLevel, FeedbackStatus, Product, Reporter
from app.services import scope
from app.services.feedback import OPEN_STATUSES, overdue_condition, target_hours
from app.services.sqlfunctions import median, seconds_between, year_month

DIMENSIONS = ("status", "level", "engineer", "customer", "city", "store", "cause")
MAX_TREND_MONTHS = 240  # longer periods list only the months between the first and last feedback
# The backlog's age groups: each bound is where a group ends, in days.
BACKLOG_AGE_BOUNDS_DAYS = (1, 3, 7, 30)


# --- What is asked ------------------------------------------------------------------


class QueryInvalid(ValueError):
    """The request's period or customer is unusable; ``errors`` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class ReportQuery:
    """A period of created dates (inclusive) and optionally one customer."""

    start: date
    end: date
    customer_id: int | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min)

    @property
    def before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min)

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> ReportQuery:
        """Read ``from``, ``to`` (YYYY-MM-DD) and ``customer_id``; raise QueryInvalid."""
        errors: dict[str, str] = {}
        start = _parse_date(args.get("from"), "from", errors)
        end = _parse_date(args.get("to"), "to", errors)
        if start and end and start > end:
            errors["to"] = _("The end date must not be before the start date.")
        customer_id = None
        raw = (args.get("customer_id") or "").strip()
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                errors["customer_id"] = _("The customer must be chosen from the list.")
            else:
                customer_id = int(raw)
                if scope.get_visible(Customer, customer_id) is None:
                    errors["customer_id"] = _("There is no customer with ID %(id)s.", id=raw)
        if errors:
            raise QueryInvalid(errors)
        return cls(start, end, customer_id)


def _parse_date(raw: Any, name: str, errors: dict[str, str]) -> date | None:
    label = _("Start date") if name == "from" else _("End date")
    raw = (raw or "").strip()
    if not raw:
        errors[name] = _("%(field)s is required.", field=label)
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("%(field)s must be a date such as 2026-01-31.", field=label)
        return None
    if not 1900 <= value.year <= 9998:
        errors[name] = _("%(field)s must be a date such as 2026-01-31.", field=label)
        return None
    return value


# --- Results ------------------------------------------------------------------------


@dataclass
class Kpis:
    """The KPIs of one group of feedback; hours are floats, rates 0..1 or None."""

    total: int = 0
    resolved: int = 0
    resolution_rate: float | None = None
    avg_hours: float | None = None
    median_hours: float | None = None
    within_target: int = 0
    within_target_rate: float | None = None
    open: int = 0
    open_avg_age_hours: float | None = None
    open_max_age_hours: float | None = None


@dataclass
class GroupRow:
    """One group of a breakdown: a stable ``key`` (code or id) and its display label."""

    key: Any
    label: str
    kpis: Kpis


@dataclass
class MonthRow:
    month: date  # the first day of the month
    kpis: Kpis


@dataclass
class AgeGroup:
    """Open feedback whose age is at least ``min_days`` and under ``max_days`` (None: no end)."""

    min_days: int
    max_days: int | None
    label: str
    total: int = 0
    by_level: dict[str, int] = field(default_factory=dict)  # level code -> count


@dataclass
class ServiceStatistics:
    query: ReportQuery
    as_of: datetime
    target_hours: dict[str, int]
    kpis: Kpis
    breakdowns: dict[str, list[GroupRow]] = field(default_factory=dict)
    monthly: list[MonthRow] = field(default_factory=list)
    backlog: list[AgeGroup] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# --- Queries ------------------------------------------------------------------------


def _conditions(query: ReportQuery) -> list:
    """The report's rows: its period, its customer, the reader's data scope."""
    conditions = [
        Feedback.created_at >= query.since,
        Feedback.created_at < query.before,
        *scope.conditions(Feedback),
    ]
    if query.customer_id is not None:
        conditions.append(Feedback.customer_id == query.customer_id)
    return conditions


def _resolution_seconds():
    return seconds_between(Feedback.created_at, Feedback.resolved_at)


def _target_seconds(targets: dict[FeedbackLevel, int]):
    return case(
        *[(Feedback.level == level, hours * 3600) for level, hours in targets.items()],
        else_=None,
    )


def _text_key(column):
    """Blank and missing text group together as NULL."""
    return func.nullif(func.trim(column), literal_column("''"))


def _count_where(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _aggregates(targets: dict[FeedbackLevel, int], as_of: datetime) -> list:
    seconds = _resolution_seconds()
    is_open = Feedback.status.in_(OPEN_STATUSES)
    age = seconds_between(Feedback.created_at, literal(as_of, DateTime()))
    within = and_(seconds.is_not(None), seconds <= _target_seconds(targets))
    return [
        func.count().label("total"),
        func.count(Feedback.resolved_at).label("resolved"),
        func.avg(seconds).label("avg_seconds"),
        median(seconds).label("median_seconds"),
        _count_where(within).label("within_target"),
        _count_where(is_open).label("open"),
        func.avg(case((is_open, age), else_=None)).label("open_avg_age"),
        func.max(case((is_open, age), else_=None)).label("open_max_age"),
    ]


def _kpis(row) -> Kpis:
    total, resolved = int(row.total or 0), int(row.resolved or 0)
    within = int(row.within_target or 0)
    return Kpis(
        total=total,
        resolved=resolved,
        resolution_rate=resolved / total if total else None,
        avg_hours=_hours(row.avg_seconds),
        median_hours=_hours(row.median_seconds),
        within_target=within,
        within_target_rate=within / resolved if resolved else None,
        open=int(row.open or 0),
        open_avg_age_hours=_hours(row.open_avg_age),
        open_max_age_hours=_hours(row.open_max_age),
    )


def _hours(seconds) -> float | None:
    return None if seconds is None else float(seconds) / 3600


def overall(query: ReportQuery, as_of: datetime | None = None) -> Kpis:
    as_of = as_of or datetime.now()
    row = db.session.execute(
        select(*_aggregates(target_hours(), as_of)).where(*_conditions(query))
    ).one()
    return _kpis(row)


def _dimension(name: str):
    """(grouping key, extra label columns, joins, labeller) of a breakdown."""
    if name == "status":
        return Feedback.status, [], [], lambda key, _row: str(key.value)
    if name == "level":
        return Feedback.level, [], [], lambda key, _row: str(key.value)
    if name == "engineer":
        return (
            Feedback.engineer_id,
            [CrmUser.first_name, CrmUser.username],
            [(CrmUser, CrmUser.id == Feedback.engineer_id)],
            lambda key, row: (
                (row.first_name or row.username) if key is not None else _("Unassigned")
            ),
        )
    if name == "customer":
        return (
            Feedback.customer_id,
            [Customer.code, Customer.name],
            [(Customer, Customer.id == Feedback.customer_id)],
            lambda key, row: f"{row.code} {row.name}",
        )
    if name in ("city", "store", "cause"):
        return _text_key(getattr(Feedback, name)), [], [], lambda key, _row: key or _("(blank)")
    raise ValueError(f"unknown breakdown {name!r}")


def breakdown(query: ReportQuery, name: str, as_of: datetime | None = None) -> list[GroupRow]:
    """KPIs per status, level, engineer, customer, city, store or cause.

    Status and level list every value (zeros included) in their natural
    order; the others list the groups present, largest first.
    """
    as_of = as_of or datetime.now()
    key, label_columns, joins, labeller = _dimension(name)
    statement = select(key.label("key"), *label_columns, *_aggregates(target_hours(), as_of))
    statement = statement.select_from(Feedback)
    for target, on in joins:
        statement = statement.outerjoin(target, on)
    statement = statement.where(*_conditions(query)).group_by(key, *label_columns)
    rows = [
        GroupRow(key=_stable(row.key), label=labeller(row.key, row), kpis=_kpis(row))
        for row in db.session.execute(statement)
    ]
    if name in ("status", "level"):
        enum_class = FeedbackStatus if name == "status" else FeedbackLevel
        present = {row.key: row for row in rows}
        return [
            present.get(member.name) or GroupRow(member.name, str(member.value), Kpis())
            for member in enum_class
        ]
    rows.sort(key=lambda row: (-row.kpis.total, row.label))
    return rows


def _stable(key):
    """Enumeration members become their stored code, for the API and the dashboard."""
    return key.name if isinstance(key, (FeedbackStatus, FeedbackLevel)) else key


def monthly(query: ReportQuery, as_of: datetime | None = None) -> list[MonthRow]:
    """KPIs of the feedback created in each month of the period, empty months included."""
    as_of = as_of or datetime.now()
    month = year_month(Feedback.created_at)
    statement = (
        select(month.label("key"), *_aggregates(target_hours(), as_of))
        .where(*_conditions(query))
        .group_by(month)
    )
    found = {row.key: _kpis(row) for row in db.session.execute(statement)}
    return [
        MonthRow(current, found.get(current.strftime("%Y-%m"), Kpis()))
        for current in _months(query, found)
    ]


def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month ``months_back`` months before ``day``'s (negative: after)."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _months(query: ReportQuery, present) -> list[date]:
    """The first days of the period's months; ``present`` holds the 'YYYY-MM' that have feedback."""
    first, last = month_start(query.start), month_start(query.end)
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_TREND_MONTHS:
        # A period of centuries: only the span that has feedback, not 1 000 empty months.
        if not present:
            return []
        first = max(first, date.fromisoformat(min(present) + "-01"))
        last = min(last, date.fromisoformat(max(present) + "-01"))
    months = []
    while first <= last:
        months.append(first)
        first = month_start(first, -1)
    return months


def _age_label(low: int, high: int | None) -> str:
    if low == 0:
        return _("Under %(days)s days", days=high) if high != 1 else _("Under 1 day")
    if high is None:
        return _("%(days)s days or more", days=low)
    return _("%(low)s to %(high)s days", low=low, high=high)


def backlog_ages(query: ReportQuery, as_of: datetime | None = None) -> list[AgeGroup]:
    """The period's open feedback by age group and level, every group listed (zeros too).

    The age group is a CASE over the age in seconds, grouped in an outer query
    so the statement stays portable (PostgreSQL does not match a bound
    parameter in the select list with one in GROUP BY).
    """
    as_of = as_of or datetime.now()
    bounds = BACKLOG_AGE_BOUNDS_DAYS
    age = seconds_between(Feedback.created_at, literal(as_of, DateTime()))
    group = case(
        *[
            (age < literal_column(str(int(days) * 86400)), index)
            for index, days in enumerate(bounds)
        ],
        else_=len(bounds),
    )
    aged = (
        select(group.label("age_group"), Feedback.level.label("level"))
        .where(*_conditions(query), Feedback.status.in_(OPEN_STATUSES))
        .subquery()
    )
    counts = select(aged.c.age_group, aged.c.level, func.count()).group_by(
        aged.c.age_group, aged.c.level
    )
    edges = (0, *bounds, None)
    groups = [
        AgeGroup(
            low, high, _age_label(low, high), by_level={member.name: 0 for member in FeedbackLevel}
        )
        for low, high in itertools.pairwise(edges)
    ]
    for index, level, count in db.session.execute(counts):
        target = groups[int(index)]
        code = level.name if isinstance(level, FeedbackLevel) else str(level)
        target.by_level[code] = target.by_level.get(code, 0) + int(count)
        target.total += int(count)
    return groups


def service_statistics(query: ReportQuery, as_of: datetime | None = None) -> ServiceStatistics:
    """Everything the service report shows, from a handful of aggregate queries."""
    as_of = as_of or datetime.now()
    return ServiceStatistics(
        query=query,
        as_of=as_of,
        target_hours={level.name: hours for level, hours in target_hours().items()},
        kpis=overall(query, as_of),
        breakdowns={name: breakdown(query, name, as_of) for name in DIMENSIONS},
        monthly=monthly(query, as_of),
        backlog=backlog_ages(query, as_of),
    )


# --- Light figures, for the dashboard shown after every sign-in ---------------------


@dataclass(frozen=True)
class Count:
    """Feedback of one status or level; ``key`` is its code, as ``GroupRow.key``."""

    key: str
    label: str
    value: int


@dataclass(frozen=True)
class MonthCount:
    """Feedback created in ``month`` (its first day), and how many of those are resolved."""

    month: date
    created: int
    resolved: int


@dataclass
class Summary:
    """The period's volumes: ``overall``'s total, resolved and average hours,
    ``breakdown``'s status and level totals and ``monthly``'s totals, without
    the medians and per-group KPIs that make those slow on a large table."""

    query: ReportQuery
    total: int = 0
    resolved: int = 0
    avg_hours: float | None = None
    by_status: list[Count] = field(default_factory=list)
    by_level: list[Count] = field(default_factory=list)
    monthly: list[MonthCount] = field(default_factory=list)


def summary(query: ReportQuery) -> Summary:
    """The period's volumes from one GROUP BY (status, level, month).

    Status and level list every value in their natural order, zeros included,
    and the months are those ``monthly`` lists.
    """
    month = year_month(Feedback.created_at)
    rows = db.session.execute(
        select(
            Feedback.status,
            Feedback.level,
            month.label("month"),
            func.count().label("total"),
            func.count(Feedback.resolved_at).label("resolved"),
            func.sum(_resolution_seconds()).label("seconds"),
        )
        .where(*_conditions(query))
        .group_by(Feedback.status, Feedback.level, month)
    ).all()
    statuses = dict.fromkeys(FeedbackStatus, 0)
    levels = dict.fromkeys(FeedbackLevel, 0)
    months: dict[str, tuple[int, int]] = {}
    seconds = 0
    for row in rows:
        statuses[row.status] += row.total
        levels[row.level] += row.total
        created, resolved = months.get(row.month, (0, 0))
        months[row.month] = (created + row.total, resolved + row.resolved)
        seconds += int(row.seconds or 0)
    total = sum(statuses.values())
    resolved = sum(done for _created, done in months.values())
    return Summary(
        query=query,
        total=total,
        resolved=resolved,
        avg_hours=_hours(seconds / resolved) if resolved else None,
        by_status=[Count(member.name, str(member.value), n) for member, n in statuses.items()],
        by_level=[Count(member.name, str(member.value), n) for member, n in levels.items()],
        monthly=[
            MonthCount(current, *months.get(current.strftime("%Y-%m"), (0, 0)))
            for current in _months(query, months)
        ],
    )


@dataclass(frozen=True)
class Workload:
    """The desk at a moment: the backlog (whenever created), how much of it is
    past its target, and how much was resolved in that calendar month."""

    open: int
    overdue: int
    resolved_this_month: int


def workload(at: datetime) -> Workload:
    """``Workload`` at ``at``, in one query over the open and this month's resolved rows."""
    start = datetime.combine(month_start(at.date()), time.min)
    following = datetime.combine(month_start(at.date(), -1), time.min)
    is_open = Feedback.status.in_(OPEN_STATUSES)
    resolved = and_(Feedback.resolved_at >= start, Feedback.resolved_at < following)
    row = db.session.execute(
        select(
            _count_where(is_open), _count_where(overdue_condition(at)), _count_where(resolved)
        ).where(or_(is_open, resolved), *scope.conditions(Feedback))
    ).one()
    return Workload(*(int(value or 0) for value in row))


# --- Detail rows (streamed, for the report's detail sheet) --------------------------

DETAIL_COLUMNS = (
    ("id", _l("ID")),
    ("created_at", _l("Created at")),
    ("resolved_at", _l("Resolved at")),
    ("hours", _l("Resolution time (hours)")),
    ("within_target", _l("Within target")),
    ("customer_code", _l("Customer code")),
    ("customer_name", _l("Company name")),
    ("reporter", _l("Reporter")),
    ("store", _l("Store")),
    ("city", _l("City")),
    ("product", _l("Product")),
    ("level", _l("Level")),
    ("status", _l("Problem status")),
    ("engineer", _l("Tracking engineer")),
    ("problem", _l("Problem")),
    ("cause", _l("Cause analysis")),
)


def detail_rows(query: ReportQuery, limit: int | None = None, batch: int = 2000) -> Iterator[tuple]:
    """The period's feedback as tuples in ``DETAIL_COLUMNS`` order, oldest first, streamed."""
    targets = target_hours()
    seconds = _resolution_seconds()
    engineer = aliased(CrmUser)
    statement = (
        select(
            Feedback.id,
            Feedback.created_at,
            Feedback.resolved_at,
            seconds,
            seconds <= _target_seconds(targets),
            Customer.code,
            Customer.name,
            Reporter.name,
            Feedback.store,
            Feedback.city,
            Product.name,
            Feedback.level,
            Feedback.status,
            func.coalesce(engineer.first_name, engineer.username),
            Feedback.problem,
            Feedback.cause,
        )
        .select_from(Feedback)
        .join(Customer, Customer.id == Feedback.customer_id)
        .outerjoin(Reporter, Reporter.id == Feedback.reporter_id)
        .outerjoin(Product, Product.id == Feedback.product_id)
        .outerjoin(engineer, engineer.id == Feedback.engineer_id)
        .where(*_conditions(query))
        .order_by(Feedback.created_at, Feedback.id)
        .execution_options(yield_per=batch)
    )
    if limit is not None:
        statement = statement.limit(limit)
    yes, no = _("Yes"), _("No")
    labels = {member: str(member.value) for member in (*FeedbackLevel, *FeedbackStatus)}
    for row in db.session.execute(statement):
        (
            pk,
            created,
            resolved,
            secs,
            within,
            code,
            name,
            reporter,
            store,
            city,
            product,
            level,
            status,
            engineer_name,
            problem,
            cause,
        ) = row
        yield (
            pk,
            created,
            resolved,
            None if secs is None else secs / 3600,
            None if within is None else (yes if within else no),
            code,
            name,
            reporter,
            store,
            city,
            product,
            labels.get(level),
            labels.get(status),
            engineer_name,
            problem,
            cause,
        )
