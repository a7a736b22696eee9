"""Data scope (数据范围): every channel shows a user exactly the customers of their scope.

The world: 销售部 with 华东区 and 华南区 below it. Customer 甲 belongs to the
seeded salesperson (华东区), 乙 to a colleague in 华东区, 丙 to a salesperson of
华南区, and 丁 is in the pool. Each customer has one record in every module.
Per scope the expected customers are:

=================  ======================  ==============
scope              user                    sees
=================  ======================  ==============
仅本人             sales (华东区)           甲
本部门             a 华东区 supervisor       甲 乙
本部门及下级        manager (销售部)          甲 乙 丙
全部               support                 甲 乙 丙 丁
=================  ======================  ==============

and through each channel: the module lists and their counts, show pages, the
REST API's list and get, the .xlsx exports, the drop-downs, the dashboard,
the service report and the license statistics. The leak test walks the writing
channels as the salesperson against 丙's records and expects nothing changed.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Contact,
    Contract,
    CrmUser,
    Customer,
    DataScope,
    Department,
    Feedback,
    FollowUp,
    License,
    Payment,
    PaymentPlan,
    Product,
    Reporter,
)
from app.permissions import ROLE_GRANTS, SALES
from app.services import scope
from factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_followup,
    make_license,
    make_payment,
    make_plan,
    make_product,
    make_reporter,
)
from helpers import PASSWORD, Visitor

LETTERS = ("甲", "乙", "丙", "丁")  # 丁: the pool


@dataclass(frozen=True)
class Module:
    base: str
    api: str
    model: type
    marker: str  # the field that carries the customer's letter
    resource: str


MODULES = (
    Module("customers", "customers", Customer, "name", "Customer"),
    Module("contacts", "contacts", Contact, "name", "Contact"),
    Module("contracts", "contracts", Contract, "number", "Contract"),
    Module("products", "products", Product, "name", "Product"),
    Module("licenses", "licenses", License, "serial", "License"),
    Module("reporters", "reporters", Reporter, "name", "Reporter"),
    Module("feedback", "feedback", Feedback, "problem", "Feedback"),
    Module("payment-plans", "payment-plans", PaymentPlan, "contract", "PaymentPlan"),
    Module("payments", "payments", Payment, "contract", "Payment"),
    Module("followups", "followups", FollowUp, "content", "FollowUp"),
)

# scope -> (username, letters seen)
EXPECTED = {
    DataScope.own: ("sales", {"甲"}),
    DataScope.department: ("supervisor", {"甲", "乙"}),
    DataScope.department_tree: ("manager", {"甲", "乙", "丙"}),
    DataScope.all: ("support", {"甲", "乙", "丙", "丁"}),
}


def _user(sm, username, role, department):
    user = sm.add_user(
        username=username,
        first_name=f"{username} 用户",
        last_name="",
        email=f"{username}@example.com",
        role=role,
        password=PASSWORD,
    )
    user.department_id = department.id
    return user


@pytest.fixture
def world(app, db_session):
    """The departments, the four customers and one record per module and customer."""
    sm = app.appbuilder.sm
    names = app.config["CRM_ROLE_NAMES"]
    root = db_session.scalar(select(Department).where(Department.name == "销售部"))
    east = db_session.scalar(select(Department).where(Department.name == "华东区"))
    south = Department(name="华南区", parent=root)
    db_session.add(south)
    db_session.commit()
    sales_role = sm.find_role(names[SALES])
    colleague = _user(sm, "colleague", sales_role, east)
    southerner = _user(sm, "southerner", sales_role, south)
    supervisors = sm.add_role("区域主管", list(sales_role.permissions))
    scope.set_scope(supervisors, DataScope.department)
    _user(sm, "supervisor", supervisors, east)
    db_session.commit()
    sales_id = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "sales"))
    owners = {"甲": sales_id, "乙": colleague.id, "丙": southerner.id, "丁": None}
    records = {}
    for number, (letter, owner_id) in enumerate(owners.items()):
        customer = make_customer(name=f"客户{letter}", owner_id=owner_id)
        product = make_product(customer, name=f"产品{letter}")
        reporter = make_reporter(customer, name=f"报告人{letter}")
        contract = make_contract(customer, number=f"HT-SCOPE-{number}{letter}")
        records[letter] = {
            Customer: customer,
            Contact: make_contact(customer, name=f"联系人{letter}"),
            Contract: contract,
            PaymentPlan: make_plan(contract, instalment=1),
            Payment: make_payment(contract),
            Product: product,
            License: make_license(product, serial=f"SN-SCOPE-{number}{letter}"),
            Reporter: reporter,
            Feedback: make_feedback(reporter, problem=f"问题{letter}：打印机故障"),
            FollowUp: make_followup(customer, content=f"跟进{letter}：电话回访"),
        }
    yield records
    db.session.rollback()
    db.session.delete(db.session.merge(supervisors))
    db.session.commit()


def _letters(text: str, module: Module) -> set[str]:
    """The customers' letters whose ``module`` marker appears in ``text``."""
    prefix = {
        "customers": "客户",
        "contacts": "联系人",
        "products": "产品",
        "reporters": "报告人",
        "feedback": "问题",
        "followups": "跟进",
    }.get(module.base)
    if prefix:
        return {letter for letter in LETTERS if f"{prefix}{letter}" in text}
    contract_numbers = ("contracts", "payment-plans", "payments")
    tag = "HT-SCOPE-" if module.base in contract_numbers else "SN-SCOPE-"
    return {letter for letter in LETTERS if re.search(rf"{tag}\d{letter}", text)}


def _reads(username: str, module: Module) -> bool:
    role = {"supervisor": SALES, "sales": SALES}.get(username, username)
    return "read" in ROLE_GRANTS[role].get(module.resource, ())


def _sign_in(app, username) -> tuple[Visitor, dict]:
    visitor = Visitor(app)
    assert visitor.login(username).status_code == 302
    token = app.test_client().post(
        "/api/v1/security/login",
        json={"username": username, "password": PASSWORD, "provider": "db"},
    )
    assert token.status_code == 200, token.json
    return visitor, {"Authorization": f"Bearer {token.json['access_token']}"}


SCOPE_CASES = [(scope_, module) for scope_ in EXPECTED for module in MODULES]


def test_the_scope_matrix_size():
    """Say how many scope × module × channel cases the matrix covers."""
    channels = ("list page", "list count", "show page", "API list", "API get", "export")
    print(
        f"\ndata-scope matrix: {len(EXPECTED)} scopes × {len(MODULES)} modules × "
        f"{len(channels)} channels = {len(EXPECTED) * len(MODULES) * len(channels)} cases"
    )
    assert len(SCOPE_CASES) == len(EXPECTED) * len(MODULES)


@pytest.mark.parametrize(
    "data_scope,module",
    SCOPE_CASES,
    ids=[f"{scope_.name}-{module.base}" for scope_, module in SCOPE_CASES],
)
def test_each_scope_sees_exactly_its_customers_records_on_every_read_channel(
    app, world, data_scope, module
):
    username, expected = EXPECTED[data_scope]
    if not _reads(username, module):
        pytest.skip(f"{username} does not read {module.base} at all (the permission matrix)")
    visitor, headers = _sign_in(app, username)
    client = app.test_client()

    page = visitor.get(f"/{module.base}/list/?psize_{module.base}=100")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert _letters(body, module) == expected, "list page"
    assert re.search(rf"\b{len(expected)}\b", body), "list count"

    for letter, records in world.items():
        status = visitor.get(f"/{module.base}/show/{records[module.model].id}").status_code
        assert status == (200 if letter in expected else 404), f"show page of {letter}"

    listed = client.get(f"/api/v1/{module.api}/?q=(page_size:100)", headers=headers)
    assert listed.status_code == 200
    assert listed.json["count"] == len(expected), "API count"
    assert set(listed.json["ids"]) == {world[letter][module.model].id for letter in expected}
    for letter, records in world.items():
        got = client.get(f"/api/v1/{module.api}/{records[module.model].id}", headers=headers)
        assert got.status_code == (200 if letter in expected else 404), f"API get of {letter}"

    if "export" in _grants(username, module):
        exported = visitor.get(f"/{module.base}/export.xlsx")
        assert exported.status_code == 200
        sheet = load_workbook(io.BytesIO(exported.data), read_only=True).active
        cells = " ".join(str(value) for row in sheet.iter_rows(values_only=True) for value in row)
        assert _letters(cells, module) == expected, "export"


def _grants(username: str, module: Module) -> tuple[str, ...]:
    role = {"supervisor": SALES}.get(username, username)
    return ROLE_GRANTS[role].get(module.resource, ())


@pytest.mark.parametrize("data_scope", list(EXPECTED), ids=[s.name for s in EXPECTED])
def test_the_customer_drop_down_offers_only_the_scopes_customers(app, world, data_scope):
    username, expected = EXPECTED[data_scope]
    visitor, _headers = _sign_in(app, username)
    module = "contacts" if username != "support" else "reporters"
    found = visitor.get(f"/{module}/related/customer?q=客户")
    assert found.status_code == 200
    labels = " ".join(item["text"] for item in found.json["results"])
    assert {letter for letter in LETTERS if f"客户{letter}" in labels} == expected


def test_the_dashboard_and_reports_count_only_the_scopes_rows(app, world, db_session):
    """The manager (甲乙丙) and the salesperson (甲) get different totals from one database."""
    manager, _ = _sign_in(app, "manager")
    report = manager.get("/reports/service/xlsx?from=2026-01-01&to=2026-12-31")
    assert report.status_code == 200
    workbook = load_workbook(io.BytesIO(report.data), read_only=True)
    detail = " ".join(
        str(value)
        for row in workbook.worksheets[-1].iter_rows(values_only=True)
        for value in row
        if value
    )
    assert {letter for letter in LETTERS if f"问题{letter}" in detail} == {"甲", "乙", "丙"}
    stats = manager.get("/license-stats/").get_data(as_text=True)
    assert {letter for letter in LETTERS if f"客户{letter}" in stats} == {"甲", "乙", "丙"}

    sales, _ = _sign_in(app, "sales")
    home = sales.get("/").get_data(as_text=True)
    assert "客户丙" not in home and "客户乙" not in home
    with app.test_request_context():
        from flask import g

        from app.services import dashboard

        g.user = db_session.scalar(select(CrmUser).where(CrmUser.username == "sales"))
        assert dashboard.customer_count() == 1
        g.pop(scope.SCOPE_KEY, None)
        g.user = db_session.scalar(select(CrmUser).where(CrmUser.username == "manager"))
        assert dashboard.customer_count() == 3


def test_a_salesperson_cannot_reach_a_colleagues_customer_by_any_writing_channel(
    app, world, db_session
):
    """The leak test: 丙's records are as if they did not exist, and stay as they were."""
    visitor, headers = _sign_in(app, "sales")
    client = app.test_client()
    theirs = world["丙"]
    customer, contact = theirs[Customer], theirs[Contact]

    # what sales may edit and delete
    for module in ("customers", "contacts", "contracts", "payment-plans"):
        record = theirs[next(m.model for m in MODULES if m.base == module)]
        assert visitor.get(f"/{module}/edit/{record.id}").status_code == 404
        assert visitor.post(f"/{module}/delete/{record.id}").status_code == 404
        api = f"/api/v1/{module}/{record.id}"
        assert client.put(api, json={}, headers=headers).status_code == 404
        assert client.delete(api, headers=headers).status_code == 404

    # a new contact under 丙's customer: the API and the page refuse the customer
    created = client.post(
        "/api/v1/contacts/", json={"customer": customer.id, "name": "潜入者"}, headers=headers
    )
    assert created.status_code == 422
    assert "customer" in created.json["message"]
    page = visitor.post("/contacts/add", data={"customer": customer.id, "name": "潜入者"})
    assert page.status_code == 200 and "潜入者" in page.get_data(as_text=True)

    # a new instalment of 丙's contract: the contract is as if it did not exist
    planned = client.post(
        "/api/v1/payment-plans/",
        json={
            "contract": theirs[Contract].id,
            "instalment": 2,
            "planned_date": "2026-05-01",
            "planned_amount": "1.00",
        },
        headers=headers,
    )
    assert planned.status_code == 422 and "contract" in planned.json["message"]

    # bulk delete naming 丙's contact deletes nothing
    visitor.post("/contacts/action_post", data={"action": "muldelete", "rowid": [contact.id]})

    # an import naming 丙's customer code is refused: no such customer, for this user
    workbook = Workbook()
    workbook.active.append(["客户编码 *", "姓名 *"])
    workbook.active.append([customer.code, "导入者"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    imported = visitor.post(
        "/contacts/import/",
        data={"file": (io.BytesIO(buffer.getvalue()), "导入.xlsx")},
        content_type="multipart/form-data",
    )
    assert f"客户编码 {customer.code} 不存在" in imported.get_data(as_text=True)

    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 4
    assert (
        db_session.scalar(
            select(func.count()).select_from(Contact).where(Contact.customer_id == customer.id)
        )
        == 1
    )
    assert db_session.get(Customer, customer.id).name == "客户丙"


def test_a_salesperson_adding_a_customer_becomes_its_owner_and_the_admin_fills_the_pool(
    app, db_session, login_as, jwt_headers
):
    sales = login_as("sales")
    sales.post("/customers/add", data={"code": "C900001", "name": "新客户", "status": "prospect"})
    app.test_client().post(
        "/api/v1/customers/",
        json={"code": "C900002", "name": "接口客户", "status": "prospect"},
        headers=jwt_headers("sales"),
    )
    login_as("admin").post(
        "/customers/add", data={"code": "C900003", "name": "公海新客户", "status": "prospect"}
    )
    sales_id = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "sales"))
    owners = dict(db_session.execute(select(Customer.code, Customer.owner_id)).all())
    assert owners == {"C900001": sales_id, "C900002": sales_id, "C900003": None}


def test_a_salesperson_may_not_give_a_new_customer_to_someone_else(app, world, db_session):
    visitor, headers = _sign_in(app, "sales")
    colleague = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "colleague"))
    page = visitor.post(
        "/customers/add",
        data={"code": "C900010", "name": "送人的客户", "status": "prospect", "owner": colleague},
    )
    assert "必须是您数据范围内的在用用户" in page.get_data(as_text=True)
    refused = app.test_client().post(
        "/api/v1/customers/",
        json={"code": "C900011", "name": "送人的客户", "status": "prospect", "owner": colleague},
        headers=headers,
    )
    assert refused.status_code == 422 and "owner" in refused.json["message"]
    assert db_session.scalar(select(func.count()).where(Customer.code.like("C9000%"))) == 0


def test_the_widest_of_several_roles_wins(app, world, db_session):
    names = app.config["CRM_ROLE_NAMES"]
    user = db_session.scalar(select(CrmUser).where(CrmUser.username == "sales"))
    user.roles.append(app.appbuilder.sm.find_role("区域主管"))
    db_session.commit()
    visitor, _ = _sign_in(app, "sales")
    body = visitor.get("/customers/list/").get_data(as_text=True)
    assert {letter for letter in LETTERS if f"客户{letter}" in body} == {"甲", "乙"}
    user.roles = [app.appbuilder.sm.find_role(names[SALES])]
    db_session.commit()


def test_the_role_page_sets_the_data_scope(app, world, db_session, admin):
    role = app.appbuilder.sm.find_role("区域主管")
    form = admin.get(f"/roles/edit/{role.id}").get_data(as_text=True)
    assert "数据范围" in form
    assert re.search(
        r'<option[^>]*selected[^>]*value="department"|value="department"[^>]*selected', form
    )
    permissions = [str(p.id) for p in role.permissions]
    response = admin.post(
        f"/roles/edit/{role.id}",
        data={"name": "区域主管", "data_scope": "all", "permissions": permissions},
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(type(role), role.id).data_scope_row.scope is DataScope.all
    assert "全部" in admin.get("/roles/list/").get_data(as_text=True)


def test_departments_are_a_tree_the_admin_keeps(admin, db_session):
    east = db_session.scalar(select(Department).where(Department.name == "华东区"))
    root = east.parent
    cycle = admin.post(f"/departments/edit/{root.id}", data={"name": "销售部", "parent": east.id})
    assert "不能是本部门或其下级部门" in cycle.get_data(as_text=True)
    refused = admin.post(f"/departments/delete/{root.id}", follow_redirects=True)
    assert "1 条部门" in refused.get_data(as_text=True)  # the delete guard names the dependents
    db_session.expire_all()
    assert db_session.get(Department, root.id).parent_id is None


@pytest.mark.parametrize("role", ["sales", "support", "engineer", "manager"])
def test_only_the_admin_manages_departments(login_as, role):
    assert login_as(role).get("/departments/list/").status_code in (302, 403)


def test_scope_rule_without_a_request_sees_everything(app, world):
    with app.app_context():
        assert scope.current().everything
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 4
        assert scope.condition(Customer) is None
        assert scope.condition(Department) is None  # not a customer's record


@pytest.mark.parametrize("data_scope", list(EXPECTED), ids=[s.name for s in EXPECTED])
def test_the_global_search_finds_only_the_scopes_records(app, world, data_scope):
    username, expected = EXPECTED[data_scope]
    visitor, _headers = _sign_in(app, username)
    page = visitor.get("/search/?q=客户").get_data(as_text=True)
    assert {letter for letter in LETTERS if f"客户{letter}" in page} == expected
