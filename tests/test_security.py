"""Sign-in throttling, session cookie, CSRF and the error pages, through HTTP.

The browser's view of a failed sign-in is in tests/test_browser.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.exceptions import InternalServerError

from app import create_app
from app.extensions import db
from app.models import CrmUser, Customer
from app.services import login_throttle
from factories import make_customer
from helpers import PASSWORD, Visitor, csrf_token_of, make_user, unescaped_html

TOO_MANY = "登录失败次数过多"


def _from(app, address: str) -> Visitor:
    visitor = Visitor(app)
    visitor.client.environ_base["REMOTE_ADDR"] = address
    return visitor


def _form_login(app, username, password, address="10.0.0.1"):
    """Sign in through the form; returns (signed in?, the page shown afterwards)."""
    visitor = _from(app, address)
    response = visitor.login(username, password)
    signed_in = response.status_code == 302 and "/login/" not in response.headers["Location"]
    return signed_in, unescaped_html(visitor.get(response.headers.get("Location", "/login/")))


def _api_login(app, username, password, address="10.0.0.1"):
    return app.test_client().post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db"},
        environ_base={"REMOTE_ADDR": address},
    )


def _user(db_session, username):
    db_session.expire_all()
    return db_session.scalar(select(CrmUser).where(CrmUser.username == username))


# ---------------------------------------------------------------- per account


def test_account_is_locked_after_repeated_failures_even_with_the_right_password(app, db_session):
    make_user(app)
    limit = app.config["CRM_LOGIN_MAX_FAILURES"]
    for attempt in range(limit):
        # a different address each time: the account, not the address, is counted
        ok, page = _form_login(app, "zhaolei", "wrong-password", address=f"10.1.0.{attempt}")
        assert not ok and "登录失败" in page
    user = _user(db_session, "zhaolei")
    assert user.fail_login_count == limit and user.locked_until > datetime.now()

    ok, page = _form_login(app, "zhaolei", PASSWORD, address="10.1.1.1")
    assert not ok
    minutes = app.config["CRM_LOGIN_LOCK_MINUTES"]
    assert f"{TOO_MANY}，请 {minutes} 分钟后再试" in page
    response = _api_login(app, "zhaolei", PASSWORD, address="10.1.1.2")
    assert response.status_code == 429 and TOO_MANY in response.json["message"]
    # other accounts are not affected
    assert _form_login(app, "sales", PASSWORD, address="10.1.1.3")[0]


def test_the_lock_ends_and_a_good_sign_in_resets_the_count(app, db_session):
    make_user(app, fail_login_count=5, locked_until=datetime.now() - timedelta(seconds=1))
    ok, _page = _form_login(app, "zhaolei", PASSWORD)
    assert ok
    user = _user(db_session, "zhaolei")
    assert user.fail_login_count == 0 and user.locked_until is None


def test_json_login_failures_count_towards_the_same_lock(app, db_session):
    make_user(app)
    for attempt in range(app.config["CRM_LOGIN_MAX_FAILURES"]):
        response = _api_login(app, "zhaolei", "wrong-password", address=f"10.2.0.{attempt}")
        assert response.status_code == 401
        assert response.json["message"] == "登录失败：用户名或密码错误，请重新输入。"
    assert _api_login(app, "zhaolei", PASSWORD).status_code == 429
    assert not _form_login(app, "zhaolei", PASSWORD)[0]


def test_the_account_lock_is_seen_by_every_worker(app, db_session, tmp_path):
    """A second app on the same database (another gunicorn worker or host) refuses too."""
    make_user(app)
    for attempt in range(app.config["CRM_LOGIN_MAX_FAILURES"]):
        _form_login(app, "zhaolei", "wrong-password", address=f"10.3.0.{attempt}")
    other_worker = create_app(
        {
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        }
    )
    with other_worker.app_context():
        ok, page = _form_login(other_worker, "zhaolei", PASSWORD)
        db.session.remove()
    assert not ok and TOO_MANY in page


# ---------------------------------------------------------------- per address


@pytest.fixture
def address_limit(app, monkeypatch):
    """Turn the per-address limit on (the test config has it off) at 3 failures."""
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    monkeypatch.setitem(app.config, "CRM_LOGIN_ADDRESS_LIMIT", "3 per 15 minute")
    app.extensions.pop(login_throttle.NAMESPACE, None)
    yield
    app.extensions.pop(login_throttle.NAMESPACE, None)


def test_an_address_is_throttled_after_repeated_failures(app, db_session, address_limit):
    for name in ("nobody1", "nobody2", "nobody3"):  # unknown accounts count too
        ok, page = _form_login(app, name, "guess", address="10.9.0.1")
        assert not ok and "登录失败" in page and TOO_MANY not in page
    ok, page = _form_login(app, "sales", PASSWORD, address="10.9.0.1")
    assert not ok and TOO_MANY in page
    response = _api_login(app, "sales", PASSWORD, address="10.9.0.1")
    assert response.status_code == 429 and TOO_MANY in response.json["message"]
    # another address is not affected, and the accounts were not locked
    assert _form_login(app, "sales", PASSWORD, address="10.9.0.2")[0]
    assert _user(db_session, "sales").locked_until is None


def test_successful_sign_ins_do_not_use_up_the_address_limit(app, db_session, address_limit):
    for _ in range(5):
        assert _form_login(app, "sales", PASSWORD, address="10.9.1.1")[0]
    assert _api_login(app, "sales", PASSWORD, address="10.9.1.1").status_code == 200


def test_json_login_failures_count_for_the_address(app, db_session, address_limit):
    for name in ("nobody1", "nobody2", "nobody3"):
        assert _api_login(app, name, "guess", address="10.9.2.1").status_code == 401
    assert _api_login(app, "sales", PASSWORD, address="10.9.2.1").status_code == 429
    assert not _form_login(app, "sales", PASSWORD, address="10.9.2.1")[0]


# ---------------------------------------------------------------- session, passwords, CSRF


def test_session_cookie_is_httponly_and_samesite_lax(app, db_session):
    response = Visitor(app).login("sales")
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP unless configured


def test_session_cookie_is_secure_when_configured(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    cookie = Visitor(app).login("sales").headers.get("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_secure_cookies_are_turned_on_by_the_environment(app):
    """``CRM_SECURE_COOKIES=1`` (behind HTTPS) marks the session and remember cookies Secure."""
    script = (
        "import config; print(config.SESSION_COOKIE_SECURE, config.REMEMBER_COOKIE_SECURE, "
        "config.SESSION_COOKIE_HTTPONLY, config.SESSION_COOKIE_SAMESITE)"
    )
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 32, "CRM_INSTANCE_DIR": app.instance_path}
    for value, expected in (("1", "True True True Lax"), ("", "False False True Lax")):
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env={**env, "CRM_SECURE_COOKIES": value},
            cwd=app.root_path + "/..",
            check=True,
        )
        assert result.stdout.strip() == expected


def test_passwords_are_stored_hashed(db_session):
    for user in db_session.scalars(select(CrmUser)):
        assert user.password != PASSWORD
        assert user.password.startswith(("scrypt:", "pbkdf2:"))


def _view_of(app, endpoint: str):
    name = endpoint.split(".")[0]
    return next((view for view in app.appbuilder.baseviews if type(view).__name__ == name), None)


def _page_urls(app, db_session) -> list[str]:
    """Every HTML page of the panel, with a real record for ``<pk>``: lists, shows, forms."""
    from factories import make_contact, make_contract, make_feedback, make_license

    make_feedback(), make_license(), make_contact(), make_contract()
    urls = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if (
            "GET" not in rule.methods
            or path.startswith(("/api/", "/static", "/appbuilder"))
            or any(
                part in path
                for part in (
                    "/delete/",
                    "/action/",
                    "/lang/",
                    "logout",
                    "export",
                    "xlsx",
                    "download",
                    "/_",
                )
            )
        ):
            continue
        arguments = set(rule.arguments)
        if not arguments:
            urls.append(path)
            continue
        view = _view_of(app, rule.endpoint)
        if arguments != {"pk"} or view is None or not hasattr(view, "datamodel"):
            continue
        model = view.datamodel.obj
        pk = db_session.scalar(select(model.id).order_by(model.id))
        if pk is not None:
            urls.append(re.sub(r"<(?:\w+:)?pk>", str(pk), path))
    return sorted(urls)


def test_every_form_carries_a_csrf_token(app, admin, db_session):
    """Every page the admin can open: each POST form in it has the token field."""
    urls = _page_urls(app, db_session)
    assert {"/customers/add", "/users/add", "/roles/add", "/userinfoeditview/form"} <= set(urls)
    forms_seen = 0
    for url in urls + ["/resetpassword/form?pk=1"]:
        response = admin.get(url)
        if response.status_code != 200 or "html" not in response.content_type:
            continue
        page = response.get_data(as_text=True)
        for form in re.findall(r"<form\b.*?</form>", page, re.S | re.I):
            if re.search(r'method\s*=\s*"post"', form, re.I):
                forms_seen += 1
                assert 'name="csrf_token"' in form, f"{url}: {form[:200]}"
    assert forms_seen >= 20
    assert csrf_token_of(Visitor(app).get("/login/"))


def test_every_post_without_the_csrf_token_is_refused(app, admin, db_session):
    """Every route of the panel that takes a POST (the JWT API excepted) refuses it without a token."""
    customer = make_customer()
    routes = [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and not rule.rule.startswith("/api/")
    ]
    assert len(routes) > 50
    for rule in routes:
        url = re.sub(
            r"<(?:\w+:)?(\w+)>",
            lambda m: "deactivate" if m.group(1) == "name" else str(customer.id),
            rule.rule,
        )
        response = admin.client.post(
            url,
            data={
                "name": "无令牌",
                "code": "C-CSRF",
                "action": "delete",
                "rowid": str(customer.id),
            },
        )
        assert response.status_code == 400, f"{url}: {response.status_code}"
    db_session.expire_all()
    assert db_session.get(Customer, customer.id) is not None
    assert db_session.scalar(select(Customer).where(Customer.code == "C-CSRF")) is None


@pytest.mark.parametrize(
    "url,data",
    [
        ("/customers/add", {"code": "C-CSRF", "name": "无令牌", "status": "signed"}),
        (
            "/users/add",
            {
                "username": "nocsrf",
                "first_name": "无令牌",
                "phone": "13812345678",
                "email": "nocsrf@example.com",
                "password": "Strong-Pass99x",
                "conf_password": "Strong-Pass99x",
            },
        ),
        ("/login/", {"username": "sales", "password": PASSWORD}),
    ],
)
def test_a_post_without_the_csrf_token_is_refused(app, admin, db_session, url, data):
    response = admin.client.post(url, data=data)
    assert response.status_code == 400
    db_session.expire_all()
    assert db_session.scalar(select(Customer).where(Customer.code == "C-CSRF")) is None
    assert _user(db_session, "nocsrf") is None
    # a token from another session does not do either
    other = Visitor(app)
    other.login("manager")
    response = admin.client.post(url, data={**data, "csrf_token": other.csrf_token})
    assert response.status_code == 400
    assert _user(db_session, "nocsrf") is None


def test_a_delete_by_get_is_refused(app, admin, db_session):
    customer = make_customer()
    admin.get(f"/customers/delete/{customer.id}")
    db_session.expire_all()
    assert db_session.get(Customer, customer.id) is not None


# ---------------------------------------------------------------- error pages


def test_a_page_the_role_may_not_open_gives_a_chinese_403(login_as):
    response = login_as("sales").get("/feedback/list/")
    assert response.status_code == 403
    page = unescaped_html(response)
    assert "无权访问（403）" in page and "您的角色无权打开此页面或执行此操作" in page
    assert "客户管理" in page  # the menu is still there to go on from
    assert "Forbidden" not in page and "Access is Denied" not in page


def test_a_visitor_not_signed_in_is_sent_to_the_sign_in_page(visitor):
    response = visitor.get("/feedback/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_a_missing_record_gives_a_chinese_404(admin):
    response = admin.get("/customers/show/987654")
    assert response.status_code == 404
    assert "页面或记录不存在" in unescaped_html(response)
    assert admin.get("/no-such-page").status_code == 404


def test_api_refusals_are_json_in_chinese(app, db_session):
    token = _api_login(app, "sales", PASSWORD).json["access_token"]
    client = app.test_client()
    response = client.get("/api/v1/feedback/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json["message"] == "您无权执行此操作。"
    assert client.get("/api/v1/feedback/").status_code == 401
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and "message" in response.json


def test_the_500_page_is_chinese_and_stands_alone(app):
    from app.errors import server_error

    with app.test_request_context("/customers/list/"):
        body, status = server_error(InternalServerError())
    assert status == 500 and "服务器错误（500）" in body and "没有保存任何内容" in body
    with app.test_request_context("/api/v1/customers/"):
        response, status = server_error(InternalServerError())
    assert status == 500 and "没有保存任何内容" in response.json["message"]


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_nul_byte_in_a_sign_in_is_a_failed_sign_in_not_a_server_error(app, field):
    """PostgreSQL refuses a NUL byte in a query's text: no account can match one."""
    values = {"username": "admin", "password": PASSWORD, field: "ad\x00min"}
    response = _api_login(app, values["username"], values["password"])
    assert response.status_code == 401, response.json
    signed_in, _page = _form_login(app, values["username"], values["password"])
    assert not signed_in
