"""The application as a whole: health, sign-in, Chinese by default."""

from flask import g

from app.extensions import db
from helpers import Visitor


def test_health_reports_database_ok(visitor):
    response = visitor.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_is_503_when_the_database_fails(app, visitor, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(db.session, "execute", broken)
    response = visitor.get("/health")
    assert response.status_code == 503
    assert response.json["database"] != "ok"


def test_wrong_password_is_refused_in_chinese(visitor):
    response = visitor.login("admin", "not-the-password")
    page = visitor.get(response.headers.get("Location", "/login/")).get_data(as_text=True)
    assert "登录失败" in page
    assert visitor.get("/customers/list/").status_code == 302


def test_admin_signs_in_and_sees_the_menu_in_chinese(admin):
    page = admin.get("/customers/list/").get_data(as_text=True)
    for label in ("客户管理", "产品与授权", "服务支持", "客户列表"):
        assert label in page


def test_pages_carry_security_headers(visitor):
    response = visitor.get("/login/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_pages_declare_their_language(visitor):
    assert '<html lang="zh-CN">' in visitor.get("/login/").get_data(as_text=True)


def test_requests_made_in_a_test_share_neither_g_nor_the_signed_in_user(app, db_session, admin):
    """conftest's RequestClient: each request has its own app context, as on a server,
    even while db_session keeps one open for the test."""
    g.marker = "the test's"
    assert admin.get("/customers/list/").status_code == 200
    assert Visitor(app).get("/customers/list/").status_code == 302  # not the admin's session
    assert g.marker == "the test's" and "_login_user" not in g
