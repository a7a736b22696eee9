"""The service report: the form, the downloaded workbook as openpyxl reads it, refusals."""

from datetime import datetime, timedelta
from io import BytesIO
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.models import CrmUser, Customer, Feedback, FeedbackLevel, FeedbackStatus
from app.reports import xlsx
from factories import make_customer, make_feedback, make_reporter

URL = "/reports/service/xlsx?from=2026-01-01&to=2026-03-31"
SHEETS = [
    "汇总",
    "按工程师",
    "按客户",
    "按城市",
    "按门店",
    "按原因",
    "按状态",
    "按级别",
    "积压账龄",
    "月度趋势",
    "反馈明细",
]
DETAIL_HEADER = [
    "编号",
    "创建日期",
    "解决日期",
    "解决时长（小时）",
    "目标内解决",
    "客户编码",
    "公司名称",
    "反馈人员",
    "门店",
    "城市",
    "产品",
    "问题级别",
    "问题状态",
    "跟踪工程师",
    "问题描述",
    "原因分析",
]
EVIL = '=HYPERLINK("http://x","y")'


@pytest.fixture
def feedback(db_session):
    engineer = db_session.scalars(select(CrmUser).where(CrmUser.username == "engineer")).one()
    evil = make_reporter(make_customer(name=EVIL), store="+门店")
    plain = make_reporter(make_customer(name="长益超市"), store="南京路店")
    specs = [
        (plain, datetime(2026, 1, 5, 9, 0), 3, FeedbackLevel.urgent, FeedbackStatus.resolved),
        (evil, datetime(2026, 2, 10, 14, 30), 30, FeedbackLevel.high, FeedbackStatus.resolved),
        (plain, datetime(2026, 3, 2, 8, 0), None, FeedbackLevel.low, FeedbackStatus.new),
        (plain, datetime(2026, 4, 2, 8, 0), None, FeedbackLevel.low, FeedbackStatus.new),  # after
    ]
    for reporter, created, hours, level, status in specs:
        make_feedback(
            reporter,
            created_at=created,
            level=level,
            status=status,
            engineer=engineer,
            resolved_at=None if hours is None else created + timedelta(hours=hours),
            cause="-驱动版本过旧",
            city="上海",
        )
    return db_session


def _workbook(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == xlsx.XLSX_MIMETYPE
    return load_workbook(BytesIO(response.data))


def test_form_is_in_chinese_with_dates_and_a_searching_customer_field(login_as, feedback):
    visitor = login_as("support")
    page = visitor.get("/reports/service/").get_data(as_text=True)
    for text in (
        "服务报表",
        "开始日期",
        "截止日期",
        'type="date"',
        "全部客户",
        "下载报表",
        'data-url="/reports/service/customers"',
        "crm/related_select.js",
    ):
        assert text in page
    assert "长益超市" not in page  # customers are searched, not all put in the page
    found = visitor.get("/reports/service/customers?q=超市").get_json()
    assert [row["text"] for row in found["results"]] == [
        str(customer)
        for customer in feedback.scalars(select(Customer).where(Customer.name == "长益超市"))
    ]
    assert found["pagination"] == {"more": False}
    assert visitor.get("/reports/service/customers?q=&page=x").get_json()["results"]


def test_a_refused_form_keeps_the_chosen_customer(login_as, feedback):
    customer = feedback.scalars(select(Customer).where(Customer.name == "长益超市")).one()
    response = login_as("support").get(
        f"/reports/service/xlsx?from=2026-03-31&to=2026-01-01&customer_id={customer.id}"
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'<option value="{customer.id}" selected>{customer}</option>' in page
    assert 'value="2026-03-31"' in page


def test_report_workbook_sheets_headers_types_charts(login_as, feedback):
    response = login_as("support").get(URL)
    disposition = response.headers["Content-Disposition"]
    assert "filename*=UTF-8''" + quote("服务报表_2026-01-01_2026-03-31.xlsx") in disposition
    assert 'filename="service-report_2026-01-01_2026-03-31.xlsx"' in disposition
    book = _workbook(response)
    assert book.sheetnames == SHEETS

    summary = book["汇总"]
    assert summary["A1"].value == "服务报表"
    assert summary["B2"].value == datetime(2026, 1, 1) and summary["B2"].is_date
    assert summary["C2"].value == datetime(2026, 3, 31)
    assert summary["B4"].value == "support user"
    assert isinstance(summary["B5"].value, datetime)
    kpis = {row[0].value: row[1] for row in summary.iter_rows(min_row=8, max_row=17)}
    assert kpis["反馈数"].value == 3
    assert kpis["已解决"].value == 2
    assert kpis["解决率"].value == pytest.approx(2 / 3)
    assert kpis["解决率"].number_format == "0.0%"
    assert kpis["平均解决时长（小时）"].value == pytest.approx(16.5)
    assert kpis["解决时长中位数（小时）"].value == pytest.approx(16.5)
    assert kpis["目标内解决数"].value == 1  # 3 h urgent yes, 30 h high no

    engineers = book["按工程师"]
    assert [cell.value for cell in engineers[1]][:4] == ["跟踪工程师", "反馈数", "已解决", "解决率"]
    assert [cell.value for cell in engineers[2]][:3] == ["engineer user", 3, 2]
    assert engineers.freeze_panes == "A2"
    assert engineers.auto_filter.ref == "A1:K2"
    assert engineers.column_dimensions["A"].width >= 20
    for title in ("按工程师", "按状态", "按级别", "积压账龄", "月度趋势"):
        assert len(book[title]._charts) == 1, title
    assert type(book["按状态"]._charts[0]).__name__ == "PieChart"
    assert type(book["月度趋势"]._charts[0]).__name__ == "LineChart"
    assert type(book["按工程师"]._charts[0]).__name__ == "BarChart"

    backlog = book["积压账龄"]
    assert [cell.value for cell in backlog[1]] == ["未解决时长", "未解决", "紧急", "高", "中", "低"]
    assert [row[:2] for row in backlog.iter_rows(min_row=2, values_only=True)] == [
        ("不足 1 天", 0),
        ("1–3 天", 0),
        ("3–7 天", 0),
        ("7–30 天", 0),
        ("30 天及以上", 1),
    ]  # the one open feedback of the period (03-02) is months old
    assert backlog["F6"].value == 1 and backlog["B6"].number_format == "#,##0"
    assert backlog.freeze_panes == "A2" and backlog.auto_filter.ref == "A1:F6"

    trend = book["月度趋势"]
    assert [row[0].value for row in trend.iter_rows(min_row=2)] == [
        datetime(2026, 1, 1),
        datetime(2026, 2, 1),
        datetime(2026, 3, 1),
    ]
    assert trend["A2"].number_format == "yyyy-mm"
    assert [row[1].value for row in trend.iter_rows(min_row=2)] == [1, 1, 1]


def test_detail_rows_equal_the_database(login_as, feedback):
    book = _workbook(login_as("manager").get(URL))
    detail = book["反馈明细"]
    assert [cell.value for cell in detail[1]] == DETAIL_HEADER
    assert detail.freeze_panes == "A2"
    assert detail.auto_filter.ref == "A1:P4"
    rows = list(detail.iter_rows(min_row=2, values_only=True))
    expected = feedback.scalars(
        select(Feedback)
        .where(Feedback.created_at < datetime(2026, 4, 1))
        .order_by(Feedback.created_at)
    ).all()
    assert [row[0] for row in rows] == [item.id for item in expected]
    for row, item in zip(rows, expected, strict=True):
        assert row[1] == item.created_at and isinstance(row[1], datetime)
        assert row[2] == item.resolved_at
        assert row[5:8] == (item.customer.code, item.customer.name, item.reporter.name)
        assert row[11:14] == (str(item.level.value), str(item.status.value), "engineer user")
        assert row[14] == item.problem
    assert rows[0][3] == pytest.approx(3) and rows[0][4] == "是"
    assert rows[1][3] == pytest.approx(30) and rows[1][4] == "否"
    assert rows[2][2] is None and rows[2][3] is None


def test_formula_like_text_comes_out_inert(login_as, feedback):
    detail = _workbook(login_as("support").get(URL))["反馈明细"]
    evil_row = next(row for row in detail.iter_rows(min_row=2) if row[6].value == EVIL)
    for cell in (evil_row[6], evil_row[8], evil_row[15]):  # name, "+门店", "-驱动…"
        assert cell.data_type == "s"  # a string, never a formula
        assert cell.quotePrefix  # and stays text when edited in Excel
    plain = next(row for row in detail.iter_rows(min_row=2) if row[6].value == "长益超市")
    assert not plain[6].quotePrefix


def test_customer_filter(login_as, feedback):
    customer_id = feedback.scalar(
        select(Feedback.customer_id).where(Feedback.created_at == datetime(2026, 2, 10, 14, 30))
    )
    book = _workbook(login_as("support").get(f"{URL}&customer_id={customer_id}"))
    assert book["汇总"]["B3"].value.endswith(EVIL)
    assert book["汇总"]["B3"].data_type == "s"
    assert [row[0] for row in book["反馈明细"].iter_rows(min_row=2, values_only=True)] == [
        feedback.scalar(
            select(Feedback.id)
            .where(Feedback.customer_id == customer_id)
            .where(Feedback.created_at < datetime(2026, 4, 1))
        )
    ]


def test_detail_sheet_is_capped_with_a_note(login_as, feedback, monkeypatch):
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 3)  # header, 1 row, the note
    book = _workbook(login_as("support").get(URL))
    detail = list(book["反馈明细"].iter_rows(values_only=True))
    assert len(detail) == 3
    assert "上限" in detail[2][0]
    assert any("上限" in str(row[0]) for row in book["汇总"].iter_rows(values_only=True))


def test_empty_period_still_makes_a_workbook(login_as, feedback):
    book = _workbook(login_as("support").get("/reports/service/xlsx?from=2020-01-01&to=2020-01-31"))
    assert book["汇总"]["B8"].value == 0
    assert list(book["反馈明细"].iter_rows(min_row=2)) == []


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2026-02-30&to=2026-03-31", "开始日期必须是日期"),
        ("from=2026-03-31&to=2026-01-01", "截止日期不能早于开始日期"),
        ("from=2026-01-01&to=2026-03-31&customer_id=987654", "没有 ID 为 987654 的客户"),
        ("from=2026-01-01&to=2026-03-31&customer_id=1%27%20OR%201=1", "请从列表中选择客户"),
        ("to=2026-03-31", "请填写开始日期"),
        ("from=0001-01-01&to=9999-12-31", "开始日期必须是日期"),
    ],
)
def test_bad_input_is_shown_on_the_form_never_a_500(login_as, feedback, query, message):
    response = login_as("support").get(f"/reports/service/xlsx?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert message in page and 'id="service-report-form"' in page


@pytest.mark.parametrize("username", ["sales", "engineer"])
def test_roles_without_the_report_are_refused(login_as, feedback, username):
    visitor = login_as(username)
    for url in ("/reports/service/", URL):
        response = visitor.get(url)
        assert response.status_code == 403, url
        assert response.mimetype != xlsx.XLSX_MIMETYPE
    search = visitor.get("/reports/service/customers?q=超市")
    assert search.status_code in (401, 403) and "长益超市" not in search.get_data(as_text=True)
    assert "服务报表" not in visitor.get("/").get_data(as_text=True)


@pytest.mark.parametrize("username", ["support", "manager", "admin"])
def test_roles_with_the_report_see_it_in_the_menu(login_as, username):
    page = login_as(username).get("/").get_data(as_text=True)
    assert "/reports/service/" in page


def test_anonymous_visitor_is_sent_to_sign_in(visitor):
    response = visitor.get(URL)
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_widest_period_is_a_workbook_not_a_thousand_empty_months(login_as, feedback):
    book = _workbook(login_as("support").get("/reports/service/xlsx?from=1900-01-01&to=9998-12-31"))
    assert book["汇总"]["B8"].value == 4
    assert [row[0] for row in book["月度趋势"].iter_rows(min_row=2, values_only=True)] == [
        datetime(2026, month, 1) for month in (1, 2, 3, 4)
    ]
