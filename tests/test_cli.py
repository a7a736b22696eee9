"""``flask --app run.py crm init`` (roles, permissions, the first admin, idempotent) and
``crm notify`` (e-mails a dead worker left waiting).

Each ``init`` test runs on a fresh, migrated database of its own (the session's
database already has users), through Flask's CLI runner; ``notify`` runs on the
session's database against a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import CrmUser, FeedbackNotification, NotificationState
from app.services import notifications
from factories import make_feedback
from helpers import Visitor

ROLE_NAMES = {"管理员", "销售", "客服", "工程师", "经理", "财务", "访客"}


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
    """Signed in: a page opens, or (the printed password) the password form is asked for."""
    visitor = Visitor(app)
    response = visitor.login("admin", password)
    page = visitor.get("/customers/list/")
    return response.status_code == 302 and (
        page.status_code == 200
        or (page.status_code == 302 and "/resetmypassword/" in page.headers["Location"])
    )


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
        assert (
            len(db.session.scalar(select(Role).where(Role.name == "销售")).permissions) == granted
        )
        db.session.remove()


# ------------------------------------------------------------------ crm notify


def waiting_notice(
    db_session,
    minutes_ago: int,
    state=NotificationState.pending,
    subject="您反馈的问题已解决：收银机无法打印小票",
) -> int:
    """A notice queued ``minutes_ago`` whose sending thread never ran (the worker died)."""
    notice = notifications.queue_message(make_feedback(), subject, "正文：问题已解决。")
    notice.state = state
    notice.queued_at = datetime.now() - timedelta(minutes=minutes_ago)
    db_session.commit()
    return notice.id


def crm_notify(app, *options):
    return app.test_cli_runner().invoke(args=["crm", "notify", *options])


def state_of(db_session, notice_id) -> NotificationState:
    db_session.expire_all()
    return db_session.get(FeedbackNotification, notice_id).state


def test_notify_sends_what_a_dead_worker_left_and_nothing_younger(app, db_session, smtp_server):
    stale = waiting_notice(db_session, 60)
    fresh = waiting_notice(db_session, 1)  # its thread may still be sending it
    failed = waiting_notice(db_session, 60, NotificationState.failed)  # resent by hand only
    result = crm_notify(app)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "等待超过 5 分钟的邮件：1 封；已发送 1 封，发送失败 0 封。" in result.output
    [message] = smtp_server.messages
    assert message["Subject"] == "您反馈的问题已解决：收银机无法打印小票"
    assert "问题已解决" in message.get_content()
    assert state_of(db_session, stale) == NotificationState.sent
    assert state_of(db_session, fresh) == NotificationState.pending
    assert state_of(db_session, failed) == NotificationState.failed

    again = crm_notify(app)
    assert again.exit_code == 0 and "没有等待超过 5 分钟的反馈人员邮件" in again.output
    assert len(smtp_server.messages) == 1  # sent once
    assert crm_notify(app, "--quiet").output == ""
    assert crm_notify(app, "--older-than", "0").exit_code == 2


def test_notify_with_the_mail_server_down_records_the_failure(app, db_session, mail_config):
    stale = waiting_notice(db_session, 30)
    result = crm_notify(app, "--older-than", "10")
    assert result.exit_code == 1
    assert "发送失败 1 封" in result.output
    assert state_of(db_session, stale) == NotificationState.failed
    assert db_session.get(FeedbackNotification, stale).error in result.output


def test_notify_without_a_mail_server_says_so(app, db_session):
    assert not app.config.get("MAIL_SERVER")
    result = crm_notify(app)
    assert result.exit_code == 1 and "未配置邮件服务器" in result.output
