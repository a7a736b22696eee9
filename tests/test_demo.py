"""``flask crm demo``: realistic rows that pass every rule, reproducibly, never over real data."""

import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    BUSINESS_MODELS,
    Contact,
    Contract,
    CrmUser,
    Customer,
    Feedback,
    FeedbackStatus,
    License,
    Payment,
    PaymentPlan,
    Product,
    Reporter,
)
from app.services import demo
from app.services.licenses import default_trial_end
from app.services.validation import is_valid_national_id, rule_fields, validate, values_of
from factories import make_customer

NOW = datetime(2026, 6, 1)


def fill(customers=12, feedback=400, seed=7, force=False):
    plan = demo.prepare(customers, feedback, seed=seed, force=force, now=NOW)
    counts = demo.write(plan)
    db.session.remove()
    return plan, counts


def table_counts():
    return {
        model: db.session.scalar(select(func.count()).select_from(model))
        for model in BUSINESS_MODELS
    }


def fingerprint() -> str:
    """A digest of every business row, in id order."""
    digest = hashlib.sha256()
    for model in BUSINESS_MODELS:
        table = model.__table__
        for row in db.session.execute(select(table).order_by(table.c.id)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_counts_are_as_asked_and_reported(db_session):
    _plan, counts = fill(customers=12, feedback=400)
    assert counts[Customer] == 12
    assert counts[Feedback] == 400
    assert table_counts() == {model: counts[model] for model in BUSINESS_MODELS}
    for model in (Contact, Product, License, Reporter):
        assert counts[model] >= 12  # every customer has at least one


def test_every_row_passes_the_record_rules(db_session):
    fill(customers=10, feedback=150)
    for model in BUSINESS_MODELS:
        fields = rule_fields(model)
        for item in db_session.scalars(select(model)):
            errors = validate(model, values_of(item, fields), pk=item.id)
            assert errors == {}, (model.__name__, item.id, errors)
    for contact in db_session.scalars(select(Contact)):
        assert is_valid_national_id(contact.national_id)


def test_feedback_is_consistent(db_session):
    fill(customers=15, feedback=600)
    engineers = set(
        db_session.scalars(
            select(CrmUser.id).where(CrmUser.username.in_(["engineer", "engineer2"]))
        )
    )
    statuses = set()
    for item in db_session.scalars(select(Feedback)):
        statuses.add(item.status)
        assert NOW - timedelta(days=3 * 365 + 1) <= item.created_at < NOW
        if item.status in (FeedbackStatus.resolved, FeedbackStatus.closed):
            assert item.resolved_at is not None and item.resolved_at >= item.created_at
            assert item.resolved_at < NOW
            assert item.cause
            assert item.engineer_id in engineers
        else:
            assert item.resolved_at is None
            assert item.cause is None
        if item.status == FeedbackStatus.in_progress:
            assert item.engineer_id in engineers
        assert item.reporter.customer_id == item.customer_id
        assert item.product is None or item.product.customer_id == item.customer_id
        assert (item.city, item.store) != (None, None)
        assert item.store == item.reporter.store
    assert statuses == set(FeedbackStatus)


def test_licenses_cover_trials_expiring_and_expired(app, db_session):
    fill(customers=40, feedback=0)
    today = NOW.date()
    warning = app.config["LICENSE_EXPIRY_WARNING_DAYS"]
    licenses = list(db_session.scalars(select(License)))
    assert all(item.valid_to >= item.valid_from for item in licenses)
    trials = [item for item in licenses if item.is_trial]
    assert trials
    assert all(item.valid_to == default_trial_end(item.valid_from) for item in trials)
    others = [item for item in licenses if not item.is_trial]
    assert any(item.valid_to < today for item in others)
    assert any(today <= item.valid_to <= today + timedelta(days=warning) for item in others)
    assert any(item.valid_to > today + timedelta(days=warning) for item in others)


def test_contracts_have_plans_of_one_to_four_instalments_paid_mostly_on_time(db_session):
    fill(customers=40, feedback=0)
    today = NOW.date()
    contracts = {item.id: item for item in db_session.scalars(select(Contract))}
    plans = list(db_session.scalars(select(PaymentPlan)))
    payments = list(db_session.scalars(select(Payment)))
    by_contract: dict[int, list] = {}
    for plan in plans:
        by_contract.setdefault(plan.contract_id, []).append(plan)
    assert set(by_contract) == set(contracts)
    for contract_id, instalments in by_contract.items():
        assert 1 <= len(instalments) <= 4
        assert sum(plan.planned_amount for plan in instalments) == contracts[contract_id].amount
        assert all(plan.customer_id == contracts[contract_id].customer_id for plan in instalments)
    assert {len(instalments) for instalments in by_contract.values()} == {1, 2, 3, 4}
    paid = {payment.plan_id: payment for payment in payments}
    assert all(payment.paid_on <= today for payment in payments)
    due = [plan for plan in plans if plan.planned_date <= today]
    on_time = [p for p in due if p.id in paid and paid[p.id].paid_on <= p.planned_date]
    late = [p for p in due if p.id in paid and paid[p.id].paid_on > p.planned_date]
    partial = [p for p in due if p.id in paid and paid[p.id].amount < p.planned_amount]
    unpaid = [p for p in due if p.id not in paid]
    assert len(on_time) > len(due) / 2
    assert late and partial and unpaid


def test_same_seed_same_data_other_seed_other_data(db_session):
    fill(seed=42, feedback=300)
    first = fingerprint()
    fill(seed=42, feedback=300, force=True)
    assert fingerprint() == first
    fill(seed=43, feedback=300, force=True)
    assert fingerprint() != first


def test_refuses_a_database_with_business_records(app, db_session):
    customer = make_customer(name="真实客户")
    before = table_counts()
    result = app.test_cli_runner().invoke(
        args=["crm", "demo", "--customers", "3", "--feedback", "10"]
    )
    assert result.exit_code != 0
    assert "已有业务数据" in result.output and "--force" in result.output
    db_session.expire_all()
    assert table_counts() == before
    assert db_session.get(Customer, customer.id).name == "真实客户"


def test_force_replaces_business_records(app, db_session):
    make_customer(name="真实客户")
    result = app.test_cli_runner().invoke(
        args=["crm", "demo", "--customers", "3", "--feedback", "20", "--seed", "5", "--force"]
    )
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Customer)) == 3
    assert db_session.scalar(select(Customer).where(Customer.name == "真实客户")) is None
    assert db_session.scalar(select(func.count()).select_from(Feedback)) == 20


def test_the_command_fills_an_empty_database(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["crm", "demo", "--customers", "4", "--feedback", "30", "--seed", "9"]
    )
    assert result.exit_code == 0, result.output
    assert "9" in result.output
    assert db_session.scalar(select(func.count()).select_from(Feedback)) == 30


@pytest.mark.parametrize(
    "args", [["--customers", "0"], ["--feedback", "-1"], ["--customers", "abc"]]
)
def test_bad_sizes_are_refused(app, db_session, args):
    result = app.test_cli_runner().invoke(args=["crm", "demo", *args])
    assert result.exit_code == 2
    assert table_counts() == {model: 0 for model in BUSINESS_MODELS}


def test_demo_engineers_when_nobody_has_the_engineer_role(app, db_session, visitor):
    """Without engineers the demo creates a few, who cannot sign in until given a password."""
    seeded = list(
        db_session.scalars(select(CrmUser).where(CrmUser.username.in_(["engineer", "engineer2"])))
    )
    for user in seeded:
        user.active = False
    db_session.commit()
    try:
        plan, _counts = fill(customers=5, feedback=100)
        demo_users = list(
            db_session.scalars(select(CrmUser).where(CrmUser.username.like("demo_engineer%")))
        )
        assert len(demo_users) == demo.DEMO_ENGINEERS
        assert sorted(plan.engineer_ids) == sorted(user.id for user in demo_users)
        role = app.config["CRM_ROLE_NAMES"]["engineer"]
        for user in demo_users:
            assert role in [r.name for r in user.roles]
            assert validate(CrmUser, values_of(user, rule_fields(CrmUser)), pk=user.id) == {}
        assert set(db_session.scalars(select(Feedback.engineer_id).distinct())) <= {
            None,
            *plan.engineer_ids,
        }
        response = visitor.login("demo_engineer1", "!")
        assert visitor.get("/feedback/list/").status_code == 302  # still signed out
        assert response.status_code == 302
    finally:
        for user in seeded:
            user.active = True
        db_session.commit()


def test_records_added_after_the_demo_get_fresh_ids(db_session):
    """The demo writes explicit ids; PostgreSQL's sequences must move past them."""
    fill(customers=3, feedback=20)
    highest = db_session.scalar(select(func.max(Customer.id)))
    customer = make_customer()
    assert customer.id > highest
