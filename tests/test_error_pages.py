"""Client error pages of the panel in the user's language (issue 5), not werkzeug's
English ones: a form without a valid CSRF token (400), a method a page does not
take (405), and the app's own 400s, each changing nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Customer
from factories import make_customer
from helpers import Visitor, visible_text

WERKZEUG_ENGLISH = ("Bad Request", "Method Not Allowed", "CSRF", "The browser (or proxy)")
EXPIRED_FORM = "表单已过期或并非从本页面提交，因此没有保存任何内容。请刷新页面后重试。"


def assert_app_page(response, status: int, *texts: str) -> str:
    """The panel's own Chinese page with ``texts``, and none of werkzeug's English."""
    assert response.status_code == status, response.status_code
    assert response.content_type.startswith("text/html")
    page = visible_text(response)
    for text in texts:
        assert text in page, text
    for english in WERKZEUG_ENGLISH:
        assert english not in page, english
    assert '<html lang="zh-CN"' in response.get_data(as_text=True)
    return page


def _stored(db_session, code: str) -> Customer | None:
    db_session.expire_all()
    return db_session.scalar(select(Customer).where(Customer.code == code))


FORM = {"code": "C-CSRF", "name": "无令牌客户", "status": "signed"}


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "forged"])
def test_a_form_without_a_valid_token_gets_a_chinese_400_and_saves_nothing(
    admin, db_session, token
):
    data = dict(FORM, **({"csrf_token": token} if token else {}))
    response = admin.client.post("/customers/add", data=data)
    assert_app_page(response, 400, "表单已过期（400）", EXPIRED_FORM, "返回首页")
    assert _stored(db_session, "C-CSRF") is None


def test_an_expired_token_says_the_form_expired(admin, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", -1)  # every token is too old
    response = admin.post("/customers/add", data=FORM)
    assert_app_page(response, 400, EXPIRED_FORM)
    assert _stored(db_session, "C-CSRF") is None


def test_a_delete_without_the_token_keeps_the_record(admin, db_session):
    customer = make_customer()
    response = admin.client.post(f"/customers/delete/{customer.id}")
    assert_app_page(response, 400, EXPIRED_FORM)
    db_session.expire_all()
    assert db_session.get(Customer, customer.id) is not None


def test_the_sign_in_form_without_its_token_is_chinese_for_a_visitor(app):
    response = Visitor(app).client.post("/login/", data={"username": "sales", "password": "x"})
    assert_app_page(response, 400, EXPIRED_FORM)


def test_the_expired_form_page_in_english(admin, db_session):
    admin.get("/lang/en")
    response = admin.client.post("/customers/add", data=FORM)
    assert response.status_code == 400
    page = visible_text(response)
    assert "Form expired (400)" in page and "Reload the page and try again." in page
    assert _stored(db_session, "C-CSRF") is None


def test_a_method_a_page_does_not_take_is_a_chinese_405(admin, db_session):
    customer = make_customer()
    response = admin.client.put(f"/customers/show/{customer.id}", data={"name": "改名"})
    assert_app_page(response, 405, "不允许此操作（405）", "此地址不接受 PUT 请求。")
    assert "GET" in response.headers["Allow"]
    db_session.expire_all()
    assert db_session.get(Customer, customer.id).name == customer.name


def test_the_apps_own_400_keeps_its_message_on_the_chinese_page(admin):
    response = admin.get("/feedback/list/?psize_FeedbackView=abc")
    assert_app_page(response, 400, "请求无效（400）", "页码和每页条数必须是整数")


def test_a_language_the_panel_does_not_have_is_a_chinese_404(admin):
    """Flask-AppBuilder's language switch aborts with an English description."""
    response = admin.get("/lang/xx")
    assert response.status_code == 404
    page = visible_text(response)
    assert "不支持这种语言。" in page and "Locale not supported" not in page
