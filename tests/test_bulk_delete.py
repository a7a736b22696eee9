"""Bulk delete from the lists: confirmed first, permission-checked, guarded, all or nothing.

The single delete (its guard, its confirmation, its CSRF check) is in tests/test_deletes.py.
"""

from __future__ import annotations

import html
import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from test_deletes import LEAVES, exists

from app.models import ChangeAction, ChangeRecord, Contact, Customer, Product
from factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_license,
    make_product,
)
from helpers import PASSWORD, visible_text

CONFIRMATION = "删除所选记录？删除后无法恢复。"


def _bulk_delete(visitor, base, records, **kwargs):
    return visitor.post(
        f"/{base}/action_post",
        {"action": "muldelete", "rowid": [str(record.id) for record in records]},
        **kwargs,
    )


def _count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("base", LEAVES)
def test_every_list_offers_it_with_a_chinese_confirmation(admin, db_session, base):
    LEAVES[base]()
    page = html.unescape(admin.get(f"/{base}/list/").get_data(as_text=True))
    assert 'name="rowid"' in page and f'action="/{base}/action_post"' in page
    assert "muldelete_menu_item" in page and "删除所选" in page
    assert f"execute_multiple('muldelete','{CONFIRMATION}')" in page
    assert json.dumps("请先勾选要操作的记录。") in page  # FAB's "No row selected", translated


@pytest.mark.parametrize("base", LEAVES)
def test_records_without_dependents_are_deleted_together(admin, db_session, base):
    records = [LEAVES[base]() for _ in range(3)]
    model, ids = type(records[0]), [record.id for record in records]
    keep = LEAVES[base]()
    admin.get(f"/{base}/list/")
    response = _bulk_delete(admin, base, records)
    assert response.status_code == 302
    assert "已删除 3 条记录。" in visible_text(admin.get(response.headers["Location"]))
    assert not any(exists(db_session, model, pk) for pk in ids)
    assert exists(db_session, model, keep.id)


def test_the_deletes_are_in_the_history(admin, db_session):
    customers = [make_customer(), make_customer()]
    _bulk_delete(admin, "customers", customers)
    deleted = db_session.scalars(
        select(ChangeRecord.row_id).where(
            ChangeRecord.model == "Customer", ChangeRecord.action == ChangeAction.delete
        )
    ).all()
    assert sorted(deleted) == sorted(c.id for c in customers)


def test_one_record_with_dependents_stops_the_whole_delete(admin, db_session):
    free = [make_customer(), make_customer()]
    busy = make_contact().customer
    also_busy = make_contract().customer
    before = _count(db_session, Customer)
    admin.get("/customers/list/")
    response = _bulk_delete(admin, "customers", [*free, busy, also_busy])
    shown = visible_text(admin.get(response.headers["Location"]))
    assert "没有删除任何记录：所选 4 条记录中有 2 条仍有关联记录。" in shown
    assert f"无法删除“{busy}”" in shown and "1 条客户联系人" in shown and "1 条合同" in shown
    assert _count(db_session, Customer) == before
    assert all(exists(db_session, Customer, c.id) for c in free)


def test_a_product_with_licenses_stops_the_product_list_delete(admin, db_session):
    free, busy = make_product(), make_license().product
    response = _bulk_delete(admin, "products", [free, busy])
    assert "仍有关联记录" in visible_text(admin.get(response.headers["Location"]))
    assert exists(db_session, Product, free.id) and exists(db_session, Product, busy.id)


def test_a_dependent_added_after_the_check_rolls_back_every_row(admin, db_session, monkeypatch):
    monkeypatch.setattr("app.services.integrity.check_deletable", lambda item: None)
    free, busy = make_customer(), make_contact().customer
    response = _bulk_delete(admin, "customers", [free, busy])
    shown = visible_text(admin.get(response.headers["Location"]))
    assert "记录没有删除：仍有其他记录引用它" in shown and "FOREIGN KEY" not in shown
    assert exists(db_session, Customer, free.id) and exists(db_session, Customer, busy.id)


@pytest.mark.parametrize(
    "username, base, make",
    [
        ("sales", "products", make_product),  # sales reads products only
        ("engineer", "feedback", make_feedback),  # engineers read and edit feedback, no delete
        ("manager", "customers", make_customer),  # managers read and export
    ],
)
def test_a_role_without_delete_neither_sees_nor_uses_it(login_as, db_session, username, base, make):
    records = [make(), make()]
    visitor = login_as(username)
    page = visitor.get(f"/{base}/list/").get_data(as_text=True)
    assert "muldelete" not in page and "删除所选" not in page
    response = _bulk_delete(visitor, base, records)
    assert response.status_code in (302, 403)
    assert all(exists(db_session, type(r), r.id) for r in records)


def test_a_get_or_a_post_without_the_token_deletes_nothing(admin, db_session):
    contacts = [make_contact(), make_contact()]
    ids = [str(c.id) for c in contacts]
    query = "&".join(f"rowid={pk}" for pk in ids)
    assert admin.get(f"/contacts/action_post?action=muldelete&{query}").status_code == 405
    assert admin.get(f"/contacts/action/muldelete/{ids[0]}").status_code == 404
    assert admin.post(f"/contacts/action/muldelete/{ids[0]}").status_code == 404  # list-only
    admin.client.post("/contacts/action_post", data={"action": "muldelete", "rowid": ids})
    assert all(exists(db_session, Contact, c.id) for c in contacts)


def test_unknown_actions_and_oversized_selections_are_refused(admin, db_session):
    contact = make_contact()
    response = _bulk_delete(admin, "contacts", [contact] * 101)
    assert "一次最多选择 100 条记录。" in visible_text(admin.get(response.headers["Location"]))
    assert exists(db_session, Contact, contact.id)
    response = admin.post("/contacts/action_post", {"action": "drop_all", "rowid": contact.id})
    assert response.status_code == 404
    response = admin.post(
        "/contacts/action_post", {"action": "muldelete", "rowid": ["987654", "x"]}
    )
    assert "请先勾选要删除的记录。" in visible_text(admin.get(response.headers["Location"]))


def test_feedback_keeps_its_assign_action_beside_the_delete(login_as, db_session):
    make_feedback()
    support = visible_text(login_as("support").get("/feedback/list/"))
    assert "分配/更换跟踪工程师" in support and "删除所选" in support
    engineer = visible_text(login_as("engineer").get("/feedback/list/"))
    assert "分配/更换跟踪工程师" in engineer and "删除所选" not in engineer


def test_the_browser_asks_before_deleting_the_selection(app, live_server, page, db_session):
    contacts = [make_contact(name=f"批量删除{n}") for n in range(2)]
    ids = [contact.id for contact in contacts]
    page.goto(f"{live_server}/login/")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server}/contacts/list/")
    page.click("button.dropdown-toggle:has-text('操作')")
    page.click(".muldelete_menu_item")
    page.wait_for_selector("#modal-alert", state="visible")  # nothing ticked yet
    assert "请先勾选要操作的记录。" in page.inner_text("#modal-alert")
    page.click("#modal-alert button[data-dismiss=modal]")
    page.wait_for_selector("#modal-alert", state="hidden")
    for pk in ids:
        page.check(f"input.action_check[value='{pk}']")
    page.click("button.dropdown-toggle:has-text('操作')")
    page.click(".muldelete_menu_item")
    page.wait_for_selector("#modal-confirm", state="visible")
    assert CONFIRMATION in page.inner_text("#modal-confirm")
    page.click("#modal-confirm button[data-dismiss=modal]")  # cancel keeps them
    page.wait_for_selector("#modal-confirm", state="hidden")
    assert all(exists(db_session, Contact, pk) for pk in ids)
    page.click("button.dropdown-toggle:has-text('操作')")
    page.click(".muldelete_menu_item")
    page.wait_for_selector("#modal-confirm-ok", state="visible")
    page.click("#modal-confirm-ok")
    # The POST redirects back to the list; wait for the flash, not for the
    # first navigation event, which may fire before the new body is parsed.
    expect(page.locator("body")).to_contain_text("已删除 2 条记录。")
    assert not any(exists(db_session, Contact, pk) for pk in ids)
