"""The receivables report (回款报表) on a hand-built data set whose answers are stated here.

As of 2026-06-01, for the period 2026-01-01..2026-06-30:

Customer A (owner: sales), contract A-1 of ¥1,000.00
  instalments  #1 2026-01-15 ¥400   #2 2026-03-15 ¥300   #3 2026-08-01 ¥300
  payments     2026-01-20 ¥400      2026-04-10 ¥100          (received ¥500)
  → #1 covered; #2 ¥200 open, 78 days late (31–90); #3 ¥300 not yet due
Customer B (owner: manager), contract B-1 of ¥2,000.00
  instalments  #1 2025-10-01 ¥1,000 (before the period)   #2 2026-05-20 ¥1,000
  payments     2026-02-01 ¥500                               (received ¥500)
  → #1 ¥500 open, 243 days late (over 180); #2 ¥1,000 open, 12 days late (1–30)

Months planned: Jan 400, Mar 300, May 1,000; received: Jan 400, Feb 500, Apr 100.
Per customer (amount, received, outstanding, overdue): A 1000/500/500/200, B 2000/500/1500/1500.
Aging: not due 300 (1), 1–30 1000 (1), 31–90 200 (1), 91–180 0 (0), over 180 500 (1).
Summary: planned 1,700, received 1,000, outstanding 2,000, overdue 1,700.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.models import CrmUser
from app.services import payments
from factories import make_contract, make_customer, make_payment, make_plan

URL = "/reports/receivables/xlsx?from=2026-01-01&to=2026-06-30"
YUAN = '"¥"#,##0.00'


@pytest.fixture
def known(db_session, monkeypatch):
    monkeypatch.setattr(payments, "today", lambda: date(2026, 6, 1))
    manager_id = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "manager"))
    a = make_contract(make_customer(code="RA", name="甲公司"), number="A-1", amount=Decimal(1000))
    b = make_contract(
        make_customer(code="RB", name="乙公司", owner_id=manager_id),
        number="B-1",
        amount=Decimal(2000),
    )
    for contract, number, day, amount in (
        (a, 1, date(2026, 1, 15), 400),
        (a, 2, date(2026, 3, 15), 300),
        (a, 3, date(2026, 8, 1), 300),
        (b, 1, date(2025, 10, 1), 1000),
        (b, 2, date(2026, 5, 20), 1000),
    ):
        make_plan(contract, instalment=number, planned_date=day, planned_amount=Decimal(amount))
    for contract, day, amount in (
        (a, date(2026, 1, 20), 400),
        (a, date(2026, 4, 10), 100),
        (b, date(2026, 2, 1), 500),
    ):
        make_payment(contract, paid_on=day, amount=Decimal(amount))


def _workbook(visitor):
    response = visitor.get(URL)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.data.startswith(b"PK")
    return load_workbook(io.BytesIO(response.data))


def _table(ws):
    rows = list(ws.iter_rows(values_only=True))
    return rows[0], rows[1:]


def test_the_numbers_are_the_stated_answers(known, login_as):
    book = _workbook(login_as("finance"))
    assert book.sheetnames == [
        "汇总",
        "按月",
        "按客户",
        "按负责人",
        "账龄",
        "回款计划明细",
        "回款记录",
    ]
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row}
    assert summary["期间内计划回款"] == 1700
    assert summary["期间内已回款"] == 1000
    assert summary["未回款"] == 2000
    assert summary["逾期金额"] == 1700

    _header, months = _table(book["按月"])
    assert [(m.date(), p, r) for m, p, r in months] == [
        (date(2026, 1, 1), 400, 400),
        (date(2026, 2, 1), 0, 500),
        (date(2026, 3, 1), 300, 0),
        (date(2026, 4, 1), 0, 100),
        (date(2026, 5, 1), 1000, 0),
        (date(2026, 6, 1), 0, 0),
    ]
    header, customers = _table(book["按客户"])
    assert header == ("客户", "合同金额", "已回款", "未回款", "逾期金额")
    assert customers == [
        ("RB 乙公司", 2000, 500, 1500, 1500),
        ("RA 甲公司", 1000, 500, 500, 200),
    ]
    _header, owners = _table(book["按负责人"])
    assert owners == [
        ("manager user (manager)", 2000, 500, 1500, 1500),
        ("sales user (sales)", 1000, 500, 500, 200),
    ]
    _header, aging = _table(book["账龄"])
    assert aging == [
        ("未到期", 300, 1),
        ("1–30 天", 1000, 1),
        ("31–90 天", 200, 1),
        ("91–180 天", 0, 0),
        ("180 天以上", 500, 1),
    ]
    _header, plans = _table(book["回款计划明细"])
    assert [(row[0], row[3], row[7], row[8]) for row in plans] == [
        ("A-1", 1, 0, None),
        ("A-1", 2, 200, 78),
        ("B-1", 2, 1000, 12),
    ]
    _header, paid = _table(book["回款记录"])
    assert [(row[0], row[3].date(), row[4], row[5]) for row in paid] == [
        ("A-1", date(2026, 1, 20), 400, "银行转账"),
        ("B-1", date(2026, 2, 1), 500, "银行转账"),
        ("A-1", date(2026, 4, 10), 100, "银行转账"),
    ]


def test_amounts_are_yuan_formatted_and_charts_native(known, login_as):
    book = _workbook(login_as("manager"))
    assert book["按客户"]["B2"].number_format == YUAN
    assert book["按月"]["B2"].number_format == YUAN
    assert book["按月"]["A2"].number_format == "yyyy-mm"
    assert book["回款计划明细"]["E2"].number_format == "yyyy-mm-dd"
    for title in ("按月", "按客户", "按负责人", "账龄"):
        charts = book[title]._charts
        assert len(charts) == 1 and type(charts[0]).__name__ == "BarChart", title
    for ws in book.worksheets:
        assert ws.page_setup.fitToWidth == 1, ws.title
        assert ws.oddHeader.center.text == "回款报表 2026-01-01 至 2026-06-30", ws.title


def test_the_report_follows_the_data_scope(known, login_as):
    """The salesperson's scope is their own customers: B (the manager's) is not there."""
    from app.permissions import RECEIVABLES_REPORT, ROLE_GRANTS

    assert RECEIVABLES_REPORT not in ROLE_GRANTS["sales"]
    response = login_as("sales").get(URL)
    assert response.status_code == 403


def test_the_form_and_bad_periods(known, login_as):
    finance = login_as("finance")
    page = finance.get("/reports/receivables/")
    assert page.status_code == 200 and "回款报表" in page.get_data(as_text=True)
    bad = finance.get("/reports/receivables/xlsx?from=2026-06-30&to=2026-01-01")
    assert bad.status_code == 400 and "截止日期不能早于开始日期" in bad.get_data(as_text=True)
    assert finance.get("/reports/receivables/xlsx?from=x&to=").status_code == 400
    assert login_as("support").get("/reports/receivables/").status_code == 403


# ---------------------------------------------------------------- SQL against plain Python


def _reference(start, end, as_of):
    """The report's figures worked out row by row in Python, first due first paid
    (``payments.allocate``), to hold the SQL aggregates to."""
    from app.extensions import db
    from app.models import Contract, Payment, PaymentPlan
    from app.services.receivables import aging_index

    contracts = db.session.scalars(select(Contract)).all()
    plans = db.session.scalars(select(PaymentPlan)).all()
    paid = db.session.scalars(select(Payment)).all()

    def owner(customer):
        user = customer.owner
        return "池" if user is None else f"{user.first_name} ({user.username})"

    received = {}
    for payment in paid:
        if payment.paid_on <= as_of:
            received[payment.contract_id] = received.get(payment.contract_id, 0) + payment.amount
    customers, owners = {}, {}
    for contract in contracts:
        label = f"{contract.customer.code} {contract.customer.name}"
        for rows, key in ((customers, label), (owners, owner(contract.customer))):
            row = rows.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
            row[0] += contract.amount
            row[1] += received.get(contract.id, 0)
    aging = [[Decimal(0), 0] for _ in range(5)]
    months, details = {}, []
    by_contract = {}
    for plan in plans:
        by_contract.setdefault(plan.contract_id, []).append(plan)
    for contract_id, items in by_contract.items():
        instalments = payments.allocate(items, received.get(contract_id, Decimal(0)), as_of)
        for item in instalments:
            plan, left = item.plan, item.open_amount
            days = (as_of - plan.planned_date).days if plan.planned_date < as_of else None
            if left > 0:
                aging[aging_index(days)][0] += left
                aging[aging_index(days)][1] += 1
                if days is not None:
                    customer = plan.contract.customer
                    customers[f"{customer.code} {customer.name}"][2] += left
                    owners[owner(customer)][2] += left
            if start <= plan.planned_date <= end:
                month = plan.planned_date.replace(day=1)
                months.setdefault(month, [Decimal(0), Decimal(0)])[0] += plan.planned_amount
                details.append(
                    (
                        plan.planned_date,
                        plan.contract.number,
                        plan.instalment,
                        plan.planned_amount,
                        item.covered,
                        days if left > 0 else None,
                    )
                )
    for payment in paid:
        if start <= payment.paid_on <= end:
            month = payment.paid_on.replace(day=1)
            months.setdefault(month, [Decimal(0), Decimal(0)])[1] += payment.amount
    return customers, owners, aging, months, sorted(details)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_sql_figures_equal_a_plain_python_computation(db_session, seed):
    """Random contracts, instalments (some on one day) and payments, some over the plan."""
    import random
    from datetime import timedelta

    from app.services.receivables import _owner_label, receivables

    rng = random.Random(seed)
    manager_id = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "manager"))
    customers = [
        make_customer(owner_id=rng.choice([None, manager_id, None]) if n % 3 else None)
        for n in range(6)
    ] + [make_customer() for _ in range(3)]
    day0 = date(2025, 1, 1)
    for _n in range(40):
        amount = Decimal(rng.randint(1, 500_000)) / 100
        contract = make_contract(rng.choice(customers), amount=amount)
        left = amount
        for instalment in range(1, rng.randint(0, 5) + 1):
            part = min(left, Decimal(rng.randint(1, 200_000)) / 100)
            if part <= 0:
                break
            left -= part
            day = day0 + timedelta(days=rng.choice([0, 10, 10, rng.randint(0, 700)]))
            make_plan(contract, instalment=instalment, planned_date=day, planned_amount=part)
        paid_left = amount
        for _ in range(rng.randint(0, 4)):
            part = min(paid_left, Decimal(rng.randint(1, 200_000)) / 100)
            if part <= 0:
                break
            paid_left -= part
            day = day0 + timedelta(days=rng.randint(0, 700))
            make_payment(contract, paid_on=day, amount=part)
    start, end, as_of = date(2025, 3, 1), date(2026, 2, 28), date(2025, 11, 17)

    data = receivables(start, end, as_of, detail_rows=10_000)
    customers_ref, owners_ref, aging_ref, months_ref, details_ref = _reference(start, end, as_of)

    def balances(rows):
        return {row.label: [row.amount, row.received, row.overdue] for row in rows}

    assert balances(data.customers) == {
        label: row for label, row in customers_ref.items() if row[0] - row[1] or row[2]
    }
    pool = _owner_label(None, None)
    assert balances(data.owners) == {
        (pool if label == "池" else label): row for label, row in owners_ref.items()
    }
    assert [[row.amount, row.count] for row in data.aging] == aging_ref
    assert {
        row.month: [row.planned, row.received] for row in data.months if row.planned or row.received
    } == months_ref
    assert [
        (
            row.planned_date,
            row.contract,
            row.instalment,
            row.planned_amount,
            row.covered,
            row.days_overdue,
        )
        for row in data.plans
    ] == details_ref
    assert data.plan_count == len(details_ref) == len(data.plans)
    assert data.payment_count == len(data.payments)
    assert all(isinstance(row.amount, Decimal) for row in data.customers)


def test_the_detail_sheets_list_the_newest_rows_and_say_so(known, login_as, monkeypatch):
    from app.services import receivables as receivables_module

    monkeypatch.setattr(receivables_module, "DETAIL_ROWS", 2)
    book = _workbook(login_as("finance"))
    rows = list(book["回款计划明细"].iter_rows(values_only=True))
    assert [(row[0], row[3]) for row in rows[1:3]] == [("A-1", 2), ("B-1", 2)]
    assert "最新的 2 行" in rows[-1][0] and "/payment-plans/list/" in rows[-1][0]
    paid = list(book["回款记录"].iter_rows(values_only=True))
    assert [row[3].date() for row in paid[1:3]] == [date(2026, 2, 1), date(2026, 4, 10)]
    assert "3 行" in paid[-1][0]
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row}
    assert summary["期间内已回款"] == 1000  # the totals still count every row
