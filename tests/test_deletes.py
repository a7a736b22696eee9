"""Safe deletes: a record others depend on stays, with a message counting them.

Every dependent case of ``app.services.integrity`` on the pages and the API,
the database's own foreign keys (SQLite too) behind it, a delete that races
a new dependent and the confirmation before deleting. Bulk delete from the
lists is in tests/test_bulk_delete.py.
Users referenced by records are tested in tests/test_users.py.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    BUSINESS_MODELS,
    Contact,
    Contract,
    Customer,
    Feedback,
    License,
    Product,
    Reporter,
)
from app.services import integrity
from factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_license,
    make_product,
    make_reporter,
)
from helpers import PASSWORD, visible_text

BASES = {
    Customer: "customers",
    Contact: "contacts",
    Contract: "contracts",
    Product: "products",
    License: "licenses",
    Feedback: "feedback",
    Reporter: "reporters",
}


def exists(db_session, model, pk) -> bool:
    db_session.expire_all()
    return db_session.get(model, pk) is not None


def _customer_with(kind: str):
    customer = make_customer()
    if kind == "contacts":
        make_contact(customer=customer)
        make_contact(customer=customer)
        return customer, "2 条客户联系人"
    if kind == "contracts":
        make_contract(customer=customer)
        return customer, "1 条合同"
    if kind == "products":
        make_product(customer=customer)
        return customer, "1 条产品"
    if kind == "licenses":  # and the product the license is for
        make_license(product=make_product(customer=customer))
        return customer, "1 条产品授权"
    if kind == "reporters":
        make_reporter(customer=customer)
        return customer, "1 条反馈人员"
    if kind == "feedback":  # and its reporter
        make_feedback(reporter=make_reporter(customer=customer))
        return customer, "1 条客户反馈"
    raise AssertionError(kind)


def _product_with(kind: str):
    product = make_product()
    if kind == "licenses":
        make_license(product=product)
        make_license(product=product)
        make_license(product=product)
        return product, "3 条产品授权"
    make_feedback(reporter=make_reporter(customer=product.customer), product=product)
    return product, "1 条客户反馈"


def _reporter_with(kind: str):
    reporter = make_reporter()
    make_feedback(reporter=reporter)
    make_feedback(reporter=reporter)
    return reporter, "2 条客户反馈"


CASES = [
    ("customer", "contacts"),
    ("customer", "contracts"),
    ("customer", "products"),
    ("customer", "licenses"),
    ("customer", "reporters"),
    ("customer", "feedback"),
    ("product", "licenses"),
    ("product", "feedback"),
    ("reporter", "feedback"),
]
BUILDERS = {"customer": _customer_with, "product": _product_with, "reporter": _reporter_with}


@pytest.mark.parametrize("parent, kind", CASES, ids=[f"{p}-with-{k}" for p, k in CASES])
def test_a_record_with_dependents_is_not_deleted_on_the_page(admin, db_session, parent, kind):
    record, counted = BUILDERS[parent](kind)
    base = BASES[type(record)]
    admin.get(f"/{base}/list/")
    response = admin.post(f"/{base}/delete/{record.id}")
    assert response.status_code == 302
    message = visible_text(admin.get(response.headers["Location"]))
    assert f"无法删除“{record}”" in message
    assert counted in message and "请先删除或转移这些记录" in message
    assert exists(db_session, type(record), record.id)


@pytest.mark.parametrize("parent, kind", CASES, ids=[f"{p}-with-{k}" for p, k in CASES])
def test_a_record_with_dependents_is_not_deleted_through_the_api(
    app, db_session, jwt_headers, parent, kind
):
    record, counted = BUILDERS[parent](kind)
    response = _api(app).delete(
        f"/api/v1/{BASES[type(record)]}/{record.id}", headers=jwt_headers("admin")
    )
    assert response.status_code == 422
    assert counted in response.json["message"]
    assert exists(db_session, type(record), record.id)


def test_the_message_counts_every_kind_of_dependent(admin, db_session):
    customer = make_customer()
    make_contact(customer=customer)
    make_contact(customer=customer)
    make_contract(customer=customer)
    reporter = make_reporter(customer=customer)
    make_feedback(reporter=reporter)
    response = admin.post(f"/customers/delete/{customer.id}")
    message = visible_text(admin.get(response.headers["Location"]))
    for part in ("2 条客户联系人", "1 条合同", "1 条反馈人员", "1 条客户反馈"):
        assert part in message
    assert "产品" not in message.split("无法删除")[1].split("请先删除")[0]  # none to count
    assert exists(db_session, Customer, customer.id)


def test_deleting_the_dependents_first_then_the_customer_works(admin, db_session):
    customer = make_customer()
    contact = make_contact(customer=customer)
    assert admin.post(f"/customers/delete/{customer.id}").status_code == 302
    assert exists(db_session, Customer, customer.id)
    admin.post(f"/contacts/delete/{contact.id}")
    admin.post(f"/customers/delete/{customer.id}")
    assert not exists(db_session, Customer, customer.id)


LEAVES = {
    "customers": lambda: make_customer(),
    "contacts": lambda: make_contact(),
    "contracts": lambda: make_contract(),
    "products": lambda: make_product(),
    "licenses": lambda: make_license(),
    "reporters": lambda: make_reporter(),
    "feedback": lambda: make_feedback(),
}


@pytest.mark.parametrize("base", LEAVES)
def test_a_record_without_dependents_is_deleted(admin, db_session, base):
    record = LEAVES[base]()
    admin.get(f"/{base}/list/")
    response = admin.post(f"/{base}/delete/{record.id}")
    assert response.status_code == 302
    shown = visible_text(admin.get(response.headers["Location"]))
    assert "无法删除" not in shown
    assert not exists(db_session, type(record), record.id)


@pytest.mark.parametrize("base", ["customers", "licenses"])
def test_a_record_without_dependents_is_deleted_through_the_api(app, db_session, jwt_headers, base):
    record = LEAVES[base]()
    response = _api(app).delete(f"/api/v1/{base}/{record.id}", headers=jwt_headers("admin"))
    assert response.status_code == 200
    assert not exists(db_session, type(record), record.id)


# ------------------------------------------------------------ the database's guard


def test_foreign_keys_are_enforced_by_the_database(app, db_session):
    """Also on SQLite, where each connection must ask (app.__init__)."""
    contact = make_contact()
    with pytest.raises(IntegrityError):
        db_session.execute(text("DELETE FROM customer WHERE id = :id"), {"id": contact.customer_id})
        db_session.flush()
    db_session.rollback()
    with pytest.raises(IntegrityError):
        db_session.execute(
            text(
                "INSERT INTO contact (customer_id, name, status, created_on, changed_on, row_version) "
                "VALUES (987654, '孤儿', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )
        db_session.flush()
    db_session.rollback()
    assert exists(db_session, Customer, contact.customer_id)
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1
    if db.engine.dialect.name == "sqlite":
        assert db_session.scalar(text("PRAGMA foreign_keys")) == 1


def test_every_reference_to_a_business_record_is_guarded():
    """A new foreign key to a module's table must be counted by the delete guard
    (or cascade, as a feedback's notification log does)."""
    from flask_appbuilder import Model

    guarded = {
        (child.__table__.name, column.key)
        for children in integrity.DEPENDENTS.values()
        for child, column in children
    }
    tables = {model.__table__.name for model in BUSINESS_MODELS}
    unguarded = []
    for table in Model.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if (
                fk.column.table.name in tables
                and fk.ondelete != "CASCADE"
                and (table.name, fk.parent.key) not in guarded
            ):
                unguarded.append(f"{table.name}.{fk.parent.key} -> {fk.column.table.name}")
    assert unguarded == []


@pytest.fixture
def check_passes_too_early(monkeypatch):
    """The guard counted before another user added a dependent."""
    monkeypatch.setattr("app.views.base.check_deletable", lambda item: None)
    monkeypatch.setattr("app.api.base.check_deletable", lambda item: None)


def test_a_dependent_added_after_the_check_still_stops_the_delete(
    admin, db_session, check_passes_too_early
):
    contact = make_contact()
    admin.get("/customers/list/")
    response = admin.post(f"/customers/delete/{contact.customer_id}")
    shown = visible_text(admin.get(response.headers["Location"]))
    assert "记录没有删除：仍有其他记录引用它" in shown
    assert "FOREIGN KEY" not in shown and "violates" not in shown
    assert exists(db_session, Customer, contact.customer_id)
    assert exists(db_session, Contact, contact.id)


def test_a_dependent_added_after_the_check_stops_the_api_delete(
    app, db_session, jwt_headers, check_passes_too_early
):
    contact = make_contact()
    response = _api(app).delete(
        f"/api/v1/customers/{contact.customer_id}", headers=jwt_headers("admin")
    )
    assert response.status_code == 409
    assert "仍有其他记录引用它" in response.json["message"]
    assert exists(db_session, Customer, contact.customer_id)


# -------------------------------------------------------------------- confirmation


def test_deleting_needs_a_post_with_the_form_token(admin, db_session):
    contact = make_contact()
    admin.get(f"/contacts/delete/{contact.id}")  # a link followed, an image tag, a prefetch
    assert exists(db_session, Contact, contact.id)
    admin.client.post(f"/contacts/delete/{contact.id}")  # no CSRF token
    assert exists(db_session, Contact, contact.id)


def test_the_delete_button_asks_for_confirmation_first(admin, db_session):
    contact = make_contact()
    page = admin.get("/contacts/list/").get_data(as_text=True)
    button = re.search(rf'<a\s+id="btn-delete-/contacts/delete/{contact.id}"[^>]*>', page)
    assert button and "confirm" in button.group(0) and 'href="#"' in button.group(0)
    assert 'id="modal-confirm"' in page and "请确认" in page and "取消" in page


def test_the_browser_delete_asks_and_cancel_keeps_the_record(app, live_server, page, db_session):
    contact = make_contact(name="确认测试")
    page.goto(f"{live_server}/login/")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server}/contacts/list/")
    button = f"[id='btn-delete-/contacts/delete/{contact.id}']"
    page.click(button)
    page.wait_for_selector("#modal-confirm", state="visible")
    page.click("#modal-confirm button[data-dismiss=modal]")
    page.wait_for_selector("#modal-confirm", state="hidden")
    assert exists(db_session, Contact, contact.id)
    page.click(button)
    page.wait_for_selector("#modal-confirm-ok", state="visible")
    with page.expect_navigation():
        page.click("#modal-confirm-ok")
    assert not exists(db_session, Contact, contact.id)
    assert page.url.rstrip("/").endswith("/contacts/list")


# ------------------------------------------------------------------------- helpers


def _api(app):
    return app.test_client()
