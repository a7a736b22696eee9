"""The REST API: JWT sign-in with CSRF on, the OpenAPI spec, and the pages' rules.

Which role may call what is in tests/test_permissions.py; this file checks
that the API refuses what the pages refuse, with the same Chinese messages.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, insert, select

from app.models import (
    Contact,
    Contract,
    CrmUser,
    Customer,
    CustomerStatus,
    Feedback,
    License,
    Product,
    Reporter,
)
from factories import make_contact, make_contract, make_customer, make_product, make_reporter
from helpers import PASSWORD

MODULE_PATHS = [
    "customers",
    "contacts",
    "contracts",
    "products",
    "licenses",
    "feedback",
    "reporters",
    "payment-plans",
    "payments",
]


def _count(db_session, model):
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def test_jwt_login_works_with_csrf_protection_on(app, api):
    assert app.config["WTF_CSRF_ENABLED"] is True
    response = api.client.post(
        "/api/v1/security/login",
        json={"username": "sales", "password": PASSWORD, "provider": "db", "refresh": True},
    )
    assert response.status_code == 200
    assert response.json["access_token"] and response.json["refresh_token"]
    refreshed = api.client.post(
        "/api/v1/security/refresh",
        headers={"Authorization": f"Bearer {response.json['refresh_token']}"},
    )
    assert refreshed.status_code == 200 and refreshed.json["access_token"]


def test_wrong_password_gets_401_in_chinese(api):
    response = api.client.post(
        "/api/v1/security/login",
        json={"username": "sales", "password": "wrong", "provider": "db"},
    )
    assert response.status_code == 401
    assert "登录失败" in response.json["message"]


def test_calls_without_a_token_are_refused(api):
    for path in MODULE_PATHS:
        response = api.client.get(f"/api/v1/{path}/")
        assert response.status_code == 401, path


def test_the_openapi_spec_is_served_and_describes_every_module(api):
    assert api.client.get("/api/v1/_openapi").status_code == 401
    response = api.as_("sales").get("/api/v1/_openapi")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    for path in MODULE_PATHS:
        assert f"/api/v1/{path}/" in spec["paths"], path
        assert f"/api/v1/{path}/{{pk}}" in spec["paths"], path
    assert "/api/v1/security/login" in spec["paths"]


def test_the_swagger_ui_is_not_served(api):
    """It would load its scripts from a CDN; the panel must work on a closed intranet."""
    assert api.as_("admin").get("/swagger/v1").status_code == 404


def test_enumerations_are_their_codes(api, db_session):
    api.as_("sales")
    response = api.post(
        "/api/v1/customers/",
        json={
            "code": "C-ENUM",
            "name": "枚举客户",
            "status": "prospect",
            "importance": "B",
            "category": None,
        },
    )
    assert response.status_code == 201, response.json
    row = api.get(f"/api/v1/customers/{response.json['id']}").json["result"]
    assert (row["status"], row["importance"], row["category"]) == ("prospect", "B", None)
    db_session.expire_all()
    assert db_session.get(Customer, response.json["id"]).status is CustomerStatus.prospect

    before = _count(db_session, Customer)
    response = api.post("/api/v1/customers/", json={"code": "C-BAD", "name": "x", "status": "签约"})
    assert response.status_code == 422, response.json
    assert response.json["message"] == {
        "status": ["客户状态必须是以下之一：prospect, signed, suspended, lost。"]
    }
    assert _count(db_session, Customer) == before


def test_the_api_refuses_what_the_page_refuses_with_the_same_messages(api, admin, db_session):
    make_customer(code="C-TAKEN")
    bad = {
        "code": "C-TAKEN",
        "name": "重复客户",
        "status": "signed",
        "phone": "12345",
        "email": "not-an-email",
    }
    before = _count(db_session, Customer)

    response = api.as_("sales").post("/api/v1/customers/", json=bad)
    assert response.status_code == 422
    messages = response.json["message"]
    assert set(messages) == {"code", "phone", "email"}
    assert messages["code"] == ["客户编码“C-TAKEN”已被使用，请换一个。"]
    assert "大陆手机号" in messages["phone"][0]

    page = html.unescape(admin.post("/customers/add", data=bad).get_data(as_text=True))
    for field in ("code", "phone", "email"):
        assert messages[field][0] in page, field
    assert _count(db_session, Customer) == before


def test_a_broken_rule_on_update_changes_nothing(api, db_session):
    contract = make_contract()
    response = api.as_("sales").put(
        f"/api/v1/contracts/{contract.id}",
        json={"sign_date": "2026-06-01", "end_date": "2026-01-01", "amount": -5},
    )
    assert response.status_code == 422
    assert set(response.json["message"]) == {"end_date", "amount"}
    assert response.json["message"]["end_date"] == ["截止日期不能早于签订日期。"]
    assert response.json["message"]["amount"] == ["合同金额不能小于 0。"]
    db_session.expire_all()
    stored = db_session.get(Contract, contract.id)
    assert (str(stored.sign_date), str(stored.amount)) == ("2026-01-01", "12345.67")


def test_taking_another_records_unique_code_on_update_is_a_422_naming_it(api, db_session):
    """Found by tests/test_api_fuzz.py: reading the record's relations (here who last
    changed it, another user) flushed the new code before the rule could name it."""
    taken = make_customer(code="C-TAKEN")
    customer = make_customer()
    customer.changed_by_fk = db_session.scalar(
        select(CrmUser.id).where(CrmUser.username == "manager")
    )
    db_session.commit()
    db_session.expire_all()  # the request loads both afresh
    response = api.as_("sales").put(
        f"/api/v1/customers/{customer.id}", json={"code": "C-TAKEN", "name": "新名字"}
    )
    assert response.status_code == 422, response.json
    assert response.json["message"] == {"code": ["客户编码“C-TAKEN”已被使用，请换一个。"]}
    db_session.expire_all()
    stored = db_session.get(Customer, customer.id)
    assert stored.code != "C-TAKEN" and stored.name != "新名字"
    assert db_session.get(Customer, taken.id).code == "C-TAKEN"


def test_a_record_others_depend_on_is_not_deleted(api, db_session):
    contact = make_contact()
    response = api.as_("admin").delete(f"/api/v1/customers/{contact.customer_id}")
    assert response.status_code == 422
    assert response.json["message"].startswith("无法删除“")
    assert "请先删除或转移这些记录" in response.json["message"]
    db_session.expire_all()
    assert db_session.get(Customer, contact.customer_id) is not None


def test_missing_records_are_404(api):
    api.as_("admin")
    assert api.get("/api/v1/customers/987654").status_code == 404
    assert api.put("/api/v1/customers/987654", json={"name": "x"}).status_code == 404
    assert api.delete("/api/v1/customers/987654").status_code == 404


def test_page_size_is_capped(api, db_session, app):
    largest = app.config["FAB_API_MAX_PAGE_SIZE"]
    owner = db_session.scalar(select(CrmUser.id).where(CrmUser.username == "sales"))
    db_session.execute(
        insert(Customer),
        [
            {"code": f"P{n:05d}", "name": f"客户{n}", "status": "signed", "owner_id": owner}
            for n in range(largest + 5)
        ],
    )
    db_session.commit()
    response = api.as_("manager").get("/api/v1/customers/?q=(page_size:100000)")
    assert response.status_code == 200, response.json
    assert response.json["count"] == largest + 5
    assert len(response.json["result"]) == largest


# ---------------------------------------------------------------- what marshmallow refuses


@pytest.fixture
def valid_bodies(db_session):
    """A body each module's POST accepts, with the records it points at."""
    product = make_product()
    customer = product.customer
    reporter = make_reporter(customer=customer)
    return {
        "customers": {"code": "C-API", "name": "接口客户", "status": "signed"},
        "contacts": {"customer": customer.id, "name": "张三", "status": "active"},
        "contracts": {"customer": customer.id, "number": "HT-API", "amount": "100.00"},
        "products": {"customer": customer.id, "name": "门店系统"},
        "licenses": {
            "customer": customer.id,
            "product": product.id,
            "serial": "SN-API",
            "seats": 5,
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
        },
        "feedback": {
            "customer": customer.id,
            "reporter": reporter.id,
            "problem": "打印机不出纸",
            "level": "medium",
            "status": "new",
        },
        "reporters": {"customer": customer.id, "name": "店长"},
    }


MODELS = {
    "customers": Customer,
    "contacts": Contact,
    "contracts": Contract,
    "products": Product,
    "licenses": License,
    "feedback": Feedback,
    "reporters": Reporter,
}
MISSING = object()


@pytest.mark.parametrize(
    "path,field,value,message",
    [
        pytest.param("customers", "name", MISSING, "请填写公司名称。", id="missing"),
        pytest.param("reporters", "customer", MISSING, "请填写客户。", id="missing-relation"),
        pytest.param("customers", "name", None, "请填写公司名称。", id="null"),
        pytest.param("feedback", "reporter", None, "请填写反馈人员。", id="null-relation"),
        pytest.param(
            "customers",
            "status",
            "签约",
            "客户状态必须是以下之一：prospect, signed, suspended, lost。",
            id="unknown-code",
        ),
        pytest.param(
            "feedback",
            "level",
            "__class__",
            "问题级别必须是以下之一：urgent, high, medium, low。",
            id="attribute-as-code",
        ),
        pytest.param(
            "contacts", "status", 1, "状态必须是以下之一：active, left。", id="number-as-code"
        ),
        pytest.param("customers", "code", 42, "客户编码必须是文本。", id="number-as-text"),
        pytest.param("contracts", "amount", "abc", "合同金额必须是数字。", id="not-a-number"),
        pytest.param("licenses", "seats", "many", "授权个数必须是整数。", id="not-an-integer"),
        pytest.param(
            "licenses", "is_trial", "maybe", "试用必须是 true 或 false。", id="not-a-boolean"
        ),
        pytest.param(
            "contracts",
            "sign_date",
            "2026-13-01",
            "签订日期必须是日期，例如 2026-01-31。",
            id="not-a-date",
        ),
        pytest.param(
            "feedback",
            "created_at",
            "yesterday",
            "创建日期必须是日期和时间，例如 2026-01-31 09:30。",
            id="not-a-date-time",
        ),
        pytest.param(
            "products",
            "customer",
            "abc",
            "客户须为已有记录的编号（整数）。",
            id="relation-not-a-key",
        ),
        pytest.param(
            "products",
            "customer",
            987654,
            "客户：编号为 987654 的记录不存在。",
            id="relation-missing",
        ),
        pytest.param(
            "customers",
            "nope",
            "x",
            "此记录没有这个字段，或该字段不能填写，请去掉它。",
            id="unknown-field",
        ),
        pytest.param(
            "customers",
            "id",
            5,
            "此记录没有这个字段，或该字段不能填写，请去掉它。",
            id="read-only-field",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field_in_chinese(
    api, db_session, valid_bodies, path, field, value, message
):
    body = dict(valid_bodies[path])
    if value is MISSING:
        body.pop(field)
    else:
        body[field] = value
    before = _count(db_session, MODELS[path])
    response = api.as_("admin").post(f"/api/v1/{path}/", json=body)
    assert response.status_code == 422, response.json
    assert response.json["message"] == {field: [message]}
    assert _count(db_session, MODELS[path]) == before


def test_the_valid_bodies_are_stored(api, db_session, valid_bodies):
    """The bodies above fail only by the field each case spoils."""
    api.as_("admin")
    for path, body in valid_bodies.items():
        response = api.post(f"/api/v1/{path}/", json=body)
        assert response.status_code == 201, (path, response.json)


def test_a_missing_required_field_has_the_pages_message(api, admin, db_session):
    body = {"code": "C-REQ", "status": "signed"}
    response = api.as_("sales").post("/api/v1/customers/", json=body)
    assert response.status_code == 422
    message = response.json["message"]["name"][0]
    page = html.unescape(admin.post("/customers/add", data=body).get_data(as_text=True))
    assert message == "请填写公司名称。" and message in page


def test_a_body_that_is_not_an_object_is_a_422_in_chinese(api, db_session):
    response = api.as_("sales").post("/api/v1/customers/", json=[{"code": "C-LIST"}])
    assert response.status_code == 422
    assert response.json["message"] == {"_schema": ["请以 JSON 对象（字段名与值）发送记录。"]}
    assert _count(db_session, Customer) == 0


def test_an_update_with_a_wrong_type_changes_nothing(api, db_session):
    contract = make_contract()
    response = api.as_("sales").put(
        f"/api/v1/contracts/{contract.id}", json={"amount": "lots", "number": "HT-NEW"}
    )
    assert response.status_code == 422
    assert response.json["message"] == {"amount": ["合同金额必须是数字。"]}
    db_session.expire_all()
    assert db_session.get(Contract, contract.id).number == contract.number


# ---------------------------------------------------------------- labels


def _page_labels(visitor, path: str) -> dict[str, str]:
    page = visitor.get(f"/{path}/add").get_data(as_text=True)
    return {
        name: html.unescape(text).strip()
        for name, text in re.findall(r'<label for="(\w+)"[^>]*>\s*([^<]*?)\s*(?:<|$)', page)
    }


@pytest.mark.parametrize("path", MODULE_PATHS)
def test_info_labels_are_the_page_labels_and_descriptions_are_blank(api, admin, path):
    response = api.as_("admin").get(f"/api/v1/{path}/_info")
    assert response.status_code == 200
    assert "Project-Id-Version" not in response.get_data(as_text=True)
    page = _page_labels(admin, path)
    fields = {field["name"]: field for field in response.json["add_columns"]}
    shared = set(fields) & set(page)
    assert len(shared) >= 2, (sorted(fields), sorted(page))
    for name in shared:
        assert fields[name]["label"] == page[name], name
    assert all(field["description"] == "" for field in fields.values())
    assert re.search(r"[\u4e00-\u9fff]", response.json["add_title"])


@pytest.mark.parametrize("path", MODULE_PATHS)
def test_list_labels_and_title_are_chinese(api, db_session, path):
    response = api.as_("manager").get(f"/api/v1/{path}/")
    assert response.status_code == 200
    assert "Project-Id-Version" not in response.get_data(as_text=True)
    labels = response.json["label_columns"]
    assert set(labels) == set(response.json["list_columns"])
    english = {
        column: text for column, text in labels.items() if not re.search(r"[\u4e00-\u9fff]", text)
    }
    assert not english
    assert re.search(r"[\u4e00-\u9fff]", response.json["list_title"])


def test_a_dotted_column_names_the_relation_and_its_field(api, db_session):
    labels = api.as_("support").get("/api/v1/feedback/").json["label_columns"]
    assert labels["customer.code"] == "客户：客户编码"
    assert labels["reporter.name"] != labels["engineer.first_name"]
