"""The password policy (app/services/passwords.py) on every path that sets a password,
and the first admin's forced change of the password ``crm init`` printed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_cli import crm_init, fresh_app, printed_password  # noqa: F401 (fixture)

from app.models import CrmUser
from app.permissions import SALES
from app.services import passwords
from helpers import PASSWORD, SEEDED_USERS, Visitor, make_user, unescaped_html

STRONG = "Strong-Pass99x"
WEAK = {
    "short": "Ab1!xyz",
    "two classes": "abcdefghij12",
    "the login name": "Wangfang",
    "common": "Password123!",
    "common, other case": "P@ssw0rd2024",
}


def test_problem_names_each_rule(app):
    with app.app_context():
        assert passwords.problem("Ab1!xyz") == "密码至少需要 10 个字符。"
        assert "3" in passwords.problem("abcdefghij12")
        assert passwords.problem("Wang.fang2024", "wang.fang2024") is not None
        assert passwords.problem("Password123!") == "这个密码太常见，请换一个。"
        assert passwords.problem("Qwerty!!2026") is not None
        assert passwords.problem(STRONG, "wangfang") is None
        assert passwords.problem("长益客户管理2026ab") is None  # other characters count


def test_the_test_and_demo_passwords_meet_the_policy(app):
    with app.app_context():
        for username in SEEDED_USERS:
            assert passwords.problem(PASSWORD, username) is None


def _role_id(app, key: str) -> int:
    return app.appbuilder.sm.find_role(app.config["CRM_ROLE_NAMES"][key]).id


def _users(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(CrmUser))


@pytest.mark.parametrize("case", list(WEAK))
def test_the_user_add_page_refuses_a_weak_password(app, admin, db_session, case):
    weak = "wangfang" if case == "the login name" else WEAK[case]
    before = _users(db_session)
    form = {
        "username": "wangfang",
        "first_name": "王芳",
        "phone": "13812345678",
        "email": "wangfang@example.com",
        "active": "y",
        "roles": str(_role_id(app, SALES)),
        "password": weak,
        "conf_password": weak,
    }
    response = admin.post("/users/add", form)
    assert response.status_code == 200
    assert "密码" in unescaped_html(response)
    assert _users(db_session) == before
    response = admin.post("/users/add", {**form, "password": STRONG, "conf_password": STRONG})
    assert response.status_code == 302
    assert _users(db_session) == before + 1


def test_reset_password_pages_refuse_a_weak_password(app, admin, db_session):
    user = make_user(app, "resetme")
    hashed = user.password
    for weak in ("resetme", *WEAK.values()):
        response = admin.post(
            f"/resetpassword/form?pk={user.id}", {"password": weak, "conf_password": weak}
        )
        assert response.status_code == 200, weak
    own = Visitor(app)
    assert own.login("resetme").status_code == 302
    response = own.post(
        "/resetmypassword/form", {"password": "short1A", "conf_password": "short1A"}
    )
    assert response.status_code == 200
    db_session.expire_all()
    assert db_session.get(CrmUser, user.id).password == hashed


def test_crm_init_refuses_a_weak_admin_password_from_the_environment(fresh_app):  # noqa: F811
    result = fresh_app.test_cli_runner().invoke(
        args=["crm", "init"], env={"CRM_ADMIN_PASSWORD": "admin123"}
    )
    assert result.exit_code != 0
    assert "CRM_ADMIN_PASSWORD" in result.output


def test_the_printed_password_must_be_changed_at_first_sign_in(fresh_app):  # noqa: F811
    password = printed_password(crm_init(fresh_app))
    with fresh_app.app_context():
        assert passwords.problem(password, "admin") is None
    admin = Visitor(fresh_app)
    assert admin.login("admin", password).status_code == 302
    for url in ("/customers/list/", "/", "/users/list/"):
        response = admin.get(url)
        assert response.status_code == 302, url
        assert "/resetmypassword/form" in response.headers["Location"]
    api = fresh_app.test_client()
    token = api.post(
        "/api/v1/security/login",
        json={"username": "admin", "password": password, "provider": "db"},
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/customers/", headers=headers).status_code == 403
    # a weak new password is refused, a good one lifts the block
    assert admin.get("/resetmypassword/form").status_code == 200
    response = admin.post("/resetmypassword/form", {"password": "admin", "conf_password": "admin"})
    assert response.status_code == 200
    response = admin.post("/resetmypassword/form", {"password": STRONG, "conf_password": STRONG})
    assert response.status_code == 302
    assert admin.get("/customers/list/").status_code == 200
    assert api.get("/api/v1/customers/", headers=headers).status_code == 200


def test_an_admin_password_from_the_environment_need_not_be_changed(fresh_app):  # noqa: F811
    crm_init(fresh_app, env={"CRM_ADMIN_PASSWORD": STRONG})
    admin = Visitor(fresh_app)
    assert admin.login("admin", STRONG).status_code == 302
    assert admin.get("/customers/list/").status_code == 200
