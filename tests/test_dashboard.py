"""The home dashboard: per-role sections, numbers from the statistics service, offline charts.

The clock is frozen at NOW (2026-06-15 12:00, a Monday); the trend period is
then 2025-07-01 … 2026-06-15. The hand-built data set, customer X unless noted
(targets: urgent 4 h, high 24 h, medium 72 h, low 168 h):

| # | created          | level  | status      | resolved         | engineer  | note                       |
|---|------------------|--------|-------------|------------------|-----------|----------------------------|
| 1 | 2026-06-15 10:00 | urgent | new         |                  | engineer  | open, 2 h old: on time     |
| 2 | 2026-06-14 08:00 | high   | in progress |                  | engineer  | open, 28 h old: overdue    |
| 3 | 2026-06-01 09:00 | medium | resolved    | 2026-06-03 09:00 | engineer2 | 48 h, resolved this month  |
| 4 | 2026-05-20 09:00 | low    | closed      | 2026-05-21 09:00 | engineer  | 24 h                       |
| 5 | 2025-07-10 09:00 | medium | resolved    | 2025-07-11 09:00 | (none)    | 24 h, first trend month    |
| 6 | 2025-06-30 23:00 | low    | new         |                  | engineer  | before the trend: overdue  |
| 7 | 2026-06-10 08:00 | low    | new         |                  | (none)    | customer Y, 5 days: on time|

Open 4 (1, 2, 6, 7), overdue 2 (2, 6), resolved this month 1 (3), average
resolution time over the period (3, 4, 5) 32.0 h. Licenses: one expiring
(non-trial, ends 2026-07-01), one trial ending 2026-06-20, one valid, one
expired; contracts: one ending 2026-06-30 in the window, one later, one past.
"""

from __future__ import annotations

import html as htmllib
import re
from datetime import date, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CrmUser
from app.models import FeedbackLevel as L
from app.models import FeedbackStatus as S
from app.permissions import (
    ADMIN,
    CONTRACT,
    CUSTOMER,
    FEEDBACK,
    FOLLOWUP,
    LICENSE,
    PAYMENT,
    READ,
    ROLE_GRANTS,
)
from app.services import dashboard, statistics
from app.views.dashboard import axis_max
from factories import (
    make_contract,
    make_customer,
    make_feedback,
    make_license,
    make_product,
    make_reporter,
)
from helpers import PASSWORD, ROLE_KEYS, counting_statements, unescaped_html

NOW = datetime(2026, 6, 15, 12, 0)
TODAY = NOW.date()
PERIOD = statistics.ReportQuery(date(2025, 7, 1), TODAY)

# card -> the resource its data belongs to
CARDS = {
    "open_feedback": FEEDBACK,
    "overdue_feedback": FEEDBACK,
    "resolved_this_month": FEEDBACK,
    "avg_resolution_hours": FEEDBACK,
    "licenses_expiring": LICENSE,
    "contracts_ending": CONTRACT,
    "customers": CUSTOMER,
    "followups_today": FOLLOWUP,
    "followups_overdue": FOLLOWUP,
    "payments_planned": PAYMENT,
    "payments_received": PAYMENT,
    "payments_overdue": PAYMENT,
}


@pytest.fixture
def frozen_clock(monkeypatch):
    """Feedback times see NOW, licenses and contracts TODAY."""
    monkeypatch.setattr("app.services.feedback.now", lambda: NOW)  # the desk's clock
    for target in ("app.services.licenses.today", "app.views.license.today"):
        monkeypatch.setattr(target, lambda: TODAY)
    return NOW


def _user_id(username: str) -> int:
    return db.session.scalars(select(CrmUser.id).where(CrmUser.username == username)).one()


@pytest.fixture
def known_data(app):
    """The data set of the module docstring; returns {name: id}."""
    with app.app_context():
        x, y = make_customer(code="DASH-X"), make_customer(code="DASH-Y")
        rx, ry = make_reporter(x), make_reporter(y)
        engineer, engineer2 = _user_id("engineer"), _user_id("engineer2")
        rows = [
            (rx, datetime(2026, 6, 15, 10), L.urgent, S.new, None, engineer),
            (rx, datetime(2026, 6, 14, 8), L.high, S.in_progress, None, engineer),
            (rx, datetime(2026, 6, 1, 9), L.medium, S.resolved, datetime(2026, 6, 3, 9), engineer2),
            (rx, datetime(2026, 5, 20, 9), L.low, S.closed, datetime(2026, 5, 21, 9), engineer),
            (rx, datetime(2025, 7, 10, 9), L.medium, S.resolved, datetime(2025, 7, 11, 9), None),
            (rx, datetime(2025, 6, 30, 23), L.low, S.new, None, engineer),
            (ry, datetime(2026, 6, 10, 8), L.low, S.new, None, None),
        ]
        ids = {}
        for number, (reporter, created, level, status, resolved, engineer_id) in enumerate(rows, 1):
            item = make_feedback(
                reporter,
                created_at=created,
                level=level,
                status=status,
                resolved_at=resolved,
                engineer_id=engineer_id,
                problem=f"看板问题{number}",
            )
            ids[f"feedback{number}"] = item.id
        product = make_product(x)
        for serial, start, end, trial in [
            ("DASH-EXPIRING", date(2025, 7, 1), date(2026, 7, 1), False),
            ("DASH-TRIAL", date(2026, 5, 21), date(2026, 6, 20), True),
            ("DASH-VALID", date(2026, 1, 1), date(2026, 12, 31), False),
            ("DASH-EXPIRED", date(2025, 6, 1), date(2026, 6, 1), False),
        ]:
            ids[serial] = make_license(
                product, serial=serial, valid_from=start, valid_to=end, is_trial=trial
            ).id
        for number, end in [
            ("HT-DASH-SOON", date(2026, 6, 30)),
            ("HT-DASH-LATER", date(2026, 8, 1)),
            ("HT-DASH-PAST", date(2026, 6, 14)),
        ]:
            ids[number] = make_contract(
                x, number=number, sign_date=date(2025, 1, 1), end_date=end
            ).id
        db.session.remove()
    return ids


@pytest.fixture
def reader_without_license(app):
    """A user who reads everything but licenses."""
    from app.services.roles import granted_permission_views

    name, username = "看板无授权", "dashnolicense"
    with app.app_context():
        sm = app.appbuilder.sm
        grants = {FEEDBACK: (READ,), CONTRACT: (READ,), CUSTOMER: (READ,)}
        role = sm.add_role(name, granted_permission_views(app.appbuilder, grants))
        sm.add_user(
            username=username,
            first_name="看板用户",
            last_name="",
            email=f"{username}@example.com",
            role=role,
            password=PASSWORD,
        )
        db.session.remove()
    yield username
    with app.app_context():
        sm = app.appbuilder.sm
        for found in (sm.find_user(username=username), sm.find_role(name)):
            if found is not None:
                db.session.delete(found)
                db.session.commit()
        db.session.remove()


def page_of(visitor) -> str:
    response = visitor.get("/")
    assert response.status_code == 200
    return unescaped_html(response)


def cards_of(page: str) -> dict[str, str]:
    return dict(
        re.findall(
            r'data-kpi="(\w+)">\s*<div class="panel-body">\s*<div class="kpi-value" data-value="([^"]*)"',
            page,
        )
    )


def bars_of(page: str, chart_id: str) -> dict[str, int]:
    svg = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', page, re.S).group(0)
    return {
        key: int(value)
        for key, value in re.findall(r'<g class="bar" data-key="(\w+)" data-value="(\d+)"', svg)
    }


def points_of(page: str, css: str) -> dict[str, int]:
    svg = re.search(r'<svg[^>]*id="chart-trend".*?</svg>', page, re.S).group(0)
    return {
        month: int(value)
        for month, value in re.findall(
            rf'<circle class="point {css}"[^>]*data-month="([\d-]+)" data-value="(\d+)"', svg
        )
    }


def readable(role: str, resource: str) -> bool:
    return role == ADMIN or READ in ROLE_GRANTS[role].get(resource, ())


# ------------------------------------------------------------------ who sees what


@pytest.mark.parametrize("role", ROLE_KEYS)
def test_cards_match_what_the_role_may_read(frozen_clock, known_data, login_as, role):
    page = page_of(login_as(role))
    expected = {card for card, resource in CARDS.items() if readable(role, resource)}
    assert set(cards_of(page)) == expected
    assert ('id="chart-status"' in page) == readable(role, FEEDBACK)
    assert ('id="my-queue"' in page) == readable(role, FEEDBACK)
    assert ('id="license-alerts"' in page) == readable(role, LICENSE)
    assert ('id="contract-alerts"' in page) == readable(role, CONTRACT)
    assert ('id="followups-due"' in page) == readable(role, FOLLOWUP)


def test_a_role_without_licenses_sees_no_license_figure(
    frozen_clock, known_data, login_as, reader_without_license
):
    page = page_of(login_as(reader_without_license))
    cards = cards_of(page)
    assert "licenses_expiring" not in cards
    assert set(cards) == {
        "open_feedback",
        "overdue_feedback",
        "resolved_this_month",
        "avg_resolution_hours",
        "contracts_ending",
        "customers",
    }
    assert "license-alerts" not in page and "DASH-EXPIRING" not in page
    assert "/licenses/" not in page.split('id="dashboard"')[1]


def test_only_readable_sections_are_computed(app, known_data):
    asked = []

    def may_read(resource):
        asked.append(resource)
        return resource == CUSTOMER

    with app.app_context():
        board = dashboard.build(may_read, None, NOW, TODAY)
    assert set(asked) == {FEEDBACK, LICENSE, CONTRACT, CUSTOMER, FOLLOWUP}
    assert board.customers == 2
    assert board.feedback is None and board.licenses_expiring is None
    assert board.licenses_ending is None and board.contracts_ending is None


def test_a_user_without_any_figure_is_told_so(app, frozen_clock, login_as):
    name, username = "看板空角色", "dashnothing"
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(name, [])
        sm.add_user(
            username=username,
            first_name="空",
            last_name="",
            email=f"{username}@example.com",
            role=role,
            password=PASSWORD,
        )
        db.session.remove()
    try:
        page = page_of(login_as(username))
        assert cards_of(page) == {}
        assert "您的角色目前不能查看任何统计数据" in page
    finally:
        with app.app_context():
            sm = app.appbuilder.sm
            for found in (sm.find_user(username=username), sm.find_role(name)):
                db.session.delete(found)
                db.session.commit()
            db.session.remove()


def test_anonymous_visitors_are_sent_to_sign_in(visitor):
    response = visitor.get("/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login/"


def test_sign_in_lands_on_the_dashboard(visitor):
    response = visitor.login("manager")
    assert response.status_code == 302
    landing = visitor.get(response.headers["Location"], follow_redirects=True)
    assert 'id="dashboard"' in landing.get_data(as_text=True)


# ------------------------------------------------------------------ the numbers


EXPECTED_CARDS = {
    "open_feedback": "4",
    "overdue_feedback": "2",
    "resolved_this_month": "1",
    "avg_resolution_hours": "32.0",
    "licenses_expiring": "1",
    "contracts_ending": "1",
    "customers": "2",
    "followups_today": "0",  # no follow-ups in the known data (tests/test_followups.py)
    "followups_overdue": "0",
    "payments_planned": "¥0.00",
    "payments_received": "¥0.00",
    "payments_overdue": "¥0.00",
}


def test_numbers_on_the_known_data_set(frozen_clock, known_data, login_as):
    page = page_of(login_as("manager"))
    assert cards_of(page) == EXPECTED_CARDS
    assert bars_of(page, "chart-status") == {"new": 2, "in_progress": 1, "resolved": 2, "closed": 1}
    assert bars_of(page, "chart-level") == {"urgent": 1, "high": 1, "medium": 2, "low": 2}
    created = points_of(page, "created")
    assert list(created) == [f"2025-{m:02d}" for m in range(7, 13)] + [
        f"2026-{m:02d}" for m in range(1, 7)
    ]
    assert {month: n for month, n in created.items() if n} == {
        "2025-07": 1,
        "2026-05": 1,
        "2026-06": 4,
    }
    assert {month: n for month, n in points_of(page, "resolved").items() if n} == {
        "2025-07": 1,
        "2026-05": 1,
        "2026-06": 1,
    }
    assert "创建于 2025-07-01 至 2026-06-15" in page


def test_numbers_equal_the_statistics_service(app, frozen_clock, known_data, login_as):
    """The page shows the statistics service's summary, and it agrees with the report's KPIs."""
    page = page_of(login_as("admin"))
    with app.app_context():
        period = dashboard.trend_period(TODAY)
        assert (period.start, period.end) == (PERIOD.start, PERIOD.end)
        overall = statistics.overall(period, NOW)
        by_status = statistics.breakdown(period, "status", NOW)
        by_level = statistics.breakdown(period, "level", NOW)
        monthly = statistics.monthly(period, NOW)
        summary = statistics.summary(period)
        workload = statistics.workload(NOW)
    assert cards_of(page)["avg_resolution_hours"] == f"{overall.avg_hours:.1f}"
    assert cards_of(page)["open_feedback"] == str(workload.open)
    assert cards_of(page)["overdue_feedback"] == str(workload.overdue)
    assert cards_of(page)["resolved_this_month"] == str(workload.resolved_this_month)
    assert summary.avg_hours == pytest.approx(overall.avg_hours)
    assert (summary.total, summary.resolved) == (overall.total, overall.resolved)
    assert [(bar.key, bar.label, bar.value) for bar in summary.by_status] == [
        (row.key, row.label, row.kpis.total) for row in by_status
    ]
    assert [(bar.key, bar.label, bar.value) for bar in summary.by_level] == [
        (row.key, row.label, row.kpis.total) for row in by_level
    ]
    assert [(point.month, point.created, point.resolved) for point in summary.monthly] == [
        (row.month, row.kpis.total, row.kpis.resolved) for row in monthly
    ]
    assert sum(bars_of(page, "chart-status").values()) == overall.total
    assert bars_of(page, "chart-status") == {row.key: row.kpis.total for row in by_status}
    assert bars_of(page, "chart-level") == {row.key: row.kpis.total for row in by_level}
    assert points_of(page, "created") == {
        row.month.isoformat()[:7]: row.kpis.total for row in monthly
    }
    assert points_of(page, "resolved") == {
        row.month.isoformat()[:7]: row.kpis.resolved for row in monthly
    }


def test_summary_equals_the_statistics_service_on_any_period(app, known_data):
    """Periods that cut the data set elsewhere, one of them empty, one of centuries."""
    with app.app_context():
        for period in (
            statistics.ReportQuery(date(2026, 6, 1), date(2026, 6, 14)),
            statistics.ReportQuery(date(2025, 6, 1), date(2026, 5, 31)),
            statistics.ReportQuery(date(2024, 1, 1), date(2024, 12, 31)),
            statistics.ReportQuery(date(1900, 1, 1), date(9998, 12, 31)),
        ):
            summary = statistics.summary(period)
            overall = statistics.overall(period, NOW)
            assert (summary.total, summary.resolved) == (overall.total, overall.resolved)
            if overall.resolved:
                assert summary.avg_hours == pytest.approx(overall.avg_hours)
            else:
                assert summary.avg_hours is None and overall.avg_hours is None
            assert [bar.value for bar in summary.by_status] == [
                row.kpis.total for row in statistics.breakdown(period, "status", NOW)
            ]
            assert [bar.value for bar in summary.by_level] == [
                row.kpis.total for row in statistics.breakdown(period, "level", NOW)
            ]
            assert [(p.month, p.created, p.resolved) for p in summary.monthly] == [
                (row.month, row.kpis.total, row.kpis.resolved)
                for row in statistics.monthly(period, NOW)
            ]


def test_workload_on_the_known_data_set(app, known_data):
    with app.app_context():
        assert statistics.workload(NOW) == statistics.Workload(
            open=4, overdue=2, resolved_this_month=1
        )
        assert statistics.workload(datetime(2026, 5, 31, 23, 59)).resolved_this_month == 1  # #4
        assert statistics.workload(datetime(2026, 7, 1)).resolved_this_month == 0
        assert dashboard.customer_count() == 2


def test_feedback_figures_take_four_queries(app, known_data):
    """Cards, charts and the queue: a fixed handful of queries, whatever the data."""
    with app.app_context():
        engineer = _user_id("engineer")
        with counting_statements(app) as statements:
            figures = dashboard.feedback_figures(NOW, engineer)
    assert figures.queue_count == 3 and figures.workload.open == 4
    assert len(statements) == 4, statements


def test_trend_period_covers_twelve_calendar_months():
    assert dashboard.trend_period(date(2026, 6, 15)).start == date(2025, 7, 1)
    assert dashboard.trend_period(date(2026, 1, 31)).start == date(2025, 2, 1)
    assert dashboard.trend_period(date(2026, 12, 1)).start == date(2026, 1, 1)
    assert statistics.month_start(date(2026, 3, 31), 14) == date(2025, 1, 1)
    assert statistics.month_start(date(2026, 12, 31), -1) == date(2027, 1, 1)


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, 4),
        (1, 4),
        (4, 4),
        (5, 8),
        (8, 8),
        (9, 20),
        (21, 40),
        (79, 80),
        (81, 200),
        (1234, 2000),
        (2.5, 4),
    ],
)
def test_axis_ends_on_a_round_number_with_whole_quarters(value, expected):
    assert axis_max(value) == expected
    assert expected % 4 == 0


def test_empty_database_draws_empty_charts(frozen_clock, login_as):
    page = page_of(login_as("manager"))
    cards = cards_of(page)
    assert cards["open_feedback"] == "0" and cards["avg_resolution_hours"] == ""
    assert set(bars_of(page, "chart-status").values()) == {0}
    assert len(points_of(page, "created")) == 12
    assert "目前没有分配给您的未解决反馈" in page
    assert "30 天内没有到期的授权" in page and "30 天内没有到期的合同" in page


# ------------------------------------------------------------------ the queue and the alerts


def test_engineer_sees_their_own_queue_overdue_first(frozen_clock, known_data, login_as):
    page = page_of(login_as("engineer"))
    queue = page.split('id="my-queue"')[1].split("</table>")[0]
    order = [int(pk) for pk in re.findall(r'data-feedback="(\d+)"', queue)]
    ids = known_data
    # overdue first (high before low), then the rest
    assert order == [ids["feedback2"], ids["feedback6"], ids["feedback1"]]
    for pk in order:
        assert f'href="/feedback/show/{pk}"' in queue
    assert queue.count("queue-overdue") == 2
    assert re.search(r'我的待处理反馈 <span class="badge">3</span>', page)


def test_queue_holds_only_the_users_own_open_feedback(frozen_clock, known_data, login_as):
    page = page_of(login_as("engineer2"))  # #3 is theirs but resolved
    assert re.search(r'我的待处理反馈 <span class="badge">0</span>', page)
    assert "目前没有分配给您的未解决反馈" in page


def test_queue_links_to_the_rest_when_long(app, frozen_clock, login_as, monkeypatch):
    monkeypatch.setattr(dashboard, "QUEUE_SIZE", 2)
    with app.app_context():
        engineer = _user_id("engineer")
        reporter = make_reporter()
        for hour in range(3):
            make_feedback(reporter, engineer_id=engineer, created_at=datetime(2026, 6, 15, hour))
        db.session.remove()
    visitor = login_as("engineer")
    page = page_of(visitor)
    queue = page.split('id="my-queue"')[1]
    assert len(re.findall(r'class="queue-item', queue)) == 2
    link = re.search(r'href="([^"]+)">查看我的全部 3 条', queue)
    assert link
    listed = visitor.get(htmllib.unescape(link.group(1))).get_data(as_text=True)
    assert listed.count("收银机无法打印小票") == 3


@pytest.mark.parametrize(
    "card, expected",
    [
        ("open_feedback", {1, 2, 6, 7}),
        ("overdue_feedback", {2, 6}),
    ],
)
def test_feedback_cards_open_the_matching_list(frozen_clock, known_data, login_as, card, expected):
    visitor = login_as("support")
    page = page_of(visitor)
    link = re.search(rf'<a href="([^"]+)" class="[^"]*" data-kpi="{card}"', page).group(1)
    listed = visitor.get(link).get_data(as_text=True)
    assert {int(n) for n in re.findall(r"看板问题(\d+)", listed)} == expected
    assert cards_of(page)[card] == str(len(expected))


def test_queue_heading_opens_my_open_feedback(frozen_clock, known_data, login_as):
    visitor = login_as("engineer")
    queue = page_of(visitor).split('id="my-queue"')[1]
    link = re.search(r'<a class="pull-right" href="([^"]+)">在反馈列表中查看', queue).group(1)
    listed = visitor.get(link).get_data(as_text=True)
    assert {int(n) for n in re.findall(r"看板问题(\d+)", listed)} == {1, 2, 6}


def test_alerts_list_what_ends_within_the_window(frozen_clock, known_data, login_as):
    page = page_of(login_as("manager"))
    licenses = page.split('id="license-alerts"')[1].split("</table>")[0]
    assert re.findall(r'data-license="([\w-]+)"', licenses) == ["DASH-TRIAL", "DASH-EXPIRING"]
    assert "还剩 5 天" in licenses and "还剩 16 天" in licenses
    assert 'data-state="trial"' in licenses and 'data-state="expiring"' in licenses
    assert f'href="/licenses/show/{known_data["DASH-EXPIRING"]}"' in licenses
    contracts = page.split('id="contract-alerts"')[1].split("</table>")[0]
    assert re.findall(r'data-contract="([\w-]+)"', contracts) == ["HT-DASH-SOON"]
    assert f'href="/contracts/show/{known_data["HT-DASH-SOON"]}"' in contracts
    assert "¥12,345.67" in contracts


def test_expiring_card_opens_the_filtered_license_list(frozen_clock, known_data, login_as):
    visitor = login_as("sales")
    page = page_of(visitor)
    link = re.search(r'<a href="([^"]+)" class="[^"]*" data-kpi="licenses_expiring"', page).group(1)
    listed = visitor.get(link).get_data(as_text=True)
    assert "DASH-EXPIRING" in listed and "DASH-VALID" not in listed and "DASH-TRIAL" not in listed


def test_dashboard_is_in_english_when_asked(frozen_clock, known_data, login_as):
    visitor = login_as("manager")
    visitor.get("/lang/en")
    page = page_of(visitor)
    assert "Open feedback" in page and "Feedback by status" in page
    assert "未解决反馈" not in page


# ------------------------------------------------------------------ in the browser, offline


def test_dashboard_in_the_browser_with_the_network_blocked(
    app, frozen_clock, known_data, live_server, page
):
    requested, blocked = [], []
    page.on("request", lambda request: requested.append(request.url))

    def local_only(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{live_server}/")
    assert urlsplit(page.url).path == "/login/"
    page.fill("#username", "manager")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/"

    # the numbers, as the browser shows them, are the statistics service's
    with app.app_context():
        period = dashboard.trend_period(TODAY)
        by_status = statistics.breakdown(period, "status", NOW)
        monthly = statistics.monthly(period, NOW)
        avg_hours = statistics.overall(period, NOW).avg_hours
    card = page.locator('[data-kpi="avg_resolution_hours"] .kpi-value')
    assert card.inner_text() == f"{avg_hours:.1f}"
    for row in by_status:
        bar = page.locator(f'#chart-status g.bar[data-key="{row.key}"]')
        assert bar.locator("text.value").text_content() == str(row.kpis.total)
        assert bar.locator("text.label").text_content() == row.label
    # the charts are drawn: bars with width, a 12-point line, visible in the page
    widest = page.locator('#chart-status g.bar[data-key="new"] rect').bounding_box()
    assert widest and widest["width"] > 10 and widest["height"] > 5
    line = page.locator("#chart-trend polyline.created")
    assert len(line.get_attribute("points").split()) == len(monthly) == 12
    box = page.locator("#chart-trend").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    assert page.locator("#chart-level g.bar").count() == 4
    assert "近 12 个月的反馈趋势" in page.locator("#dashboard").inner_text()

    assert requested, "the request log is empty"
    outside = [
        url
        for url in requested
        if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname != "127.0.0.1"
    ]
    assert outside == [] and blocked == []
