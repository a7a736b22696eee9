"""List export: ``…/export.xlsx`` holds exactly the rows the list's filters and sort select."""

from datetime import datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

import factories
from app.models import Customer, Feedback, FeedbackLevel, FeedbackStatus
from app.reports import xlsx
from factories import make_customer, make_feedback, make_reporter

MODULES = {
    "/customers": "CustomerView",
    "/contacts": "ContactView",
    "/contracts": "ContractView",
    "/products": "ProductView",
    "/licenses": "LicenseView",
    "/feedback": "FeedbackView",
    "/reporters": "ReporterView",
}
# String columns: 0 starts with, 1 ends with, 2 contains; relations and enums: 0 equals.
CONTAINS, EQUALS = 2, 0
EVIL = '=HYPERLINK("http://x","y")'


def _rows(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype == xlsx.XLSX_MIMETYPE
    sheet = load_workbook(BytesIO(response.data)).worksheets[0]
    return sheet, list(sheet.iter_rows(values_only=True))


@pytest.fixture
def customers(db_session):
    """30 customers named 长益…, more than a page of 25, and 5 others."""
    for n in range(30):
        make_customer(code=f"CY{n:03d}", name=f"长益连锁{n:02d}")
    for n in range(5):
        make_customer(code=f"ZZ{n:03d}", name=f"其他公司{n}")
    return db_session


def test_customer_export_is_every_filtered_row_in_the_list_order(login_as, customers):
    query = (
        f"_flt_{CONTAINS}_name=长益&_oc_CustomerView=code&_od_CustomerView=desc&page_CustomerView=1"
    )
    sheet, rows = _rows(login_as("sales").get(f"/customers/export.xlsx?{query}"))
    assert rows[0] == (
        "客户编码",
        "公司名称",
        "公司类别",
        "客户状态",
        "重要级别",
        "电话",
        "负责人",
        "最后跟进时间",
        "下次跟进时间",
    )
    expected = customers.scalars(
        select(Customer.code).where(Customer.name.contains("长益")).order_by(Customer.code.desc())
    ).all()
    assert len(expected) == 30
    assert [row[0] for row in rows[1:]] == expected  # all pages, not just page 1
    assert rows[1][3] == "签约"  # enum label, not the stored code
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:I31"


def test_customer_export_without_filters_has_every_customer(login_as, customers):
    _sheet, rows = _rows(login_as("manager").get("/customers/export.xlsx"))
    assert len(rows) == 1 + 35
    assert [row[0] for row in rows[1:]] == sorted(row[0] for row in rows[1:])  # base order


@pytest.fixture
def feedback(db_session):
    a = make_reporter(make_customer(name="甲公司"))
    b = make_reporter(make_customer(name="乙公司"))
    for day in range(1, 29):
        reporter = a if day % 2 else b
        status = FeedbackStatus.resolved if day % 3 == 0 else FeedbackStatus.new
        make_feedback(
            reporter,
            created_at=datetime(2026, 2, day, 10, 0),
            status=status,
            level=FeedbackLevel.high if day % 4 == 0 else FeedbackLevel.low,
            resolved_at=datetime(2026, 2, day, 12, 0)
            if status is FeedbackStatus.resolved
            else None,
        )
    return {"session": db_session, "a": a.customer_id, "b": b.customer_id}


def test_feedback_export_honours_relation_and_enum_filters(login_as, feedback):
    session = feedback["session"]
    query = f"_flt_{EQUALS}_customer={feedback['a']}&_flt_{EQUALS}_status=new"
    _sheet, rows = _rows(login_as("support").get(f"/feedback/export.xlsx?{query}"))
    assert rows[0] == (
        "编号",
        "问题描述",
        "客户",
        "问题级别",
        "问题状态",
        "跟踪工程师",
        "创建日期",
        "城市",
        "门店",
    )
    expected = session.scalars(
        select(Feedback)
        .where(Feedback.customer_id == feedback["a"], Feedback.status == FeedbackStatus.new)
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
    ).all()
    assert len(expected) == 9  # odd days not divisible by 3
    assert [row[0] for row in rows[1:]] == [item.id for item in expected]
    first = rows[1]
    assert first[2] == str(expected[0].customer) and first[4] == "新建"
    assert isinstance(first[6], datetime) and first[6] == expected[0].created_at


def test_feedback_export_sorted_by_the_list_sort(login_as, feedback):
    query = "_oc_FeedbackView=level&_od_FeedbackView=asc"
    _sheet, rows = _rows(login_as("manager").get(f"/feedback/export.xlsx?{query}"))
    assert len(rows) == 1 + 28
    levels = [row[3] for row in rows[1:]]
    assert levels == ["高"] * 7 + ["低"] * 21  # stored codes sort: high < low


def test_unknown_sort_column_falls_back_to_the_list_order(login_as, feedback):
    query = "_oc_FeedbackView=problem;drop&_od_FeedbackView=asc"
    _sheet, rows = _rows(login_as("manager").get(f"/feedback/export.xlsx?{query}"))
    created = [row[6] for row in rows[1:]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    "query", ["_flt_0_status=bogus", "_flt_9_problem=x", "_flt_0_created_at=x"]
)
def test_unusable_filters_never_give_a_500(login_as, feedback, query):
    response = login_as("manager").get(f"/feedback/export.xlsx?{query}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response.headers["Location"].endswith("/feedback/list/")


@pytest.mark.parametrize("route_base", MODULES)
def test_every_module_exports_its_list(admin, db_session, route_base):
    license = factories.make_license()
    feedback = make_feedback(make_reporter(license.customer))
    factories.make_contact(license.customer)
    factories.make_contract(license.customer)
    _sheet, rows = _rows(admin.get(f"{route_base}/export.xlsx"))
    assert len(rows) >= 2
    assert all(isinstance(label, str) and label for label in rows[0])
    assert feedback.id  # the rows above exist in every module


@pytest.mark.parametrize("route_base", MODULES)
def test_every_list_page_has_the_export_button(admin, route_base):
    page = admin.get(
        f"{route_base}/list/?_oc_{MODULES[route_base]}=id&_od_{MODULES[route_base]}=desc"
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="export-xlsx"' in html and "导出 Excel" in html
    assert (
        f"{route_base}/export.xlsx?_oc_{MODULES[route_base]}=id&amp;_od_{MODULES[route_base]}=desc"
    ) in html


def test_list_page_has_an_export_button_with_the_filters(login_as, feedback):
    page = login_as("support").get("/feedback/list/?_flt_0_status=new").get_data(as_text=True)
    assert 'id="export-xlsx"' in page
    assert "/feedback/export.xlsx?_flt_0_status=new" in page
    assert "导出 Excel" in page


def test_no_export_button_without_the_permission(login_as, customers):
    page = login_as("support").get("/customers/list/").get_data(as_text=True)
    assert "公司名称" in page and 'id="export-xlsx"' not in page


@pytest.mark.parametrize(
    "username, url, allowed",
    [
        ("sales", "/customers/export.xlsx", True),
        ("sales", "/feedback/export.xlsx", False),
        ("engineer", "/feedback/export.xlsx", False),  # reads feedback, may not export it
        ("support", "/feedback/export.xlsx", True),
        ("support", "/customers/export.xlsx", False),  # reads customers, may not export them
        ("manager", "/licenses/export.xlsx", True),
        ("engineer", "/products/export.xlsx", True),
    ],
)
def test_export_needs_the_export_permission(login_as, feedback, username, url, allowed):
    response = login_as(username).get(url)
    if allowed:
        assert response.status_code == 200 and response.mimetype == xlsx.XLSX_MIMETYPE
    else:
        assert response.status_code == 403
        assert response.mimetype != xlsx.XLSX_MIMETYPE


def test_anonymous_export_is_sent_to_sign_in(visitor):
    response = visitor.get("/customers/export.xlsx")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


@pytest.mark.parametrize(
    "evil",
    [
        EVIL,
        "+1+2",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "#DIV/0!",
    ],
    ids=["equals", "plus", "minus", "at", "tab", "carriage-return", "error-code"],
)
def test_formula_in_a_customer_name_is_inert_text(login_as, db_session, evil):
    make_customer(code="C-EVIL", name=evil, phone=None)
    sheet = load_workbook(BytesIO(login_as("sales").get("/customers/export.xlsx").data)).worksheets[
        0
    ]
    cell = sheet["B2"]
    assert cell.value == evil.replace("\r", "\n")  # unchanged text (XML reads a CR as LF) …
    assert cell.data_type == "s"  # … stored as a string, not a formula …
    assert cell.quotePrefix  # … that Excel keeps as text even when edited


def test_export_is_capped_at_the_row_limit_with_a_note(login_as, customers, monkeypatch):
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 4)  # header, 2 rows, the note
    _sheet, rows = _rows(login_as("sales").get("/customers/export.xlsx"))
    assert len(rows) == 4
    assert "上限" in rows[3][0]


def test_file_name_is_chinese_and_dated_with_an_ascii_fallback(login_as, customers):
    disposition = login_as("sales").get("/customers/export.xlsx").headers["Content-Disposition"]
    assert "filename*=UTF-8''%E5%AE%A2%E6%88%B7%E5%88%97%E8%A1%A8_" in disposition  # 客户列表_
    assert 'filename="customers_' in disposition


def test_a_computed_column_is_exported_from_its_sql_expression(
    app, login_as, db_session, monkeypatch
):
    """A view may name a column that is not a model attribute (the license state)."""
    from datetime import date

    from app.services.licenses import LicenseState, state_expression, today

    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "LicenseView")
    monkeypatch.setattr(view, "export_column_names", ["serial", "state", "valid_to"])
    monkeypatch.setattr(
        view,
        "export_expressions",
        {
            "state": lambda: (
                state_expression(today()),
                lambda code: str(LicenseState[code].value),
            ),
        },
    )
    product = factories.make_product()
    expired = factories.make_license(
        product, valid_from=date(2020, 1, 1), valid_to=date(2020, 12, 31)
    )
    factories.make_license(product, valid_from=date(2020, 1, 1), valid_to=date(2099, 12, 31))
    manager = login_as("manager")
    _sheet, rows = _rows(manager.get("/licenses/export.xlsx?_flt_0_state=expired"))
    assert rows[0] == ("授权序列号", "授权状态", "终止日期")
    assert rows[1:] == [(expired.serial, "已过期", datetime(2020, 12, 31))]
    _sheet, rows = _rows(
        manager.get("/licenses/export.xlsx?_oc_LicenseView=state&_od_LicenseView=asc")
    )
    assert sorted(row[1] for row in rows[1:]) == ["已过期", "有效"]
