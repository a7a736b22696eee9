"""Importing payment plans and payments (回款计划, 回款记录) from .xlsx.

The money rules hold row by row and for the file as a whole (each row counted
with the rows above it); any bad row means nothing is stored, and the report
names the row and the field in Chinese. Contracts are named by number and
only those the importer may see are found.
"""

from __future__ import annotations

import html
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.models import CrmUser, Payment, PaymentPlan
from factories import make_contract, make_customer, make_payment, make_plan

PLAN_HEADER = ["合同编号", "期次", "计划回款日期", "计划金额"]
PAYMENT_HEADER = ["合同编号", "期次", "回款日期", "回款金额", "回款方式", "发票号"]


def _workbook(header, rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _upload(visitor, url, data: bytes):
    return visitor.post(
        url,
        data={"file": (io.BytesIO(data), "导入.xlsx")},
        content_type="multipart/form-data",
    )


def _errors(response) -> list[tuple[str, str, str]]:
    """(row, column, message) of each line of the error table."""
    body = response.get_data(as_text=True)
    if 'id="import-errors"' not in body:
        return []
    table = body[body.index('id="import-errors"') : body.index("</table>")]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table)
    return [tuple(html.unescape(cell) for cell in row) for row in rows]


def _count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def contract(db_session):
    return make_contract(amount=Decimal("1000.00"))


# ---------------------------------------------------------------- plans


def test_sales_imports_a_plan_and_a_row_updates_its_instalment(login_as, db_session, contract):
    sales = login_as("sales")
    existing = make_plan(contract, instalment=1, planned_amount=Decimal("100.00"))
    rows = [
        [contract.number, 1, date(2026, 4, 1), "400.00"],
        [contract.number, 2, "2026-07-01", 350.5],
    ]
    response = _upload(sales, "/payment-plans/import/", _workbook(PLAN_HEADER, rows))
    assert response.status_code == 302, _errors(response)
    db_session.expire_all()
    plans = db_session.scalars(select(PaymentPlan).order_by(PaymentPlan.instalment)).all()
    assert [(p.instalment, p.planned_date, p.planned_amount) for p in plans] == [
        (1, date(2026, 4, 1), Decimal("400.00")),
        (2, date(2026, 7, 1), Decimal("350.50")),
    ]
    assert plans[0].id == existing.id
    assert all(plan.customer_id == contract.customer_id for plan in plans)


def test_the_instalments_of_the_file_together_stay_within_the_contract(
    login_as, db_session, contract
):
    make_plan(contract, instalment=1, planned_amount=Decimal("300.00"))
    rows = [
        [contract.number, 2, "2026-05-01", "500.00"],  # 800 with the stored one: fine
        [contract.number, 3, "2026-06-01", "200.01"],  # 1 000.01 with the row above
    ]
    response = _upload(login_as("sales"), "/payment-plans/import/", _workbook(PLAN_HEADER, rows))
    assert response.status_code == 422
    assert _errors(response) == [
        (
            "3",
            "计划金额",
            f"计划金额：合同 {contract.number} 各期计划金额合计将为 ¥1,000.01，"
            "超过合同金额 ¥1,000.00。",
        )
    ]
    assert _count(db_session, PaymentPlan) == 1


@pytest.mark.parametrize(
    "row,column,message",
    [
        (["HT-NONE", 1, "2026-05-01", "10.00"], "合同编号", "合同编号 HT-NONE 不存在。"),
        ([None, 1, "2026-05-01", "10.00"], "合同编号", "请填写合同。"),
        ([{0}, 1, "2026-05-01", "0"], "计划金额", "计划金额必须大于 0。"),
        ([{0}, 1, "2026-05-01", "-3"], "计划金额", "计划金额必须大于 0。"),
        ([{0}, 1, "2026-05-01", "10.123"], "计划金额", "计划金额最多保留 2 位小数。"),
        ([{0}, 1, "2026-05-01", "十元"], "计划金额", "计划金额必须是金额，例如 12500.00。"),
        ([{0}, 1, "2026-05-01", "1000.01"], "计划金额", None),
        ([{0}, 1.5, "2026-05-01", "10.00"], "期次", "期次必须是整数。"),
        ([{0}, 0, "2026-05-01", "10.00"], "期次", None),
        ([{0}, 1, "明天", "10.00"], "计划回款日期", None),
    ],
)
def test_a_bad_plan_row_is_named_and_nothing_is_stored(
    login_as, db_session, contract, row, column, message
):
    good = [contract.number, 9, "2026-05-01", "10.00"]
    row = [contract.number if cell == {0} else cell for cell in row]
    response = _upload(
        login_as("sales"), "/payment-plans/import/", _workbook(PLAN_HEADER, [good, row])
    )
    assert response.status_code == 422
    errors = _errors(response)
    assert [(number, label) for number, label, _text in errors] == [("3", column)], errors
    if message:
        assert errors[0][2] == message
    assert re.search(r"[\u4e00-\u9fff]", errors[0][2])
    assert _count(db_session, PaymentPlan) == 0


def test_the_same_instalment_twice_in_a_file_is_refused(login_as, db_session, contract):
    rows = [[contract.number, 1, "2026-05-01", "10.00"], [contract.number, 1, "2026-06-01", "5"]]
    response = _upload(login_as("sales"), "/payment-plans/import/", _workbook(PLAN_HEADER, rows))
    assert response.status_code == 422
    assert [error[0] for error in _errors(response)] == ["3"]
    assert _count(db_session, PaymentPlan) == 0


# ---------------------------------------------------------------- payments


def test_finance_imports_payments_naming_their_instalment(login_as, db_session, contract):
    plan = make_plan(contract, instalment=1, planned_amount=Decimal("600.00"))
    rows = [
        [contract.number, 1, "2026-04-01", "300.00", "银行转账", "FP-1"],
        [contract.number, None, date(2026, 4, 8), 200, None, None],
    ]
    response = _upload(login_as("finance"), "/payments/import/", _workbook(PAYMENT_HEADER, rows))
    assert response.status_code == 302, _errors(response)
    db_session.expire_all()
    stored = db_session.scalars(select(Payment).order_by(Payment.paid_on)).all()
    assert [(p.plan_id, p.amount, p.method.name, p.invoice_number) for p in stored] == [
        (plan.id, Decimal("300.00"), "bank_transfer", "FP-1"),
        (None, Decimal("200.00"), "bank_transfer", None),
    ]
    finance = db_session.scalar(select(CrmUser).where(CrmUser.username == "finance"))
    assert {p.recorded_by_id for p in stored} == {finance.id}
    assert {p.customer_id for p in stored} == {contract.customer_id}


def test_payments_of_the_file_together_stay_within_the_contract(login_as, db_session, contract):
    make_payment(contract, amount=Decimal("400.00"))
    rows = [
        [contract.number, None, "2026-04-01", "500.00", None, None],
        [contract.number, None, "2026-04-02", "100.01", None, None],
    ]
    response = _upload(login_as("finance"), "/payments/import/", _workbook(PAYMENT_HEADER, rows))
    assert response.status_code == 422
    assert _errors(response) == [
        (
            "3",
            "回款金额",
            f"回款金额：合同 {contract.number} 的回款合计将为 ¥1,000.01，超过合同金额 ¥1,000.00。",
        )
    ]
    assert _count(db_session, Payment) == 1


@pytest.mark.parametrize(
    "changes,column",
    [
        ({3: "0"}, "回款金额"),
        ({3: "10.555"}, "回款金额"),
        ({3: "1000.01"}, "回款金额"),
        ({1: 7}, "期次"),  # no such instalment on this contract
        ({4: "比特币"}, "回款方式"),
        ({2: "2026-13-01"}, "回款日期"),
    ],
)
def test_a_bad_payment_row_is_named_and_nothing_is_stored(
    login_as, db_session, contract, changes, column
):
    make_plan(contract, instalment=1, planned_amount=Decimal("600.00"))
    good = [contract.number, 1, "2026-04-01", "10.00", "现金", None]
    bad = list(good)
    for index, value in changes.items():
        bad[index] = value
    response = _upload(
        login_as("finance"), "/payments/import/", _workbook(PAYMENT_HEADER, [good, bad])
    )
    assert response.status_code == 422
    errors = _errors(response)
    assert [(number, label) for number, label, _text in errors] == [("3", column)], errors
    assert re.search(r"[\u4e00-\u9fff]", errors[0][2])
    assert _count(db_session, Payment) == 0


def test_an_instalment_of_another_contract_is_not_found(login_as, db_session, contract):
    other = make_contract(contract.customer, amount=Decimal("50.00"))
    make_plan(other, instalment=4, planned_amount=Decimal("50.00"))
    rows = [[contract.number, 4, "2026-04-01", "10.00", None, None]]
    response = _upload(login_as("finance"), "/payments/import/", _workbook(PAYMENT_HEADER, rows))
    assert response.status_code == 422
    assert _errors(response) == [("2", "期次", f"合同 {contract.number} 没有第 4 期。")]
    assert _count(db_session, Payment) == 0


# ---------------------------------------------------------------- scope and permissions


def test_a_contract_outside_the_importers_scope_is_not_found(login_as, db_session):
    manager = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "manager"))
    theirs = make_contract(make_customer(owner_id=manager), amount=Decimal("100.00"))
    rows = [[theirs.number, 1, "2026-05-01", "10.00"]]
    response = _upload(login_as("sales"), "/payment-plans/import/", _workbook(PLAN_HEADER, rows))
    assert response.status_code == 422
    assert _errors(response) == [("2", "合同编号", f"合同编号 {theirs.number} 不存在。")]
    assert _count(db_session, PaymentPlan) == 0


@pytest.mark.parametrize(
    "role,url,allowed",
    [
        ("sales", "/payment-plans/import/", True),
        ("finance", "/payment-plans/import/", False),  # plans: read only
        ("finance", "/payments/import/", True),
        ("sales", "/payments/import/", False),  # payments: read only
        ("manager", "/payments/import/", False),
        ("support", "/payment-plans/import/", False),
    ],
)
def test_import_needs_the_modules_add_permission(login_as, db_session, role, url, allowed):
    contract = make_contract(amount=Decimal("100.00"))
    visitor = login_as(role)
    assert (visitor.get(url).status_code == 200) is allowed
    assert (visitor.get(url + "template.xlsx").status_code == 200) is allowed
    header, row = (
        (PLAN_HEADER, [contract.number, 1, "2026-05-01", "10.00"])
        if "plans" in url
        else (PAYMENT_HEADER, [contract.number, None, "2026-05-01", "10.00", None, None])
    )
    response = _upload(visitor, url, _workbook(header, [row]))
    assert (response.status_code == 302) is allowed
    stored = _count(db_session, PaymentPlan) + _count(db_session, Payment)
    assert stored == (1 if allowed else 0)


def test_list_pages_offer_import_to_who_may_add(login_as):
    assert 'id="import-xlsx"' in login_as("finance").get("/payments/list/").get_data(as_text=True)
    assert 'id="import-xlsx"' not in login_as("sales").get("/payments/list/").get_data(as_text=True)
    assert 'id="import-xlsx"' in login_as("sales").get("/payment-plans/list/").get_data(
        as_text=True
    )


def test_the_templates_have_chinese_headers_and_help(login_as):
    finance = login_as("finance")
    workbook = load_workbook(io.BytesIO(finance.get("/payments/import/template.xlsx").data))
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == [
        "合同编号 *",
        "期次",
        "回款日期 *",
        "回款金额 *",
        "回款方式",
        "发票号",
    ]
    help_text = " ".join(
        str(cell.value) for row in workbook.worksheets[1].iter_rows() for cell in row if cell.value
    )
    assert "合同编号" in help_text and "两位小数" in help_text
