"""Feedback statistics: the one place that computes service KPIs.

Everything is aggregated by the database (GROUP BY); Python only receives one
row per group. The overall figures and the status, level, engineer and month
breakdowns come from one GROUP BY over those four keys, summed up in Python;
for their medians each of those groups brings its resolution times, sorted,
and a median is picked from several sorted lists by bisecting on the value
(``_kth``). The other breakdowns are one GROUP BY each with the median as an
aggregate. The results are plain dataclasses, shared by the Excel service
report, the dashboard and the REST API.

Definitions (the same for every breakdown):

- a feedback belongs to a period by its ``created_at`` (both ends inclusive,
  whole days);
- *resolved* means it has a ``resolved_at``; resolution time runs from
  ``created_at`` to ``resolved_at`` in whole seconds, shown in hours (stored
  with the row as ``resolution_seconds``);
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
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
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
from app.services.sqlfunctions import (
    as_sorted_list,
    median,
    seconds_between,
    sorted_values,
    year_month,
)

DIMENSIONS = ("status", "level", "engineer", "customer", "city", "store", "cause")
# Breakdowns summed up from the fine groups (``_fine_groups``); the others are a GROUP BY each.
ROLLED_UP = ("status", "level", "engineer")
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


def _open_age(as_of: datetime):
    """Seconds since creation for open feedback, NULL for the rest."""
    age = seconds_between(Feedback.created_at, literal(as_of, DateTime()))
    return case((Feedback.status.in_(OPEN_STATUSES), age), else_=None)


def _aggregates(targets: dict[FeedbackLevel, int], as_of: datetime) -> list:
    seconds = Feedback.resolution_seconds
    open_age = _open_age(as_of)
    return [
        func.count().label("total"),
        func.count(seconds).label("resolved"),
        func.avg(seconds).label("avg_seconds"),
        median(seconds).label("median_seconds"),
        _count_where(seconds <= _target_seconds(targets)).label("within_target"),
        func.count(open_age).label("open"),
        func.avg(open_age).label("open_avg_age"),
        func.max(open_age).label("open_max_age"),
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


# --- The fine groups: (level, status, engineer, month), summed up in Python ---------


@dataclass
class _Fine:
    """One fine group; ``seconds`` are its resolution times, sorted."""

    level: FeedbackLevel
    status: FeedbackStatus
    engineer_id: int | None
    month: str  # YYYY-MM
    total: int
    seconds: list[int]
    within: int  # resolved within the level's target
    open_age_sum: int
    open_age_max: int | None


def _fine_groups(query: ReportQuery, as_of: datetime) -> list[_Fine]:
    """One scan: the period's feedback grouped by level, status, engineer and month."""
    month = year_month(Feedback.created_at)
    open_age = _open_age(as_of)
    statement = (
        select(
            Feedback.level,
            Feedback.status,
            Feedback.engineer_id,
            month.label("month"),
            func.count().label("total"),
            sorted_values(Feedback.resolution_seconds).label("seconds"),
            func.sum(open_age).label("open_age_sum"),
            func.max(open_age).label("open_age_max"),
        )
        .where(*_conditions(query))
        .group_by(Feedback.level, Feedback.status, Feedback.engineer_id, month)
    )
    targets = {level: hours * 3600 for level, hours in target_hours().items()}
    groups = []
    for row in db.session.execute(statement):
        seconds = as_sorted_list(row.seconds)
        groups.append(
            _Fine(
                level=row.level,
                status=row.status,
                engineer_id=row.engineer_id,
                month=row.month,
                total=int(row.total),
                seconds=seconds,
                within=bisect_right(seconds, targets[row.level]),
                open_age_sum=int(row.open_age_sum or 0),
                open_age_max=row.open_age_max,
            )
        )
    return groups


def _kth(runs: list[list[int]], k: int) -> int:
    """The ``k``-th smallest (from 0) of the values of several sorted lists.

    Bisects on the value: each step counts the values at most the middle in
    every list, so the cost grows with the number of lists, not of values.
    """
    runs = [run for run in runs if run]
    if len(runs) == 1:
        return runs[0][k]
    low, high = min(run[0] for run in runs), max(run[-1] for run in runs)
    while low < high:
        middle = (low + high) // 2
        if sum(bisect_right(run, middle) for run in runs) > k:
            high = middle
        else:
            low = middle + 1
    return low


def _median(runs: list[list[int]]) -> float | None:
    """The median of the values of sorted lists; the mean of the middle two for an even count."""
    count = sum(len(run) for run in runs)
    if not count:
        return None
    middle = count // 2
    if count % 2:
        return float(_kth(runs, middle))
    return (_kth(runs, middle - 1) + _kth(runs, middle)) / 2


def _summed(groups: Iterable[_Fine]) -> Kpis:
    """The KPIs of the feedback of several fine groups, as ``_aggregates`` gives one group's."""
    groups = list(groups)
    if not groups:
        return Kpis()
    total = sum(group.total for group in groups)
    runs = [group.seconds for group in groups]
    resolved = sum(len(run) for run in runs)
    within = sum(group.within for group in groups)
    opened = [group for group in groups if group.status in OPEN_STATUSES]
    open_count = sum(group.total for group in opened)
    ages = [group.open_age_max for group in opened if group.open_age_max is not None]
    return Kpis(
        total=total,
        resolved=resolved,
        resolution_rate=resolved / total if total else None,
        avg_hours=_hours(sum(sum(run) for run in runs) / resolved) if resolved else None,
        median_hours=_hours(_median(runs)),
        within_target=within,
        within_target_rate=within / resolved if resolved else None,
        open=open_count,
        open_avg_age_hours=(
            _hours(sum(group.open_age_sum for group in opened) / open_count) if open_count else None
        ),
        open_max_age_hours=_hours(max(ages)) if ages else None,
    )


def _grouped(groups: list[_Fine], key) -> dict[Any, list[_Fine]]:
    found: dict[Any, list[_Fine]] = {}
    for group in groups:
        found.setdefault(key(group), []).append(group)
    return found


def _rolled_up_breakdown(groups: list[_Fine], name: str) -> list[GroupRow]:
    if name in ("status", "level"):
        members = FeedbackStatus if name == "status" else FeedbackLevel
        found = _grouped(groups, lambda group: getattr(group, name))
        return [
            GroupRow(member.name, str(member.value), _summed(found.get(member, [])))
            for member in members
        ]
    found = _grouped(groups, lambda group: group.engineer_id)
    names = {
        row.id: row.first_name or row.username
        for row in db.session.execute(
            select(CrmUser.id, CrmUser.first_name, CrmUser.username).where(
                CrmUser.id.in_([key for key in found if key is not None])
            )
        )
    }
    rows = [
        GroupRow(
            key=key,
            label=names.get(key) if key is not None else _("Unassigned"),
            kpis=_summed(members),
        )
        for key, members in found.items()
    ]
    rows.sort(key=lambda row: (-row.kpis.total, row.label))
    return rows


def _monthly(query: ReportQuery, groups: list[_Fine]) -> list[MonthRow]:
    found = {month: _summed(members) for month, members in _grouped(groups, _month_of).items()}
    return [
        MonthRow(current, found.get(current.strftime("%Y-%m"), Kpis()))
        for current in _months(query, found)
    ]


def _month_of(group: _Fine) -> str:
    return group.month


def overall(query: ReportQuery, as_of: datetime | None = None) -> Kpis:
    return _summed(_fine_groups(query, as_of or datetime.now()))


def _customer_labels(keys) -> dict[int, str]:
    """ "code name" of each customer, looked up after the GROUP BY (not a join per row)."""
    return {
        row.id: f"{row.code} {row.name}"
        for row in db.session.execute(
            select(Customer.id, Customer.code, Customer.name).where(Customer.id.in_(list(keys)))
        )
    }


def breakdown(query: ReportQuery, name: str, as_of: datetime | None = None) -> list[GroupRow]:
    """KPIs per status, level, engineer, customer, city, store or cause.

    Status and level list every value (zeros included) in their natural
    order; the others list the groups present, largest first.
    """
    as_of = as_of or datetime.now()
    if name in ROLLED_UP:
        return _rolled_up_breakdown(_fine_groups(query, as_of), name)
    if name == "customer":
        key = Feedback.customer_id
    elif name in ("city", "store", "cause"):
        key = _text_key(getattr(Feedback, name))
    else:
        raise ValueError(f"unknown breakdown {name!r}")
    statement = (
        select(key.label("key"), *_aggregates(target_hours(), as_of))
        .where(*_conditions(query))
        .group_by(key)
    )
    found = {row.key: _kpis(row) for row in db.session.execute(statement)}
    if name == "customer":
        labels = _customer_labels(found)
    else:
        labels = {key: key or _("(blank)") for key in found}
    rows = [GroupRow(key=key, label=labels[key], kpis=kpis) for key, kpis in found.items()]
    rows.sort(key=lambda row: (-row.kpis.total, row.label))
    return rows


def monthly(query: ReportQuery, as_of: datetime | None = None) -> list[MonthRow]:
    """KPIs of the feedback created in each month of the period, empty months included."""
    return _monthly(query, _fine_groups(query, as_of or datetime.now()))


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
    """Everything the service report shows: the fine groups, a GROUP BY per other
    breakdown, and the backlog (six aggregate queries)."""
    as_of = as_of or datetime.now()
    groups = _fine_groups(query, as_of)
    return ServiceStatistics(
        query=query,
        as_of=as_of,
        target_hours={level.name: hours for level, hours in target_hours().items()},
        kpis=_summed(groups),
        breakdowns={
            name: (
                _rolled_up_breakdown(groups, name)
                if name in ROLLED_UP
                else breakdown(query, name, as_of)
            )
            for name in DIMENSIONS
        },
        monthly=_monthly(query, groups),
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
            func.sum(Feedback.resolution_seconds).label("seconds"),
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
    seconds = Feedback.resolution_seconds
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
