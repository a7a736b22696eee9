"""No lost update: two people editing the same record, on the pages and through the API.

The first save wins; the second, made from the version both started with, is
refused with a Chinese message naming what changed, and nothing of it is
written. A race the form check cannot see (the other save lands between the
check and the UPDATE) is stopped by the version column in the UPDATE itself.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import event, func, select, text

from app.extensions import db
from app.models import ChangeRecord, Customer, Product
from factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_license,
    make_product,
)
from helpers import PASSWORD


def customer_form(customer: Customer, **changes) -> dict:
    values = {
        "code": customer.code,
        "name": customer.name,
        "category": "",
        "status": customer.status.name,
        "importance": "",
        "address": customer.address or "",
        "phone": customer.phone or "",
        "email": customer.email or "",
    }
    return {**values, **changes}


def loaded_version(visitor, url: str) -> str:
    page = visitor.get(url).get_data(as_text=True)
    match = re.search(
        r'<input id="row_version" name="row_version" type="hidden" value="(\d+)">', page
    )
    assert match, "the edit form carries no record version"
    return match.group(1)


def stored(db_session, customer_id: int) -> Customer:
    db_session.expire_all()
    return db_session.get(Customer, customer_id)


def flashed(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# ---------------------------------------------------------------------- pages


def test_second_page_save_from_an_old_version_is_refused_and_the_first_is_kept(
    login_as, admin, db_session
):
    customer = make_customer(name="长益超市", phone="021-62345678")
    url = f"/customers/edit/{customer.id}"
    sales = login_as("sales")
    version_a = loaded_version(admin, url)
    version_b = loaded_version(sales, url)
    assert version_a == version_b == "1"

    first = admin.post(url, customer_form(customer, name="长益超市（总店）", row_version=version_a))
    assert first.status_code == 302
    second = sales.post(url, customer_form(customer, phone="13812345678", row_version=version_b))
    assert second.status_code == 200  # the form again, not a redirect
    page = second.get_data(as_text=True)
    message = flashed(page)
    assert "admin 已修改并保存了它" in message
    assert "第 1 版，现在是第 2 版" in message
    assert "公司名称：长益超市 → 长益超市（总店）" in message
    assert "您的修改没有保存" in message and "重新打开这条记录" in message
    assert 'value="13812345678"' in page  # what the second user typed is kept
    assert 'name="row_version" type="hidden" value="1"' in page  # a resubmit is refused again

    row = stored(db_session, customer.id)
    assert (row.name, row.phone, row.row_version) == ("长益超市（总店）", "021-62345678", 2)

    # Reloading shows the new version; reapplying then works.
    version_c = loaded_version(sales, url)
    assert version_c == "2"
    third = sales.post(url, customer_form(row, phone="13812345678", row_version=version_c))
    assert third.status_code == 302
    row = stored(db_session, customer.id)
    assert (row.name, row.phone, row.row_version) == ("长益超市（总店）", "13812345678", 3)


def test_resubmitting_the_refused_form_is_refused_again(login_as, admin, db_session):
    customer = make_customer(name="甲")
    url = f"/customers/edit/{customer.id}"
    sales = login_as("sales")
    version = loaded_version(sales, url)
    assert (
        admin.post(url, customer_form(customer, name="乙", row_version=version)).status_code == 302
    )
    for _attempt in range(2):
        response = sales.post(url, customer_form(customer, name="丙", row_version=version))
        assert response.status_code == 200 and "您的修改没有保存" in flashed(
            response.get_data(as_text=True)
        )
    assert stored(db_session, customer.id).name == "乙"


@pytest.mark.parametrize("version", ["abc", "-1", "1; DROP TABLE customer"])
def test_a_damaged_version_field_is_refused(admin, db_session, version):
    customer = make_customer(name="甲")
    response = admin.post(
        f"/customers/edit/{customer.id}", customer_form(customer, name="乙", row_version=version)
    )
    assert response.status_code == 200
    assert "表单已损坏" in flashed(response.get_data(as_text=True))
    assert stored(db_session, customer.id).name == "甲"


def test_a_version_from_the_future_is_refused(admin, db_session):
    customer = make_customer(name="甲")
    response = admin.post(
        f"/customers/edit/{customer.id}", customer_form(customer, name="乙", row_version="7")
    )
    assert response.status_code == 200 and "您的修改没有保存" in flashed(
        response.get_data(as_text=True)
    )
    assert stored(db_session, customer.id).name == "甲"


def test_every_module_edit_form_carries_the_version(admin, db_session):
    feedback = make_feedback()
    records = {
        "customers": feedback.customer,
        "contacts": make_contact(),
        "contracts": make_contract(),
        "products": make_product(),
        "licenses": make_license(),
        "reporters": feedback.reporter,
        "feedback": feedback,
    }
    for base, record in records.items():
        assert loaded_version(admin, f"/{base}/edit/{record.id}") == "1", base
        page = admin.get(f"/{base}/add").get_data(as_text=True)
        assert 'name="row_version"' not in page, base  # a new record has no version yet


def test_the_version_counts_saves_and_stays_out_of_the_history(admin, db_session):
    before = db_session.scalar(select(func.coalesce(func.max(ChangeRecord.id), 0)))
    customer = make_customer(name="甲")
    url = f"/customers/edit/{customer.id}"
    for number, name in enumerate(("乙", "丙"), start=1):
        response = admin.post(
            url, customer_form(customer, name=name, row_version=loaded_version(admin, url))
        )
        assert response.status_code == 302
        assert stored(db_session, customer.id).row_version == number + 1
    changes = db_session.scalars(
        select(ChangeRecord.changes).where(
            ChangeRecord.model == "Customer",
            ChangeRecord.row_id == customer.id,
            ChangeRecord.id > before,
        )
    ).all()
    assert len(changes) == 3 and all("row_version" not in json.loads(c) for c in changes)


@pytest.fixture
def sneaky_save(app):
    """Another user's save lands after the form check, just before the UPDATE.

    A second connection changes the row the moment the session starts its
    flush; the session's UPDATE still carries the version it loaded.
    """
    done = []

    def other_user_saves(session, _context, _instances):
        if done or not any(isinstance(obj, Customer) for obj in session.dirty):
            return
        done.append(True)
        with db.engine.connect() as other:
            other.execute(
                text("UPDATE customer SET name = '别人改的', row_version = row_version + 1")
            )
            other.commit()

    event.listen(db.session, "before_flush", other_user_saves)
    yield done
    event.remove(db.session, "before_flush", other_user_saves)


def test_a_save_racing_past_the_check_is_stopped_by_the_database(admin, db_session, sneaky_save):
    customer = make_customer(name="甲")
    url = f"/customers/edit/{customer.id}"
    response = admin.post(
        url, customer_form(customer, name="乙", row_version=loaded_version(admin, url))
    )
    assert sneaky_save, "the racing save did not happen"
    assert response.status_code == 302
    assert "刚被他人修改或删除" in flashed(
        admin.get(response.headers["Location"]).get_data(as_text=True)
    )
    row = stored(db_session, customer.id)
    assert (row.name, row.row_version) == ("别人改的", 2)


# ------------------------------------------------------------------------ API


class ApiClient:
    def __init__(self, app, username):
        self.client = app.test_client()
        response = self.client.post(
            "/api/v1/security/login",
            json={"username": username, "password": PASSWORD, "provider": "db"},
        )
        assert response.status_code == 200
        self.headers = {"Authorization": f"Bearer {response.json['access_token']}"}

    def get(self, url):
        return self.client.get(url, headers=self.headers)

    def put(self, url, body, **headers):
        return self.client.put(url, json=body, headers={**self.headers, **headers})

    def delete(self, url, **headers):
        return self.client.delete(url, headers={**self.headers, **headers})


def test_api_get_tells_the_version(app, db_session):
    customer = make_customer()
    response = ApiClient(app, "sales").get(f"/api/v1/customers/{customer.id}")
    assert response.json["result"]["row_version"] == 1
    assert response.headers["ETag"] == '"1"'
    listing = ApiClient(app, "sales").get("/api/v1/customers/")
    assert listing.json["result"][0]["row_version"] == 1


def test_second_api_save_from_an_old_version_gets_409_and_the_first_is_kept(app, db_session):
    customer = make_customer(name="长益超市", phone="021-62345678")
    url = f"/api/v1/customers/{customer.id}"
    first_client, second_client = ApiClient(app, "admin"), ApiClient(app, "sales")
    version = first_client.get(url).json["result"]["row_version"]
    assert second_client.get(url).json["result"]["row_version"] == version

    first = first_client.put(url, {"name": "长益超市（总店）", "row_version": version})
    assert first.status_code == 200, first.json
    second = second_client.put(url, {"phone": "13812345678", "row_version": version})
    assert second.status_code == 409
    assert "您的修改没有保存" in second.json["message"]
    assert "公司名称：长益超市 → 长益超市（总店）" in second.json["message"]
    assert second.json["current_version"] == 2
    assert second.json["changes"] == {"公司名称": {"old": "长益超市", "new": "长益超市（总店）"}}
    row = stored(db_session, customer.id)
    assert (row.name, row.phone, row.row_version) == ("长益超市（总店）", "021-62345678", 2)

    again = second_client.put(url, {"phone": "13812345678", "row_version": 2})
    assert again.status_code == 200
    assert stored(db_session, customer.id).phone == "13812345678"


def test_if_match_header_works_like_the_body_field(app, db_session):
    customer = make_customer(name="甲")
    url = f"/api/v1/customers/{customer.id}"
    client = ApiClient(app, "admin")
    assert client.put(url, {"name": "乙"}, **{"If-Match": '"1"'}).status_code == 200
    stale = client.put(url, {"name": "丙"}, **{"If-Match": '"1"'})
    assert stale.status_code == 409 and "您的修改没有保存" in stale.json["message"]
    assert client.put(url, {"name": "丙"}, **{"If-Match": 'W/"2"'}).status_code == 200
    assert stored(db_session, customer.id).name == "丙"


def test_a_product_keeps_its_own_version_field_apart(app, db_session):
    product = make_product(version="5.2")
    url = f"/api/v1/products/{product.id}"
    client = ApiClient(app, "admin")
    response = client.put(url, {"version": "6.0", "row_version": 1})
    assert response.status_code == 200, response.json
    db_session.expire_all()
    stored_product = db_session.get(Product, product.id)
    assert (stored_product.version, stored_product.row_version) == ("6.0", 2)
    assert client.put(url, {"version": "7.0", "row_version": 1}).status_code == 409


@pytest.mark.parametrize("version", ["abc", -1, True, "1.5"])
def test_api_bad_version_is_a_422(app, db_session, version):
    customer = make_customer(name="甲")
    response = ApiClient(app, "admin").put(
        f"/api/v1/customers/{customer.id}", {"name": "乙", "row_version": version}
    )
    assert response.status_code == 422
    assert "row_version" in response.json["message"]
    assert stored(db_session, customer.id).name == "甲"


def test_api_save_without_a_version_is_not_checked(app, db_session):
    """Clients that do not send a version keep working (the last save wins for them)."""
    customer = make_customer(name="甲")
    response = ApiClient(app, "admin").put(f"/api/v1/customers/{customer.id}", {"name": "乙"})
    assert response.status_code == 200 and response.json["result"]["name"] == "乙"


def test_api_delete_of_a_changed_record_with_if_match_gets_409(app, db_session):
    customer = make_customer(name="甲")
    url = f"/api/v1/customers/{customer.id}"
    client = ApiClient(app, "admin")
    assert client.put(url, {"name": "乙", "row_version": 1}).status_code == 200
    refused = client.delete(url, **{"If-Match": '"1"'})
    assert refused.status_code == 409
    assert stored(db_session, customer.id) is not None
    assert client.delete(url, **{"If-Match": '"2"'}).status_code == 200
    assert stored(db_session, customer.id) is None


def test_api_save_racing_past_the_check_gets_409(app, db_session, sneaky_save):
    customer = make_customer(name="甲")
    response = ApiClient(app, "admin").put(
        f"/api/v1/customers/{customer.id}", {"name": "乙", "row_version": 1}
    )
    assert sneaky_save and response.status_code == 409
    assert "刚被他人修改或删除" in response.json["message"]
    row = stored(db_session, customer.id)
    assert (row.name, row.row_version) == ("别人改的", 2)


def test_api_strips_typed_text_like_the_pages(app, db_session):
    customer = make_customer(name="甲")
    response = ApiClient(app, "admin").put(
        f"/api/v1/customers/{customer.id}", {"name": "  乙  ", "code": " C990001 "}
    )
    assert response.status_code == 200
    row = stored(db_session, customer.id)
    assert (row.name, row.code) == ("乙", "C990001")
    duplicate = ApiClient(app, "admin").put(
        f"/api/v1/customers/{make_customer().id}", {"code": "C990001 "}
    )
    assert duplicate.status_code == 422 and "已被使用" in str(duplicate.json["message"])
