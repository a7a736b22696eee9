"""The fast statistics give the same numbers as the straightforward SQL they replace.

Random feedback (hypothesis, derandomized): timestamps with and without
fractions of a second, resolution times on and around each level's target,
blank and padded text, unassigned rows, any status. Each example computes the
service statistics both ways on the suite's database (SQLite, and PostgreSQL
in CI): counts and medians must be equal, averages and rates equal to 12
significant digits (the two ways divide in a different order). Also: every
write path keeps ``resolution_seconds`` in step with the timestamps.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from app.extensions import db
from app.models import CrmUser, Feedback, FeedbackLevel, FeedbackStatus
from app.models.feedback import resolution_seconds
from app.services import statistics
from app.services.feedback import DEFAULT_TARGET_HOURS
from app.services.sqlfunctions import seconds_between
from app.services.statistics import DIMENSIONS, ReportQuery
from tests import statistics_reference as reference
from tests.factories import make_customer, make_feedback, make_reporter

# Each example writes to the database: shrinking a failure would take many minutes,
# so a failure is reported as found (at most 40 rows, small enough to read).
EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START = datetime(2025, 11, 1)
TEXTS = st.sampled_from([None, "", "  ", "上海", " 上海 ", "北京", "网络", "打印机驱动"])
TARGET_SPANS = [
    hours * 3600 + offset for hours in DEFAULT_TARGET_HOURS.values() for offset in (-1, 0, 1)
]
SPANS = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=20 * 86400),
    st.sampled_from(TARGET_SPANS),
)
ROW = st.tuples(
    st.integers(min_value=0, max_value=150 * 86400),  # seconds after START
    st.sampled_from([0, 1, 500_000, 999_999]),  # microseconds of created_at
    SPANS,  # resolved after, seconds
    st.sampled_from([0, 1, 500_000, 999_999]),  # microseconds of resolved_at
    st.sampled_from(list(FeedbackLevel)),
    st.sampled_from(list(FeedbackStatus)),
    st.integers(min_value=0, max_value=2),  # engineer: none, one, two
    st.integers(min_value=0, max_value=2),  # reporter
    TEXTS,
    TEXTS,
    TEXTS,
)
QUERY = st.tuples(
    st.integers(min_value=-5, max_value=160),  # first day, after START
    st.integers(min_value=0, max_value=200),  # days long
    st.booleans(),  # one customer only
    st.integers(min_value=0, max_value=170 * 86400),  # as of, seconds after START
)


@pytest.fixture
def cast(db_session):
    """Three reporters (two customers) and the two seeded engineers."""
    first = make_customer(name="客户甲")
    reporters = [
        make_reporter(first, store="南京路店"),
        make_reporter(first, store="淮海路店"),
        make_reporter(make_customer(name="客户乙"), store="人民路店"),
    ]
    engineers = [
        None,
        *db_session.scalars(select(CrmUser).where(CrmUser.username.in_(["engineer", "engineer2"]))),
    ]
    return reporters, engineers


def _same_kpis(fast, slow, where):
    fast, slow = asdict(fast), asdict(slow)
    for name, value in slow.items():
        if isinstance(value, float) and name != "median_hours":
            assert fast[name] == pytest.approx(value, rel=1e-12), (where, name, fast, slow)
        else:
            assert fast[name] == value, (where, name, fast, slow)


def _same_rows(fast_rows, slow_rows, where):
    assert [(row.key, row.label) for row in fast_rows] == [
        (row.key, row.label) for row in slow_rows
    ], where
    for fast, slow in zip(fast_rows, slow_rows, strict=True):
        _same_kpis(fast.kpis, slow.kpis, (where, fast.key))


# Written out: a text group spread over blank-padded spellings, each with open rows,
# an even count of resolution times, unresolved rows, an open age of 0 beside a larger
# one; and the same rows outside the period asked (nothing found).
MERGED = [
    (0, 0, None, 0, FeedbackLevel.urgent, FeedbackStatus.new, 0, 0, " 上海 ", "  ", None),
    (
        3600,
        500_000,
        None,
        0,
        FeedbackLevel.high,
        FeedbackStatus.in_progress,
        1,
        0,
        "上海",
        "",
        "网络",
    ),
    (7200, 0, 14400, 0, FeedbackLevel.urgent, FeedbackStatus.resolved, 1, 1, "上海", None, "网络"),
    (
        7201,
        1,
        14401,
        999_999,
        FeedbackLevel.urgent,
        FeedbackStatus.new,
        2,
        1,
        "北京",
        None,
        " 网络",
    ),
]


@EXAMPLES
@given(rows=st.lists(ROW, max_size=40), asked=QUERY)
@example(rows=MERGED, asked=(0, 30, False, 40 * 86400))
@example(rows=MERGED, asked=(0, 30, True, 3000))
@example(rows=MERGED, asked=(0, 30, False, 3600))  # open ages 3600 and 0: the maximum is 0
@example(rows=MERGED, asked=(100, 0, False, 0))
def test_fast_statistics_equal_the_straightforward_sql(cast, rows, asked):
    reporters, engineers = cast
    db.session.execute(delete(Feedback))
    for (
        offset,
        micro,
        span,
        resolved_micro,
        level,
        status,
        who,
        reporter,
        city,
        store,
        cause,
    ) in rows:
        created = START + timedelta(seconds=offset, microseconds=micro)
        resolved = None
        if span is not None:
            resolved = max(
                created,
                created.replace(microsecond=0)
                + timedelta(seconds=span, microseconds=resolved_micro),
            )
        db.session.add(
            Feedback(
                customer=reporters[reporter].customer,
                reporter=reporters[reporter],
                problem="收银机无法打印",
                created_at=created,
                resolved_at=resolved,
                level=level,
                status=status,
                engineer=engineers[who],
                city=city,
                store=store,
                cause=cause,
            )
        )
    db.session.commit()
    first_day, days, one_customer, as_of = asked
    start = START.date() + timedelta(days=first_day)
    query = ReportQuery(
        start, start + timedelta(days=days), reporters[0].customer_id if one_customer else None
    )
    as_of = START + timedelta(seconds=as_of)

    fast = statistics.service_statistics(query, as_of=as_of)
    slow = reference.service_figures(query, as_of)
    _same_kpis(fast.kpis, slow["kpis"], "overall")
    _same_kpis(statistics.overall(query, as_of), slow["kpis"], "overall()")
    for name in DIMENSIONS:
        _same_rows(fast.breakdowns[name], slow["breakdowns"][name], name)
        _same_rows(statistics.breakdown(query, name, as_of), slow["breakdowns"][name], name)
    assert [row.month for row in fast.monthly] == [row.month for row in slow["monthly"]]
    for fast_month, slow_month in zip(fast.monthly, slow["monthly"], strict=True):
        _same_kpis(fast_month.kpis, slow_month.kpis, fast_month.month)


def _stored_and_computed(pk):
    return db.session.execute(
        select(
            Feedback.resolution_seconds,
            seconds_between(Feedback.created_at, Feedback.resolved_at),
        ).where(Feedback.id == pk)
    ).one()


def test_the_stored_resolution_time_follows_every_change(db_session):
    """Insert, resolve, reopen, move the creation time: the ORM event keeps it in step."""
    item = make_feedback(created_at=datetime(2026, 3, 1, 9, 0, 0, 700_000))
    assert tuple(_stored_and_computed(item.id)) == (None, None)
    item.resolved_at = datetime(2026, 3, 1, 11, 30, 5, 100_000)
    db_session.commit()
    assert tuple(_stored_and_computed(item.id)) == (9005, 9005)
    item.created_at = datetime(2026, 3, 1, 8, 0)
    db_session.commit()
    assert tuple(_stored_and_computed(item.id)) == (12605, 12605)
    item.resolved_at = None
    db_session.commit()
    assert tuple(_stored_and_computed(item.id)) == (None, None)


def test_the_demo_data_stores_the_resolution_time(db_session):
    from app.services import demo

    demo.write(demo.prepare(3, 300, seed=7, now=datetime(2026, 6, 1)))
    rows = db_session.execute(
        select(
            Feedback.resolution_seconds,
            seconds_between(Feedback.created_at, Feedback.resolved_at),
        )
    ).all()
    assert len(rows) == 300
    assert any(stored is not None for stored, _computed in rows)
    assert all(stored == computed for stored, computed in rows)


@pytest.mark.parametrize(
    "created, resolved",
    [
        (datetime(2026, 1, 1, 9, 0, 0, 999_999), datetime(2026, 1, 1, 9, 0, 1)),
        (datetime(2026, 1, 1, 9, 0, 0), datetime(2026, 1, 1, 9, 0, 0, 999_999)),
        (datetime(2025, 12, 31, 23, 59, 59), datetime(2026, 3, 1, 0, 0, 0, 1)),
        (datetime(2026, 3, 28, 12, 0), datetime(2026, 11, 1, 12, 0)),  # across DST dates
    ],
)
def test_python_and_sql_count_the_same_seconds(db_session, created, resolved):
    item = make_feedback(created_at=created, resolved_at=resolved)
    stored, computed = _stored_and_computed(item.id)
    assert stored == computed == resolution_seconds(created, resolved)


def test_a_report_of_a_year_takes_six_statements(cast, app):
    """Fewer scans: one fine GROUP BY and four breakdowns, the names, the backlog."""
    from sqlalchemy import event

    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):  # not PostgreSQL's SET work_mem
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        statistics.service_statistics(ReportQuery(date(2025, 1, 1), date(2025, 12, 31)))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 8  # five scans (ten before), two name look-ups, the backlog
