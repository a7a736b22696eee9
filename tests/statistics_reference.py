"""The service statistics as they were computed before issue 17, kept as the reference.

Straightforward SQL: one statement per breakdown, the resolution time worked
out from the two timestamps on every row, the median as an aggregate.
``tests/test_statistics_equivalence.py`` checks that the fast statistics give
the same numbers, and ``bench/stats_bench.py --reference`` times both.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import DateTime, and_, case, func, literal, select

from app.extensions import db
from app.models import CrmUser, Customer, Feedback, FeedbackLevel, FeedbackStatus
from app.services.feedback import OPEN_STATUSES, target_hours
from app.services.sqlfunctions import median, seconds_between, year_month
from app.services.statistics import (
    DIMENSIONS,
    GroupRow,
    Kpis,
    MonthRow,
    ReportQuery,
    _conditions,
    _count_where,
    _kpis,
    _months,
    _text_key,
)


def _aggregates(as_of: datetime) -> list:
    seconds = seconds_between(Feedback.created_at, Feedback.resolved_at)
    target = case(
        *[(Feedback.level == level, hours * 3600) for level, hours in target_hours().items()],
        else_=None,
    )
    is_open = Feedback.status.in_(OPEN_STATUSES)
    age = seconds_between(Feedback.created_at, literal(as_of, DateTime()))
    return [
        func.count().label("total"),
        func.count(Feedback.resolved_at).label("resolved"),
        func.avg(seconds).label("avg_seconds"),
        median(seconds).label("median_seconds"),
        _count_where(and_(seconds.is_not(None), seconds <= target)).label("within_target"),
        _count_where(is_open).label("open"),
        func.avg(case((is_open, age), else_=None)).label("open_avg_age"),
        func.max(case((is_open, age), else_=None)).label("open_max_age"),
    ]


def overall(query: ReportQuery, as_of: datetime) -> Kpis:
    statement = select(*_aggregates(as_of)).where(*_conditions(query))
    return _kpis(db.session.execute(statement).one())


def breakdown(query: ReportQuery, name: str, as_of: datetime) -> list[GroupRow]:
    label_columns, joins = [], []
    if name in ("status", "level"):
        key = getattr(Feedback, name)
    elif name == "engineer":
        key, label_columns = Feedback.engineer_id, [CrmUser.first_name, CrmUser.username]
        joins = [(CrmUser, CrmUser.id == Feedback.engineer_id)]
    elif name == "customer":
        key, label_columns = Feedback.customer_id, [Customer.code, Customer.name]
        joins = [(Customer, Customer.id == Feedback.customer_id)]
    else:
        key = _text_key(getattr(Feedback, name))
    statement = select(key.label("key"), *label_columns, *_aggregates(as_of)).select_from(Feedback)
    for target, on in joins:
        statement = statement.outerjoin(target, on)
    statement = statement.where(*_conditions(query)).group_by(key, *label_columns)
    rows = []
    for row in db.session.execute(statement):
        if name in ("status", "level"):
            key_value, label = row.key.name, str(row.key.value)
        elif name == "engineer":
            key_value = row.key
            label = (row.first_name or row.username) if row.key is not None else _("Unassigned")
        elif name == "customer":
            key_value, label = row.key, f"{row.code} {row.name}"
        else:
            key_value, label = row.key, row.key or _("(blank)")
        rows.append(GroupRow(key_value, label, _kpis(row)))
    if name in ("status", "level"):
        present = {row.key: row for row in rows}
        members = FeedbackStatus if name == "status" else FeedbackLevel
        return [
            present.get(member.name) or GroupRow(member.name, str(member.value), Kpis())
            for member in members
        ]
    return sorted(rows, key=lambda row: (-row.kpis.total, row.label))


def monthly(query: ReportQuery, as_of: datetime) -> list[MonthRow]:
    month = year_month(Feedback.created_at)
    statement = (
        select(month.label("key"), *_aggregates(as_of)).where(*_conditions(query)).group_by(month)
    )
    found = {row.key: _kpis(row) for row in db.session.execute(statement)}
    return [
        MonthRow(current, found.get(current.strftime("%Y-%m"), Kpis()))
        for current in _months(query, found)
    ]


def service_figures(query: ReportQuery, as_of: datetime) -> dict:
    """What ``statistics.service_statistics`` computes with SQL, the backlog aside."""
    return {
        "kpis": overall(query, as_of),
        "breakdowns": {name: breakdown(query, name, as_of) for name in DIMENSIONS},
        "monthly": monthly(query, as_of),
    }
