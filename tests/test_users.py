"""Software users (seed section 三): add, own profile, delete or deactivate, through HTTP."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.models import CrmUser
from app.services import accounts
from factories import make_customer, make_feedback
from helpers import PASSWORD, Visitor, make_user, unescaped_html

STRONG = "Strong-Pass99x"


def _role_id(app, key: str) -> int:
    return app.appbuilder.sm.find_role(app.config["CRM_ROLE_NAMES"][key]).id


def _user_form(app, **overrides) -> dict:
    data = {
        "username": "wangfang",
        "first_name": "王芳",
        "phone": "13812345678",
        "email": "wangfang@example.com",
        "age": "30",
        "position": "销售经理",
        "years_of_work": "6",
        "home_address": "上海市徐汇区漕溪北路 1 号",
        "active": "y",
        "roles": str(_role_id(app, "sales")),
        "password": STRONG,
        "conf_password": STRONG,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _users(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(CrmUser))


def _user(db_session, username: str) -> CrmUser | None:
    db_session.expire_all()
    return db_session.scalar(select(CrmUser).where(CrmUser.username == username))


def test_admin_adds_a_user_who_can_then_sign_in(app, admin, db_session):
    before = _users(db_session)
    response = admin.post("/users/add", data=_user_form(app))
    assert response.status_code == 302
    assert "记录已添加" in unescaped_html(admin.get(response.headers["Location"]))
    assert _users(db_session) == before + 1
    user = _user(db_session, "wangfang")
    assert (user.first_name, user.last_name, user.phone, user.age, user.years_of_work) == (
        "王芳",
        "",
        "13812345678",
        30,
        6,
    )
    assert [role.name for role in user.roles] == ["销售"]
    assert user.password != STRONG and user.password.startswith(("scrypt:", "pbkdf2:"))
    newcomer = Visitor(app)
    assert newcomer.login("wangfang", STRONG).status_code == 302
    assert newcomer.get("/customers/list/").status_code == 200


# The seed's user fields (SPEC.md, module 8) and their Chinese labels.
SEED_FIELD_LABELS = {
    "username": "登录名",
    "first_name": "姓名",
    "age": "年龄",
    "position": "职位",
    "phone": "电话",
    "email": "电子邮箱",
    "home_address": "家庭住址",
    "years_of_work": "工作年限",
    "roles": "账户权限",
}


def _labels_of_form(page: str) -> dict[str, str]:
    """Form field name -> the label on its row."""
    rows = re.findall(r'<label for="(\w+)"[^>]*>\s*(.*?)\s*(?:<strong|</label>)', page, re.S)
    return {name: label for name, label in rows}


def test_user_add_and_edit_forms_have_the_seed_fields_in_chinese(app, admin, db_session):
    user = make_user(app)
    for url in ("/users/add", f"/users/edit/{user.id}"):
        page = unescaped_html(admin.get(url))
        labels = _labels_of_form(page)
        for field, label in SEED_FIELD_LABELS.items():
            assert labels.get(field) == label, (url, field, labels.get(field))
        assert "last_name" not in labels and "Last Name" not in page and "姓氏" not in page
        assert "Roles" not in page and "First Name" not in page
    assert _labels_of_form(unescaped_html(admin.get("/users/add")))["password"] == "密码"


def test_user_list_and_show_pages_have_the_seed_fields_in_chinese(app, admin, db_session):
    user = make_user(
        app,
        phone="13812345678",
        age=31,
        position="工程师",
        years_of_work=8,
        home_address="上海市静安区",
    )
    listing = unescaped_html(admin.get("/users/list/?_flt_0_username=zhaolei"))
    headers = re.findall(r"<th[^>]*>(.*?)</th>", listing, re.S)
    headers = " ".join(re.sub(r"<[^>]+>", " ", header) for header in headers)
    for label in ("登录名", "姓名", "职位", "电话", "电子邮箱", "启用", "账户权限"):
        assert label in headers, label
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*zhaolei姓名.*?</tr>", listing, re.S).group(0)
    cells = [
        re.sub(r"<[^>]+>|\s+", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]
    assert [cell for cell in cells if cell and cell not in ("查看", "编辑", "删除")][-7:] == [
        "zhaolei",
        "zhaolei姓名",
        "工程师",
        "13812345678",
        "zhaolei@example.com",
        "是",
        "销售",
    ], cells

    show = unescaped_html(admin.get(f"/users/show/{user.id}"))
    for label in SEED_FIELD_LABELS.values():
        assert re.search(rf"<th[^>]*>\s*{label}\s*</th>", show), label
    for value in ("zhaolei姓名", "13812345678", "31", "工程师", "8", "上海市静安区", "销售"):
        assert value in show, value
    body = show[show.index('id="Home"') :]
    assert not re.search(r">\s*(None|True|False|\[.*?\])\s*<", body), "Python values shown raw"


def _field_error(page: str, field: str) -> str:
    """The error shown beside the form field named ``field`` ('' when none)."""
    match = re.search(
        rf'name="{field}"[^>]*>(?:(?!</td>).)*?class="alert alert-danger">\s*(.*?)\s*</div>',
        page,
        re.S,
    )
    return match.group(1).strip() if match else ""


@pytest.mark.parametrize(
    "overrides,field,field_label,message",
    [
        ({"username": "sales"}, "username", "登录名", "登录名“sales”已被使用"),
        ({"phone": ""}, "phone", "电话", "请填写电话"),
        ({"phone": None}, "phone", "电话", "请填写电话"),
        ({"phone": "12345"}, "phone", "电话", "电话须为大陆手机号"),
        (
            {"password": "abc12345", "conf_password": "abc12345"},
            "password",
            "密码",
            "至少需要 10 个字符",
        ),
        ({"conf_password": "Other-Pass99x"}, "conf_password", "密码", "密码"),
        (
            {"email": "sales@example.com"},
            "email",
            "电子邮箱",
            "电子邮箱“sales@example.com”已被使用",
        ),
        ({"roles": None}, "roles", "角色", "请至少选择一个角色"),
    ],
    ids=[
        "duplicate-login-name",
        "missing-phone",
        "phone-left-out",
        "bad-phone",
        "weak-password",
        "password-mismatch",
        "duplicate-email",
        "no-role",
    ],
)
def test_user_add_errors_name_the_field_and_store_nothing(
    app, admin, db_session, overrides, field, field_label, message
):
    before = _users(db_session)
    response = admin.post("/users/add", data=_user_form(app, **overrides))
    assert response.status_code == 200  # the form again, not a redirect
    page = unescaped_html(response)
    error = _field_error(page, field)
    assert message in error and field_label in error, error  # beside the field, naming it
    unquoted = re.sub(r"“.*?”", "", error)  # the value typed may be English
    assert re.search(r"[\u4e00-\u9fff]", error) and not re.search(r"[A-Za-z]{4,}", unquoted), error
    assert _users(db_session) == before
    assert _user(db_session, "wangfang") is None
    # what was typed is still there (passwords excepted, as browsers expect)
    assert 'value="王芳"' in page and 'value="上海市徐汇区漕溪北路 1 号"' in page


def test_user_add_error_messages_are_chinese(app, admin, db_session):
    page = unescaped_html(
        admin.post("/users/add", data=_user_form(app, username="sales", phone=""))
    )
    assert "登录名“sales”已被使用" in page
    assert "请填写电话。" in page
    assert "This field is required" not in page


# ---------------------------------------------------------------- own profile


def test_users_edit_their_own_profile_but_not_their_roles(app, login_as, db_session):
    visitor = login_as("sales")
    form_page = unescaped_html(visitor.get("/userinfoeditview/form"))
    assert 'value="sales user"' in form_page and "电话" in form_page
    assert 'name="roles"' not in form_page and 'name="username"' not in form_page
    manager_role = str(_role_id(app, "manager"))
    response = visitor.post(
        "/userinfoeditview/form",
        data={
            "first_name": "李销售",
            "phone": "13900001111",
            "email": "sales@example.com",
            "age": "28",
            "position": "销售代表",
            "years_of_work": "3",
            "home_address": "杭州",
            "roles": manager_role,
            "username": "hacker",
            "active": "",
        },
    )
    assert response.status_code == 302
    user = _user(db_session, "sales")
    try:
        assert (user.first_name, user.phone, user.age, user.position) == (
            "李销售",
            "13900001111",
            28,
            "销售代表",
        )
        assert [role.name for role in user.roles] == ["销售"] and user.active
        assert "个人资料已保存" in unescaped_html(visitor.get("/"))
    finally:
        user.first_name, user.phone, user.age, user.position = "sales user", None, None, None
        user.years_of_work, user.home_address = None, None
        db_session.commit()


def test_profile_errors_are_refused_with_the_field_named(app, login_as, db_session):
    visitor = login_as("support")
    response = visitor.post(
        "/userinfoeditview/form",
        data={
            "first_name": "客服",
            "phone": "",
            "email": "sales@example.com",
        },
    )
    assert response.status_code == 200
    page = unescaped_html(response)
    assert "请填写电话。" in page and "电子邮箱“sales@example.com”已被使用" in page
    assert _user(db_session, "support").email == "support@example.com"


def test_everyone_sees_their_own_user_info(login_as):
    for name in ("sales", "engineer", "manager"):
        page = unescaped_html(login_as(name).get("/users/userinfo/"))
        assert f"{name} user" in page


# ---------------------------------------------------------------- delete and deactivate


def test_unused_user_is_deleted(app, admin, db_session):
    user = make_user(app)
    response = admin.post(f"/users/delete/{user.id}")
    assert response.status_code == 302
    assert _user(db_session, "zhaolei") is None
    assert "记录已删除" in unescaped_html(admin.get("/users/list/"))


def test_admin_cannot_delete_their_own_account(app, admin, db_session):
    me = _user(db_session, "admin")
    before = _users(db_session)
    response = admin.post(f"/users/delete/{me.id}", follow_redirects=True)
    assert "不能删除用户" in unescaped_html(response) and "这是您自己的账户" in unescaped_html(
        response
    )
    assert f"/users/action/deactivate/{me.id}" not in unescaped_html(response)  # nor deactivate it
    assert _user(db_session, "admin") is not None and _users(db_session) == before


def test_signed_in_user_is_not_deleted_and_deactivation_is_offered(app, admin, db_session):
    user = make_user(app)
    other = Visitor(app)
    assert other.login("zhaolei").status_code == 302
    response = admin.post(f"/users/delete/{user.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/users/show/{user.id}")
    page = unescaped_html(admin.get(response.headers["Location"]))
    assert "该账户当前正在登录使用" in page and "可改为停用该账户" in page
    assert f"/users/action/deactivate/{user.id}" in page  # the offer
    assert _user(db_session, "zhaolei") is not None

    # once signed out, nothing holds it any more
    other.get("/logout/")
    assert _user(db_session, "zhaolei").last_seen_at is None
    admin.post(f"/users/delete/{user.id}")
    assert _user(db_session, "zhaolei") is None


def test_a_session_idle_past_the_window_no_longer_counts_as_signed_in(app, admin, db_session):
    window = app.config["CRM_SIGNED_IN_WINDOW"]
    user = make_user(app, last_seen_at=datetime.now() - window - timedelta(minutes=1))
    assert not accounts.is_signed_in(user)
    admin.post(f"/users/delete/{user.id}")
    assert _user(db_session, "zhaolei") is None


def test_requests_keep_last_seen_fresh_at_most_once_a_minute(app, db_session):
    make_user(app)
    visitor = Visitor(app)
    assert visitor.login("zhaolei").status_code == 302
    first = _user(db_session, "zhaolei").last_seen_at
    assert first is not None
    visitor.get("/")
    assert _user(db_session, "zhaolei").last_seen_at == first  # not rewritten within the minute
    stale = datetime.now() - timedelta(minutes=5)
    _user(db_session, "zhaolei").last_seen_at = stale
    db_session.commit()
    visitor.get("/")
    assert _user(db_session, "zhaolei").last_seen_at > stale


@pytest.mark.parametrize("reference", ["feedback_engineer", "created_by"])
def test_referenced_user_is_not_deleted_but_can_be_deactivated(app, admin, db_session, reference):
    user = make_user(app, username="engineer3", role="engineer")
    if reference == "feedback_engineer":
        make_feedback(engineer_id=user.id)
    else:
        make_customer(created_by_fk=user.id)
    response = admin.post(f"/users/delete/{user.id}")
    page = unescaped_html(admin.get(response.headers["Location"]))
    assert "不能删除用户" in page and "条记录引用了该账户" in page and "可改为停用该账户" in page
    assert f"/users/action/deactivate/{user.id}" in page  # the offer
    assert _user(db_session, "engineer3") is not None

    response = admin.post(f"/users/action/deactivate/{user.id}")
    assert response.status_code == 302
    assert "已停用" in unescaped_html(admin.get(response.headers["Location"]))
    assert _user(db_session, "engineer3").active is False
    assert "登录失败" in unescaped_html(_failed_login(app, "engineer3"))


def _failed_login(app, username):
    visitor = Visitor(app)
    response = visitor.login(username)
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert visitor.get("/customers/list/").status_code == 302  # not signed in
    return visitor.get(response.headers["Location"])


def test_deactivated_user_cannot_sign_in_and_loses_the_open_session(app, admin, db_session):
    user = make_user(app)
    session = Visitor(app)
    session.login("zhaolei")
    assert session.get("/customers/list/").status_code == 200
    api = app.test_client()
    token = api.post(
        "/api/v1/security/login",
        json={"username": "zhaolei", "password": PASSWORD, "provider": "db"},
    ).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/customers/", headers=bearer).status_code == 200

    admin.post(f"/users/action/deactivate/{user.id}")
    # the open session and the token already handed out are refused from the next request on
    assert session.get("/customers/list/").status_code == 302
    assert api.get("/api/v1/customers/", headers=bearer).status_code == 401
    assert "登录失败" in unescaped_html(_failed_login(app, "zhaolei"))
    response = api.post(
        "/api/v1/security/login",
        json={"username": "zhaolei", "password": PASSWORD, "provider": "db"},
    )
    assert response.status_code == 401 and "登录失败" in response.json["message"]
    assert "access_token" not in response.json


def test_deactivating_with_a_get_request_is_refused(app, admin, db_session):
    user = make_user(app)
    admin.get(f"/users/action/deactivate/{user.id}")
    admin.get(f"/users/delete/{user.id}")
    assert _user(db_session, "zhaolei").active is True


def test_admin_cannot_deactivate_or_demote_themself_as_last_admin(app, admin, db_session):
    me = _user(db_session, "admin")
    response = admin.post(f"/users/action/deactivate/{me.id}", follow_redirects=True)
    assert "这是您自己的账户" in unescaped_html(response)
    form = {
        "username": "admin",
        "first_name": me.first_name,
        "phone": "13812345678",
        "email": me.email,
        "roles": str(_role_id(app, "sales")),
        "active": "y",
    }
    response = admin.post(f"/users/edit/{me.id}", data=form, follow_redirects=True)
    assert "最后一个启用的管理员" in unescaped_html(response)
    me = _user(db_session, "admin")
    assert me.active and [role.name for role in me.roles] == ["管理员"]


def test_the_last_admin_is_never_deleted_or_deactivated(app, db_session):
    """By anyone, e.g. a command or a future page: the rule is in the service."""
    me = _user(db_session, "admin")
    with pytest.raises(accounts.AccountRuleBroken, match="最后一个管理员"):
        accounts.check_deletable(me, acting_user_id=None)
    with pytest.raises(accounts.AccountRuleBroken, match="最后一个启用的管理员"):
        accounts.deactivate(me, acting_user_id=None)
    assert _user(db_session, "admin").active


def test_a_second_admin_may_be_deactivated_by_the_first(app, admin, db_session):
    other = make_user(app, username="admin2", role="admin")
    admin.post(f"/users/action/deactivate/{other.id}")
    assert _user(db_session, "admin2").active is False


def test_deleting_or_deactivating_a_user_that_is_gone_is_a_404(app, admin, db_session):
    before = _users(db_session)
    assert admin.post("/users/delete/987654").status_code == 404
    assert admin.post("/users/action/deactivate/987654").status_code == 404
    response = admin.post("/users/action_post", data={"action": "deactivate", "rowid": "987654"})
    assert response.status_code == 302
    assert _users(db_session) == before


def test_an_admin_edit_that_breaks_a_rule_names_the_field_and_changes_nothing(
    app, admin, db_session
):
    user = make_user(app, phone="13812345678")
    form = _user_form(
        app,
        username="zhaolei",
        email="zhaolei@example.com",
        phone="",
        password=None,
        conf_password=None,
    )
    response = admin.post(f"/users/edit/{user.id}", data=form)
    assert response.status_code == 200
    assert "请填写电话" in _field_error(unescaped_html(response), "phone")
    stored = _user(db_session, "zhaolei")
    assert (stored.phone, stored.first_name) == ("13812345678", "zhaolei姓名")


def test_there_is_no_other_way_to_delete_users(app, admin):
    """The security REST API (which has no delete rules) is not mounted."""
    assert admin.client.get("/api/v1/security/users/").status_code == 404
    assert admin.client.delete("/api/v1/security/users/1").status_code in (404, 405)
