"""The REST API's refusals in the client's language (issue 5): its token checks,
Flask-AppBuilder's own 400 and 404 answers, and English after ``?_l_=en``.

Each answer is JSON ``{"message": ...}`` with the status Flask-AppBuilder or the
token check gives; the messages in tests/test_api.py are the record rules'.
"""

from __future__ import annotations

import re
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select

from app.extensions import db
from app.models import CrmUser
from factories import make_customer

CJK = re.compile(r"[\u4e00-\u9fff]")


def _refusal(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert set(response.json) == {"message"}, response.json
    return response.json["message"]


def _token(app, username: str, **kwargs) -> str:
    """A token as /api/v1/security/login hands out (FAB's identity: the user's id)."""
    with app.app_context():
        user_id = db.session.scalar(select(CrmUser.id).where(CrmUser.username == username))
        make = kwargs.pop("make", create_access_token)
        return make(identity=str(user_id), **kwargs)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- tokens


def test_no_token_is_a_401_saying_to_sign_in(app):
    message = _refusal(app.test_client().get("/api/v1/customers/"), 401)
    assert message.startswith("请先登录") and "Authorization" in message


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("abc", id="malformed"),
        pytest.param("a.b.c", id="not-base64"),
        pytest.param(
            pyjwt.encode(
                {"sub": "1", "type": "access"}, "not the app's key " * 4, algorithm="HS256"
            ),
            id="foreign-signature",
        ),
    ],
)
def test_a_broken_token_is_a_401_in_chinese(app, token):
    message = _refusal(app.test_client().get("/api/v1/customers/", headers=_bearer(token)), 401)
    assert message == "访问令牌无效，请重新登录以获取新令牌。"


def test_a_refresh_token_is_no_access_token(app):
    token = _token(app, "sales", make=create_refresh_token)
    message = _refusal(app.test_client().get("/api/v1/customers/", headers=_bearer(token)), 401)
    assert message == "访问令牌无效，请重新登录以获取新令牌。"


def test_an_expired_token_is_a_401_in_chinese(app):
    token = _token(app, "sales", expires_delta=timedelta(seconds=-60))
    message = _refusal(app.test_client().get("/api/v1/customers/", headers=_bearer(token)), 401)
    assert message.startswith("访问令牌已过期")


def test_a_revoked_token_is_a_401_in_chinese(app, monkeypatch):
    monkeypatch.setattr(
        app.appbuilder.sm.jwt_manager, "_token_in_blocklist_callback", lambda header, data: True
    )
    token = _token(app, "sales")
    message = _refusal(app.test_client().get("/api/v1/customers/", headers=_bearer(token)), 401)
    assert message == "访问令牌已被撤销，请重新登录。"


def test_the_token_of_a_deactivated_user_is_a_401_in_chinese(app, api, db_session):
    api.as_("sales")
    assert api.get("/api/v1/customers/").status_code == 200
    db_session.scalars(select(CrmUser).where(CrmUser.username == "sales")).one().active = False
    db_session.commit()
    message = _refusal(api.get("/api/v1/customers/"), 401)
    assert message == "此访问令牌所属的账户已不存在或已停用。"
    assert "sales" not in message and not re.search(r"\d", message)


def test_refreshing_with_an_access_token_is_refused_in_chinese(app):
    token = _token(app, "sales")
    response = app.test_client().post("/api/v1/security/refresh", headers=_bearer(token))
    assert CJK.search(_refusal(response, 401))


# ---------------------------------------------------------------- Flask-AppBuilder's answers


def test_a_missing_record_is_a_404_in_chinese(api):
    api.as_("admin")
    for method in ("get", "put", "delete"):
        kwargs = {"json": {"name": "x"}} if method == "put" else {}
        response = getattr(api, method)("/api/v1/customers/987654", **kwargs)
        assert _refusal(response, 404) == "页面或记录不存在，可能已被删除。", method


@pytest.mark.parametrize(
    "q,message",
    [
        pytest.param("(((", "参数 q 不是有效的 Rison 或 JSON。", id="nested-open"),
        pytest.param("!)", "参数 q 不是有效的 Rison 或 JSON。", id="not-rison"),
        pytest.param(
            "(page:x)",
            "参数 q 与接口说明（/api/v1/_openapi）不符，请检查其中的键和值。",
            id="schema",
        ),
        pytest.param(
            "(filters:!((col:nope,opr:eq,value:1)))", "不能按“nope”筛选列表。", id="filter-column"
        ),
        pytest.param(
            "(order_column:nope,order_direction:asc)", "不能按“nope”排序列表。", id="order-column"
        ),
        pytest.param(
            "(columns:!(code),select_columns:!(code))",
            "参数 q 中的 columns 和 select_columns 只能二选一。",
            id="both-column-lists",
        ),
    ],
)
def test_bad_list_arguments_are_a_400_in_chinese(api, q, message):
    response = api.as_("manager").get("/api/v1/customers/", query_string={"q": q})
    assert _refusal(response, 400) == message


def test_a_known_column_that_may_not_filter_is_named_by_its_label(api):
    q = "(filters:!((col:id,opr:eq,value:1)))"
    response = api.as_("manager").get("/api/v1/customers/", query_string={"q": q})
    assert _refusal(response, 400) == "不能按“编号”筛选列表。"
    q = "(filters:!((col:created_by,opr:eq,value:1)))"
    response = api.get("/api/v1/customers/", query_string={"q": q})
    assert _refusal(response, 400) == "筛选条件“eq”不能用于“创建者”。"


@pytest.mark.parametrize("method", ["post", "put"])
def test_a_body_that_is_not_json_is_a_400_in_chinese(api, db_session, method):
    customer = make_customer()
    url = "/api/v1/customers/" + ("" if method == "post" else str(customer.id))
    api.as_("admin")
    message = _refusal(getattr(api, method)(url, data="code=C1"), 400)
    assert message == "请以 JSON 格式发送记录（Content-Type: application/json）。"
    broken = getattr(api, method)(url, data="{broken", content_type="application/json")
    assert _refusal(broken, 400) == "无法读取请求，请检查请求内容是否为有效的 JSON。"


def test_an_unsupported_method_is_a_405_in_chinese(api):
    response = api.as_("admin").patch("/api/v1/customers/1", json={})
    assert _refusal(response, 405) == "此地址不接受 PATCH 请求。"
    assert "PUT" in response.headers["Allow"]


# ---------------------------------------------------------------- English


def test_english_after_switching_the_language(app, api):
    """No ``db_session`` here: its app context would keep the first request's locale in ``g``."""
    client = app.test_client()
    assert _refusal(client.get("/api/v1/customers/?_l_=en"), 401).startswith("Sign in first")
    api.as_("sales")
    response = api.post("/api/v1/customers/?_l_=en", json={"code": "C-EN", "status": "new"})
    assert response.status_code == 422
    assert response.json["message"] == {
        "name": ["Company name is required."],
        "status": ["Customer status must be one of: prospect, signed, suspended, lost."],
    }
    assert _refusal(api.get("/api/v1/customers/987654?_l_=en"), 404) == (
        "The page or record does not exist. It may have been deleted."
    )
    q = "(order_column:nope,order_direction:asc)"
    assert _refusal(api.get("/api/v1/customers/", query_string={"q": q, "_l_": "en"}), 400) == (
        "The list cannot be sorted by nope."
    )
    info = api.get("/api/v1/customers/_info?_l_=en").json
    assert {f["name"]: f["label"] for f in info["add_columns"]}["code"] == "Customer code"
    # and Chinese again without the switch
    assert _refusal(api.get("/api/v1/customers/987654"), 404) == "页面或记录不存在，可能已被删除。"


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            {},
            {
                "username": ["请填写登录名。"],
                "password": ["请填写密码。"],
                "provider": ['认证方式（provider）必须为 "db"。'],
            },
        ),
        (
            {"username": "sales", "password": "x"},
            {"provider": ['认证方式（provider）必须为 "db"。']},
        ),
        (
            {"username": "sales", "password": 5, "provider": "db"},
            {"password": ["密码必须是文本。"]},
        ),
        (
            {"username": "sales", "password": "x", "provider": "ldap"},
            {"provider": ['认证方式（provider）必须为 "db"。']},
        ),
    ],
    ids=["empty", "no-provider", "password-not-text", "other-provider"],
)
def test_a_malformed_sign_in_is_a_400_in_chinese(app, body, expected):
    response = app.test_client().post("/api/v1/security/login", json=body)
    assert response.status_code == 400, response.json
    assert response.json["message"] == expected


def test_a_sign_in_that_is_not_json_is_a_400_in_chinese(app):
    response = app.test_client().post("/api/v1/security/login", data="username=sales")
    message = _refusal(response, 400)
    assert message.startswith("请以 JSON 格式提交登录信息"), message
