"""Builders of valid records for arranging tests, written through the ORM.

Each ``make_*`` takes overrides as keyword arguments and commits. Call them
inside an app context (the ``db_session`` fixture gives one).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import (
    Contact,
    Contract,
    CrmUser,
    Customer,
    CustomerStatus,
    Feedback,
    FeedbackLevel,
    FeedbackStatus,
    FollowUp,
    FollowUpMethod,
    License,
    Payment,
    PaymentMethod,
    PaymentPlan,
    Product,
    Reporter,
)

_numbers = itertools.count(1)

# A real GB 11643 number (check digit X) for contacts.
VALID_NATIONAL_ID = "11010519491231002X"


def _next() -> int:
    return next(_numbers)


def _save(item):
    db.session.add(item)
    db.session.commit()
    return item


# Customers belong to the seeded salesperson unless a test says otherwise
# (``owner_id=None``: the pool), so every role sees them as before data scopes.
DEFAULT_OWNER = "sales"


def make_customer(**overrides) -> Customer:
    n = _next()
    values = dict(
        owner_id=db.session.scalar(select(CrmUser.id).where(CrmUser.username == DEFAULT_OWNER)),
        code=f"C{n:06d}",
        name=f"测试客户{n}",
        status=CustomerStatus.signed,
        phone="021-62345678",
        email=f"c{n}@example.com",
    )
    return _save(Customer(**{**values, **overrides}))


def make_contact(customer=None, **overrides) -> Contact:
    customer = customer or make_customer()
    values = dict(customer=customer, name=f"联系人{_next()}", phone="13812345678")
    return _save(Contact(**{**values, **overrides}))


def make_contract(customer=None, **overrides) -> Contract:
    customer = customer or make_customer()
    values = dict(
        customer=customer,
        number=f"HT-{_next():06d}",
        sign_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
        amount=Decimal("12345.67"),
    )
    return _save(Contract(**{**values, **overrides}))


def make_plan(contract=None, **overrides) -> PaymentPlan:
    contract = contract or make_contract()
    values = dict(
        contract=contract,
        instalment=_next(),
        planned_date=date(2026, 3, 1),
        planned_amount=Decimal("1000.00"),
    )
    return _save(PaymentPlan(**{**values, **overrides}))


def make_payment(contract=None, **overrides) -> Payment:
    contract = contract or make_contract()
    values = dict(
        contract=contract,
        paid_on=date(2026, 3, 5),
        amount=Decimal("500.00"),
        method=PaymentMethod.bank_transfer,
        invoice_number=f"FP-{_next():06d}",
    )
    return _save(Payment(**{**values, **overrides}))


def make_product(customer=None, **overrides) -> Product:
    customer = customer or make_customer()
    values = dict(customer=customer, name=f"门店管理系统{_next()}", version="5.2")
    return _save(Product(**{**values, **overrides}))


def make_license(product=None, **overrides) -> License:
    product = product or make_product()
    values = dict(
        customer=product.customer,
        product=product,
        serial=f"SN-{_next():08d}",
        seats=10,
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
    )
    return _save(License(**{**values, **overrides}))


def make_reporter(customer=None, **overrides) -> Reporter:
    customer = customer or make_customer()
    values = dict(
        customer=customer,
        name=f"店长{_next()}",
        store="南京路店",
        phone="13912345678",
        email="store@example.com",
    )
    return _save(Reporter(**{**values, **overrides}))


def make_feedback(reporter=None, **overrides) -> Feedback:
    reporter = reporter or make_reporter()
    values = dict(
        customer=reporter.customer,
        reporter=reporter,
        problem=f"收银机无法打印小票{_next()}",
        level=FeedbackLevel.medium,
        status=FeedbackStatus.new,
        created_at=datetime(2026, 3, 1, 9, 0),
        city="上海",
        store=reporter.store,
    )
    return _save(Feedback(**{**values, **overrides}))


def make_followup(customer=None, **overrides) -> FollowUp:
    customer = customer or make_customer()
    values = dict(
        customer=customer,
        method=FollowUpMethod.phone,
        content=f"电话回访，了解门店系统使用情况{_next()}",
        followed_at=datetime(2026, 3, 1, 10, 0),
        next_at=datetime(2026, 3, 8, 10, 0),
        next_step="上门演示新版本",
        user_id=customer.owner_id,
    )
    return _save(FollowUp(**{**values, **overrides}))
