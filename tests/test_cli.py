"""``flask --app run.py crm init``: roles, permissions and the first admin, idempotent.

Each test runs on a fresh, migrated database of its own (the session's
database already has users), through Flask's CLI runner.
"""

from __future__ import annotations

import re

import pytest
from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import CrmUser
from conftest import Visitor

ROLE_NAMES = {"管理员", "销售", "客服", "工程师", "经理", "访客"}


@pytest.fixture
def fresh_app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def crm_init(app, *options, env=None):
    result = app.test_cli_runner().invoke(args=["crm", "init", *options], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def counts(app) -> dict[str, int]:
    with app.app_context():
        numbers = {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Role, CrmUser, Permission, ViewMenu, PermissionView)
        }
        numbers["role grants"] = sum(
            len(role.permissions) for role in db.session.scalars(select(Role))
        )
        db.session.remove()
        return numbers


def printed_password(output: str) -> str:
    match = re.search(r"初始密码（仅显示这一次）：(\S+)", output)
    assert match, output
    return match.group(1)


def can_sign_in(app, password: str) -> bool:
    visitor = Visitor(app)
    response = visitor.login("admin", password)
    return response.status_code == 302 and visitor.get("/customers/list/").status_code == 200


def test_first_run_creates_roles_and_admin_and_a_second_run_duplicates_nothing(fresh_app):
    assert counts(fresh_app)["CrmUser"] == 0
    first = crm_init(fresh_app)
    password = printed_password(first)
    assert len(password) >= 12
    assert first.count(password) == 1
    for role in ROLE_NAMES - {"管理员", "访客"}:
        assert f"角色 {role}：已创建" in first

    with fresh_app.app_context():
        roles = set(db.session.scalars(select(Role.name)))
        admin = db.session.scalar(select(CrmUser).where(CrmUser.username == "admin"))
        assert roles == ROLE_NAMES
        assert [role.name for role in admin.roles] == ["管理员"]
        assert admin.password != password  # stored hashed
        db.session.remove()
    assert can_sign_in(fresh_app, password)
    assert not can_sign_in(fresh_app, password + "x")

    after_first = counts(fresh_app)
    assert after_first["CrmUser"] == 1
    assert after_first["Role"] == len(ROLE_NAMES)
    assert after_first["PermissionView"] > 0 and after_first["role grants"] > 0

    second = crm_init(fresh_app)
    assert counts(fresh_app) == after_first
    for role in ROLE_NAMES - {"管理员", "访客"}:
        assert f"角色 {role}：保留现有设置" in second
    assert "password" not in second
    assert password not in second
    assert can_sign_in(fresh_app, password)


def test_admin_password_from_the_environment_and_not_reset_later(fresh_app):
    secret = "Env-Admin-Passw0rd!"
    output = crm_init(fresh_app, env={"CRM_ADMIN_PASSWORD": secret})
    assert secret not in output
    assert "CRM_ADMIN_PASSWORD" in output
    assert can_sign_in(fresh_app, secret)

    crm_init(fresh_app, env={"CRM_ADMIN_PASSWORD": "Other-Passw0rd!"})
    assert can_sign_in(fresh_app, secret)
    assert not can_sign_in(fresh_app, "Other-Passw0rd!")


def test_role_edits_are_kept_unless_reset(fresh_app):
    crm_init(fresh_app)
    with fresh_app.app_context():
        sales = db.session.scalar(select(Role).where(Role.name == "销售"))
        granted = len(sales.permissions)
        sales.permissions = sales.permissions[:1]
        db.session.commit()
        db.session.remove()

    crm_init(fresh_app)
    with fresh_app.app_context():
        assert len(db.session.scalar(select(Role).where(Role.name == "销售")).permissions) == 1
        db.session.remove()

    output = crm_init(fresh_app, "--reset-roles")
    assert "角色 销售：已恢复为预设权限" in output
    with fresh_app.app_context():
        assert len(db.session.scalar(select(Role).where(Role.name == "销售")).permissions) == granted
        db.session.remove()
