"""The application as a whole: health, sign-in, Chinese by default."""

from app.extensions import db


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
