"""Feedback statistics on a small hand-built data set whose right answers are stated here.

The same SQL runs on SQLite and PostgreSQL (CI runs this file on both).

The data set, period 2026-01-01 … 2026-03-31, customer X unless noted:

| # | created          | resolved after | level  | status      | engineer  |
|---|------------------|----------------|--------|-------------|-----------|
| 1 | 01-10 09:00      | 2 h            | urgent | resolved    | engineer  |
| 2 | 02-03 10:00      | 6 h            | urgent | closed      | engineer  |
| 3 | 02-15 08:00      | 10 h           | high   | resolved    | engineer2 |
| 4 | 03-01 09:00      | 80 h           | medium | resolved    | engineer2 |
| 5 | 03-10 00:00      | open           | low    | new         | engineer  |
| 6 | 03-20 12:00      | open           | medium | in progress | (none)    |
| 7 | 2025-12-31 23:00 | 1 h            | urgent | resolved    | engineer  |  outside the period
| 8 | 03-31 23:30 (Y)  | 24 h exactly   | high   | resolved    | engineer2 |

Targets: urgent 4 h, high 24 h, medium 72 h, low 168 h.
"""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.models import CrmUser, FeedbackLevel, FeedbackStatus
from app.services import statistics
from app.services.statistics import QueryInvalid, ReportQuery
from factories import make_customer, make_feedback, make_reporter

AS_OF = datetime(2026, 4, 1, 0, 0)
PERIOD = ReportQuery(date(2026, 1, 1), date(2026, 3, 31))


def _user(session, username):
    return session.scalars(select(CrmUser).where(CrmUser.username == username)).one()


@pytest.fixture
def data(db_session):
    one, two = _user(db_session, "engineer"), _user(db_session, "engineer2")
    x = make_reporter(make_customer(name="客户X"), store="南京路店")
    y = make_reporter(make_customer(name="客户Y"), store="淮海路店")
    rows = [
        (x, "2026-01-10 09:00", 2, "urgent", "resolved", one, "北京", "打印机驱动"),
        (x, "2026-02-03 10:00", 6, "urgent", "closed", one, "上海", "打印机驱动"),
        (x, "2026-02-15 08:00", 10, "high", "resolved", two, "上海", "网络"),
        (x, "2026-03-01 09:00", 80, "medium", "resolved", two, "上海", None),
        (x, "2026-03-10 00:00", None, "low", "new", one, "上海", None),
        (x, "2026-03-20 12:00", None, "medium", "in_progress", None, "上海", None),
        (x, "2025-12-31 23:00", 1, "urgent", "resolved", one, "上海", None),
        (y, "2026-03-31 23:30", 24, "high", "resolved", two, " 杭州 ", "网络"),
    ]
    for reporter, created, hours, level, status, engineer, city, cause in rows:
        created_at = datetime.fromisoformat(created)
        make_feedback(
            reporter,
            created_at=created_at,
            resolved_at=None if hours is None else created_at + timedelta(hours=hours),
            level=FeedbackLevel[level],
            status=FeedbackStatus[status],
            engineer=engineer,
            city=city,
            cause=cause,
        )
    return {"x": x.customer_id, "y": y.customer_id, "one": one.id, "two": two.id}


def test_overall_kpis(data):
    kpis = statistics.overall(PERIOD, as_of=AS_OF)
    assert kpis.total == 7  # row 7 is outside the period, row 8 on its last day
    assert kpis.resolved == 5
    assert kpis.resolution_rate == pytest.approx(5 / 7)
    assert kpis.avg_hours == pytest.approx((2 + 6 + 10 + 80 + 24) / 5)  # 24.4
    assert kpis.median_hours == pytest.approx(10)  # 2, 6, 10, 24, 80
    assert kpis.within_target == 3  # rows 1, 3 and 8 (exactly on target counts)
    assert kpis.within_target_rate == pytest.approx(3 / 5)
    assert kpis.open == 2
    # Row 5 is 22 days old on 04-01, row 6 11.5 days.
    assert kpis.open_max_age_hours == pytest.approx(528)
    assert kpis.open_avg_age_hours == pytest.approx((528 + 276) / 2)


def test_per_engineer(data):
    rows = {row.key: row for row in statistics.breakdown(PERIOD, "engineer", as_of=AS_OF)}
    one, two, nobody = rows[data["one"]], rows[data["two"]], rows[None]
    assert one.label == "engineer user" and nobody.label == "未分配"
    assert (one.kpis.total, one.kpis.resolved, one.kpis.open) == (3, 2, 1)
    assert one.kpis.avg_hours == pytest.approx(4)
    assert one.kpis.median_hours == pytest.approx(4)  # even count: mean of 2 and 6
    assert one.kpis.within_target_rate == pytest.approx(1 / 2)
    assert (two.kpis.total, two.kpis.resolved, two.kpis.within_target) == (3, 3, 2)
    assert two.kpis.avg_hours == pytest.approx((10 + 80 + 24) / 3)
    assert two.kpis.median_hours == pytest.approx(24)
    assert (nobody.kpis.total, nobody.kpis.resolved, nobody.kpis.median_hours) == (1, 0, None)
    assert nobody.kpis.within_target_rate is None


def test_status_and_level_list_every_value_in_order(data):
    status = statistics.breakdown(PERIOD, "status", as_of=AS_OF)
    assert [(row.key, row.kpis.total) for row in status] == [
        ("new", 1),
        ("in_progress", 1),
        ("resolved", 4),
        ("closed", 1),
    ]
    assert status[0].label == "新建"
    level = statistics.breakdown(PERIOD, "level", as_of=AS_OF)
    assert [(row.key, row.kpis.total) for row in level] == [
        ("urgent", 2),
        ("high", 2),
        ("medium", 2),
        ("low", 1),
    ]
    urgent = level[0].kpis
    assert (urgent.within_target, urgent.median_hours) == (1, pytest.approx(4))


def test_text_breakdowns_group_blank_and_trim(data):
    city = {row.key: row.kpis.total for row in statistics.breakdown(PERIOD, "city", as_of=AS_OF)}
    assert city == {"上海": 5, "北京": 1, "杭州": 1}
    cause = statistics.breakdown(PERIOD, "cause", as_of=AS_OF)
    assert [(row.key, row.label, row.kpis.total) for row in cause] == [
        (None, "（空）", 3),
        ("打印机驱动", "打印机驱动", 2),
        ("网络", "网络", 2),
    ]


def test_customer_filter_and_per_customer(data):
    only_y = ReportQuery(PERIOD.start, PERIOD.end, data["y"])
    kpis = statistics.overall(only_y, as_of=AS_OF)
    assert (kpis.total, kpis.resolved, kpis.within_target) == (1, 1, 1)
    assert kpis.median_hours == pytest.approx(24)
    per_customer = statistics.breakdown(PERIOD, "customer", as_of=AS_OF)
    assert [(row.key, row.kpis.total) for row in per_customer] == [(data["x"], 6), (data["y"], 1)]
    assert per_customer[0].label.endswith("客户X")


def test_monthly_trend_includes_empty_months(data):
    query = ReportQuery(date(2026, 1, 15), date(2026, 4, 30))
    months = statistics.monthly(query, as_of=AS_OF)
    assert [(row.month, row.kpis.total, row.kpis.resolved) for row in months] == [
        (date(2026, 1, 1), 0, 0),  # row 1 is before the 15th
        (date(2026, 2, 1), 2, 2),
        (date(2026, 3, 1), 4, 2),
        (date(2026, 4, 1), 0, 0),
    ]
    assert months[1].kpis.median_hours == pytest.approx(8)


def test_service_statistics_is_plain_data(data):
    stats = statistics.service_statistics(PERIOD, as_of=AS_OF)
    result = stats.to_dict()
    assert result["kpis"]["total"] == 7
    assert set(result["breakdowns"]) == set(statistics.DIMENSIONS)
    assert len(result["monthly"]) == 3


def test_empty_period_has_zeroes_not_errors(db_session):
    kpis = statistics.overall(PERIOD, as_of=AS_OF)
    assert (kpis.total, kpis.resolved, kpis.avg_hours, kpis.median_hours) == (0, 0, None, None)
    assert kpis.resolution_rate is None
    assert statistics.breakdown(PERIOD, "engineer", as_of=AS_OF) == []


@pytest.mark.parametrize(
    "args, field, message",
    [
        ({"to": "2026-03-31"}, "from", "请填写开始日期"),
        ({"from": "2026-13-01", "to": "2026-03-31"}, "from", "开始日期必须是日期"),
        ({"from": "2026-03-31", "to": "2026-01-01"}, "to", "截止日期不能早于开始日期"),
        (
            {"from": "2026-01-01", "to": "2026-03-31", "customer_id": "abc"},
            "customer_id",
            "请从列表中选择客户",
        ),
        (
            {"from": "2026-01-01", "to": "2026-03-31", "customer_id": "999999"},
            "customer_id",
            "没有 ID 为 999999 的客户",
        ),
    ],
)
def test_bad_queries_are_refused_in_chinese(app, args, field, message):
    with app.test_request_context("/"), pytest.raises(QueryInvalid) as refused:
        ReportQuery.from_args(args)
    assert message in refused.value.errors[field]


def test_trend_of_a_very_long_period_spans_only_the_months_with_feedback(data):
    months = statistics.monthly(ReportQuery(date(1900, 1, 1), date(9998, 12, 31)), as_of=AS_OF)
    assert [row.month for row in months] == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert [row.kpis.total for row in months] == [1, 1, 2, 4]


def test_backlog_by_age_group_and_level(data):
    # On 03-21 12:00 row 6 is exactly one day old (the next group), row 5 11.5 days.
    groups = statistics.backlog_ages(PERIOD, as_of=datetime(2026, 3, 21, 12, 0))
    assert [(group.min_days, group.max_days) for group in groups] == [
        (0, 1),
        (1, 3),
        (3, 7),
        (7, 30),
        (30, None),
    ]
    assert [group.label for group in groups] == [
        "不足 1 天",
        "1–3 天",
        "3–7 天",
        "7–30 天",
        "30 天及以上",
    ]
    assert [group.total for group in groups] == [0, 1, 0, 1, 0]
    assert groups[1].by_level == {"urgent": 0, "high": 0, "medium": 1, "low": 0}
    assert groups[3].by_level == {"urgent": 0, "high": 0, "medium": 0, "low": 1}
    later = statistics.backlog_ages(PERIOD, as_of=datetime(2026, 5, 1))
    assert [group.total for group in later] == [0, 0, 0, 0, 2]
    assert statistics.service_statistics(PERIOD, as_of=AS_OF).backlog[3].total == 2


def test_a_partial_target_config_keeps_the_other_levels_defaults(app, data, monkeypatch):
    """The report reads the desk's targets: the configured level changes, the others default."""
    from app.services import feedback as desk

    monkeypatch.setitem(app.config, "FEEDBACK_TARGET_HOURS", {"urgent": 1})
    stats = statistics.service_statistics(PERIOD, as_of=AS_OF)
    assert stats.target_hours == {"urgent": 1, "high": 24, "medium": 72, "low": 168}
    assert stats.target_hours == {level.name: hours for level, hours in desk.target_hours().items()}
    # Rows 1 (2 h) and 2 (6 h) now miss the urgent target; rows 3 and 8 still meet high's 24 h.
    assert stats.kpis.within_target == 2
    level = {row.key: row.kpis.within_target for row in stats.breakdowns["level"]}
    assert level == {"urgent": 0, "high": 2, "medium": 0, "low": 0}
    within = {row[0]: row[4] for row in statistics.detail_rows(PERIOD)}
    assert sorted(within.values(), key=str) == sorted(
        ["否", "否", "是", "否", None, None, "是"], key=str
    )
