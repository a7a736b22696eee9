"""Change history: every path records who changed what, from where; nobody can alter it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.models import CrmUser, Customer
from app.models.history import ChangeAction, ChangeRecord
from app.permissions import ADMIN, ENGINEER, FINANCE, MANAGER, SALES, SUPPORT
from factories import make_contract, make_customer

ROLES = (ADMIN, SALES, SUPPORT, ENGINEER, MANAGER, FINANCE)
ADDRESS = "10.20.30.40"


def _last_id(db_session) -> int:
    return db_session.scalar(select(func.max(ChangeRecord.id))) or 0


def _records(db_session, after: int, model: str, row_id: int | None = None):
    query = select(ChangeRecord).where(ChangeRecord.id > after, ChangeRecord.model == model)
    if row_id is not None:
        query = query.where(ChangeRecord.row_id == row_id)
    db_session.expire_all()
    return list(db_session.scalars(query.order_by(ChangeRecord.id)))


def _changes(record) -> dict:
    return json.loads(record.changes)


def _user_id(db_session, username: str) -> int:
    return db_session.scalar(select(CrmUser.id).where(CrmUser.username == username))


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


# ------------------------------------------------------------------ pages


def test_pages_record_create_update_delete_with_old_and_new_values(admin, db_session):
    start = _last_id(db_session)
    form = {
        "code": "H000001",
        "name": "历史客户",
        "category": "other",
        "status": "signed",
        "importance": "A",
        "phone": "021-62345678",
        "email": "h1@example.com",
    }
    response = admin.post("/customers/add", data=form, **_from(ADDRESS))
    assert response.status_code == 302
    customer_id = db_session.scalar(select(Customer.id).where(Customer.code == "H000001"))

    response = admin.post(
        f"/customers/edit/{customer_id}",
        data={**form, "name": "历史客户（改名）", "importance": "B"},
        **_from(ADDRESS),
    )
    assert response.status_code == 302
    response = admin.post(f"/customers/delete/{customer_id}", **_from(ADDRESS))
    assert response.status_code == 302
    assert db_session.get(Customer, customer_id) is None

    created, updated, deleted = _records(db_session, start, "Customer", customer_id)
    admin_id = _user_id(db_session, ADMIN)
    for record in (created, updated, deleted):
        assert (record.user_id, record.username, record.remote_addr) == (admin_id, ADMIN, ADDRESS)

    assert created.action == ChangeAction.create
    values = _changes(created)
    assert values["code"] == {"old": None, "new": "H000001"}
    assert values["name"] == {"old": None, "new": "历史客户"}
    assert values["status"] == {"old": None, "new": "signed"}  # enumerations by code

    assert updated.action == ChangeAction.update
    assert _changes(updated) == {
        "name": {"old": "历史客户", "new": "历史客户（改名）"},
        "importance": {"old": "A", "new": "B"},
    }

    assert deleted.action == ChangeAction.delete
    assert deleted.record == "H000001 历史客户（改名）"
    values = _changes(deleted)
    assert values["name"] == {"old": "历史客户（改名）", "new": None}
    assert values["email"] == {"old": "h1@example.com", "new": None}


def test_an_unchanged_save_records_nothing(admin, db_session):
    customer = make_customer(category=None, importance=None)
    start = _last_id(db_session)
    form = {
        "code": customer.code,
        "name": customer.name,
        "category": "",
        "status": "signed",
        "importance": "",
        "phone": customer.phone,
        "email": customer.email,
    }
    assert admin.post(f"/customers/edit/{customer.id}", data=form).status_code == 302
    assert _records(db_session, start, "Customer", customer.id) == []


def test_refused_save_records_nothing(admin, db_session):
    customer = make_customer()
    start = _last_id(db_session)
    form = {"code": customer.code, "name": "", "status": "signed", "phone": "not a phone"}
    response = admin.post(f"/customers/edit/{customer.id}", data=form)
    assert response.status_code == 200  # the form again, with its messages
    assert _records(db_session, start, "Customer") == []


def test_show_page_has_the_record_history(admin, db_session):
    customer = make_customer(name="有历史的客户")
    form = {
        "code": customer.code,
        "name": "<b>改过的</b>名字",
        "status": "signed",
        "phone": customer.phone,
        "email": customer.email,
    }
    assert (
        admin.post(f"/customers/edit/{customer.id}", data=form, **_from(ADDRESS)).status_code == 302
    )

    body = admin.get(f"/customers/show/{customer.id}").get_data(as_text=True)
    assert 'id="RecordHistory"' in body
    assert "有历史的客户" in body and "&lt;b&gt;改过的&lt;/b&gt;名字" in body
    assert "<b>改过的</b>" not in body  # shown as typed, never as markup
    assert ADDRESS in body
    assert "/history/list/" in body  # the admin may open the full history


def test_show_page_history_shows_the_latest_and_counts_them_all(admin, db_session):
    """The tab lists the latest 50 changes and says how many there are (one statement)."""
    from datetime import datetime, timedelta

    customer = make_customer(name="改过很多次")
    for n in range(53):
        db_session.add(
            ChangeRecord(
                changed_at=datetime(2026, 1, 1) + timedelta(hours=n),
                username="admin",
                model="Customer",
                row_id=customer.id,
                record=str(customer),
                action=ChangeAction.update,
                changes=json.dumps({"name": {"old": f"旧名{n}", "new": f"新名{n}"}}),
            )
        )
    db_session.commit()
    body = admin.get(f"/customers/show/{customer.id}").get_data(as_text=True)
    tab = body.split('id="RecordHistory"', 1)[1]
    # 53 edits and the customer's creation (the newest: made now); the 50 newest shown
    assert "共 54 次变更，显示最近 50 次。" in tab
    assert "新名52<" in tab and "新名4<" in tab and "新名3<" not in tab


def test_show_page_history_for_a_role_that_reads_the_record(login_as, db_session):
    customer = make_customer(name="销售看得到")
    sales = login_as(SALES)
    body = sales.get(f"/customers/show/{customer.id}").get_data(as_text=True)
    assert 'id="RecordHistory"' in body
    assert "/history/list/" not in body  # but not the admin's history page


def test_contract_values_are_json_safe_strings(db_session):
    contract = make_contract()
    record = _records(db_session, 0, "Contract", contract.id)[-1]
    values = _changes(record)
    assert values["amount"]["new"] == "12345.67"
    assert values["sign_date"]["new"] == "2026-01-01"
    customer = contract.customer
    assert values["customer"]["new"] == f"{customer} [#{customer.id}]"


# ------------------------------------------------------------------ REST API


def test_api_records_create_update_delete(app, db_session, jwt_headers):
    customer = make_customer()
    headers = jwt_headers(SALES)
    client = app.test_client()
    start = _last_id(db_session)

    response = client.post(
        "/api/v1/contacts/",
        headers=headers,
        environ_base={"REMOTE_ADDR": ADDRESS},
        json={
            "customer": customer.id,
            "name": "接口联系人",
            "phone": "13812345678",
            "status": "active",
        },
    )
    assert response.status_code == 201, response.json
    contact_id = response.json["id"]
    response = client.put(
        f"/api/v1/contacts/{contact_id}",
        headers=headers,
        environ_base={"REMOTE_ADDR": ADDRESS},
        json={
            "customer": customer.id,
            "name": "接口联系人",
            "phone": "13912345678",
            "status": "left",
        },
    )
    assert response.status_code == 200, response.json
    response = client.delete(
        f"/api/v1/contacts/{contact_id}", headers=headers, environ_base={"REMOTE_ADDR": ADDRESS}
    )
    assert response.status_code == 200, response.json

    created, updated, deleted = _records(db_session, start, "Contact", contact_id)
    sales_id = _user_id(db_session, SALES)
    for record in (created, updated, deleted):
        assert (record.user_id, record.username, record.remote_addr) == (sales_id, SALES, ADDRESS)
    assert [r.action for r in (created, updated, deleted)] == [
        ChangeAction.create,
        ChangeAction.update,
        ChangeAction.delete,
    ]
    assert _changes(created)["name"] == {"old": None, "new": "接口联系人"}
    assert _changes(updated) == {
        "phone": {"old": "13812345678", "new": "13912345678"},
        "status": {"old": "active", "new": "left"},
    }
    assert _changes(deleted)["phone"] == {"old": "13912345678", "new": None}


def test_api_refused_write_records_nothing(app, db_session, jwt_headers):
    customer = make_customer()
    start = _last_id(db_session)
    response = app.test_client().post(
        "/api/v1/contacts/",
        headers=jwt_headers(SALES),
        json={"customer": customer.id, "name": "坏电话", "phone": "12", "status": "active"},
    )
    assert response.status_code == 422
    assert _records(db_session, start, "Contact") == []


# ------------------------------------------------------------------ CLI, users and roles


def test_command_line_writes_are_recorded_without_a_user(db_session):
    start = _last_id(db_session)
    customer = make_customer(name="命令行客户")
    (record,) = _records(db_session, start, "Customer", customer.id)
    assert record.user_id is None and record.username is None and record.remote_addr is None
    assert _changes(record)["name"]["new"] == "命令行客户"


def test_user_changes_are_recorded_without_passwords(admin, db_session, app):
    from flask_appbuilder.security.sqla.models import Role

    start = _last_id(db_session)

    sales_role = db_session.scalar(
        select(Role).where(Role.name == app.config["CRM_ROLE_NAMES"][SALES])
    )
    support_role = db_session.scalar(
        select(Role).where(Role.name == app.config["CRM_ROLE_NAMES"][SUPPORT])
    )
    form = {
        "username": "history_user",
        "first_name": "历史用户",
        "phone": "13812345678",
        "email": "history_user@example.com",
        "active": "y",
        "roles": [sales_role.id],
        "password": "Hist0ry-Passw0rd!",
        "conf_password": "Hist0ry-Passw0rd!",
    }
    response = admin.post("/users/add", data=form, **_from(ADDRESS))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    user_id = _user_id(db_session, "history_user")

    edit = {key: value for key, value in form.items() if "password" not in key}
    edit.update(phone="13912345678", roles=[support_role.id])
    assert admin.post(f"/users/edit/{user_id}", data=edit).status_code == 302

    # One save is one history row, however many flushes it takes.
    created, updated = _records(db_session, start, "User", user_id)
    stored = created.changes + updated.changes
    assert "Hist0ry-Passw0rd!" not in stored and "pbkdf2" not in stored and "scrypt" not in stored
    assert _changes(created)["password"] == {"old": None, "new": "******"}
    assert _changes(created)["roles"]["new"] == sales_role.name
    assert _changes(updated)["phone"] == {"old": "13812345678", "new": "13912345678"}
    assert _changes(updated)["roles"] == {"old": sales_role.name, "new": support_role.name}

    # Deleting the account keeps its history, with the login name copied.
    assert admin.post(f"/users/delete/{user_id}").status_code == 302
    assert db_session.get(CrmUser, user_id) is None
    records = _records(db_session, start, "User", user_id)
    assert [r.action for r in records][-1] == ChangeAction.delete
    assert _changes(records[-1])["username"]["old"] == "history_user"


def test_role_permission_changes_are_recorded(app, db_session):
    from app.services.roles import apply_roles

    with app.app_context():
        from flask_appbuilder.security.sqla.models import Role

        from app.extensions import db

        role = db.session.scalar(
            select(Role).where(Role.name == app.config["CRM_ROLE_NAMES"][MANAGER])
        )
        start = _last_id(db.session)
        # the first by name: the recorded lists are sorted by name and cut at a length
        removed = min(role.permissions, key=str)
        role.permissions = [item for item in role.permissions if item is not removed]
        db.session.commit()
        try:
            (record,) = _records(db.session, start, "Role", role.id)
            change = _changes(record)["permissions"]
            assert str(removed) in change["old"].split(", ")
            assert str(removed) not in change["new"].split(", ")
        finally:
            apply_roles(app.appbuilder, reset=True)
            db.session.remove()


# ------------------------------------------------------------------ the history page


def test_admin_reads_and_filters_the_history_page(admin, db_session):
    customer = make_customer(name="过滤客户")
    other = make_customer(name="别的客户")
    response = admin.get(f"/history/list/?_flt_3_model=Customer&_flt_0_row_id={customer.id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "过滤客户" in body and "别的客户" not in body
    assert other.id != customer.id

    record = _records(db_session, 0, "Customer", customer.id)[-1]
    body = admin.get(f"/history/show/{record.id}").get_data(as_text=True)
    assert "过滤客户" in body and 'id="history-record-link"' in body


@pytest.mark.parametrize("role", [SALES, SUPPORT, ENGINEER, MANAGER])
def test_other_roles_cannot_read_the_history_page(login_as, db_session, role):
    customer = make_customer(name="秘密历史")
    record = _records(db_session, 0, "Customer", customer.id)[-1]
    visitor = login_as(role)
    for url in ("/history/list/", f"/history/show/{record.id}"):
        response = visitor.get(url)
        assert response.status_code == 403, (role, url)
        assert "秘密历史" not in response.get_data(as_text=True)
    assert "/history/list/" not in visitor.get("/customers/list/").get_data(as_text=True)


def test_anonymous_visitor_cannot_read_the_history_page(visitor):
    response = visitor.get("/history/list/")
    assert response.status_code in (302, 401, 403)
    assert "/login/" in response.headers.get("Location", "/login/")


@pytest.mark.parametrize("role", ROLES)
def test_nobody_can_add_edit_or_delete_history(login_as, db_session, jwt_headers, role):
    customer = make_customer()
    record = _records(db_session, 0, "Customer", customer.id)[-1]
    before = (db_session.scalar(select(func.count()).select_from(ChangeRecord)), record.changes)
    visitor = login_as(role)
    urls = [
        "/history/add",
        f"/history/edit/{record.id}",
        f"/history/delete/{record.id}",
        f"/history/action/muldelete/{record.id}",
        "/history/action_post",
        "/history/download/x",
        "/api/v1/changerecord/",
        f"/api/v1/changerecord/{record.id}",
        "/api/v1/history/",
        f"/api/v1/history/{record.id}",
    ]
    for url in urls:
        for method in ("get", "post"):
            response = (
                getattr(visitor, method)(url, data={"changes": "{}", "model": "x"})
                if method == "post"
                else visitor.get(url)
            )
            assert response.status_code in (403, 404, 405), (
                role,
                method,
                url,
                response.status_code,
            )
    headers = jwt_headers(role)
    client = visitor.client.application.test_client()
    for method in ("put", "delete"):
        response = getattr(client, method)(f"/api/v1/changerecord/{record.id}", headers=headers)
        assert response.status_code in (403, 404, 405)
    db_session.expire_all()
    after = (
        db_session.scalar(select(func.count()).select_from(ChangeRecord)),
        db_session.get(ChangeRecord, record.id).changes,
    )
    assert after == before


def test_history_tab_is_not_offered_for_untracked_pages(admin):
    body = admin.get("/history/list/").get_data(as_text=True)
    assert 'id="record-history-tab"' not in body


def test_user_signing_in_is_not_a_change(login_as, db_session):
    start = _last_id(db_session)
    login_as(SUPPORT).get("/customers/list/")
    assert _records(db_session, start, "User") == []


@pytest.mark.parametrize(
    "query",
    [
        "_flt_0_row_id=abc",
        "_flt_3_model=%00",
        "psize_HistoryView=100000000",
        "page_HistoryView=-5",
        "page_HistoryView=x",
        "_oc_HistoryView=nope&_od_HistoryView=asc",
        "_flt_0_changed_at=not-a-date",
        "_flt_0_action=nonsense",
    ],
)
def test_hostile_history_queries_are_no_server_error(admin, query):
    response = admin.get(f"/history/list/?{query}")
    assert response.status_code in (200, 400), (query, response.status_code)
