"""The security log (安全日志): one row per event, admin-only, read-only, append-only."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, insert, select, update

from app.models import Customer
from app.models.audit import AuditEvent
from app.permissions import ADMIN, ENGINEER, MANAGER, SALES, SUPPORT
from app.services import audit
from factories import make_customer
from helpers import PASSWORD, Visitor, make_user, unescaped_html

ROLES = (ADMIN, SALES, SUPPORT, ENGINEER, MANAGER)
ADDRESS = "10.20.30.40"
STRONG = "Strong-Pass99x"
OTHER = "Other-Pass77y"


def _from(address: str = ADDRESS) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _last_id(db_session) -> int:
    return db_session.scalar(select(func.max(AuditEvent.id))) or 0


def _events(db_session, after: int, kind: str | None = None) -> list[AuditEvent]:
    db_session.expire_all()
    query = select(AuditEvent).where(AuditEvent.id > after)
    if kind is not None:
        query = query.where(AuditEvent.kind == kind)
    return list(db_session.scalars(query.order_by(AuditEvent.id)))


def _details(event: AuditEvent) -> dict:
    return json.loads(event.details)


# ------------------------------------------------------------------ who may read it


@pytest.mark.parametrize("role", [role for role in ROLES if role != ADMIN])
def test_other_roles_are_refused_every_address_of_the_log(signed_in, db_session, role):
    audit.record(audit.BACKUP, "x.sqlite3")
    pk = _last_id(db_session)
    visitor = signed_in(role)
    for url in ("/audit/list/", f"/audit/show/{pk}", "/audit/export.xlsx"):
        assert visitor.get(url).status_code == 403, url
    assert "/audit/list/" not in visitor.get("/").get_data(as_text=True)


def test_admin_lists_searches_shows_and_exports_the_log(module_admin, db_session):
    audit.record(audit.BACKUP, "nightly.sqlite3", bytes=1234)
    pk = _last_id(db_session)
    page = unescaped_html(module_admin.get("/audit/list/"))
    assert "安全日志" in page and "nightly.sqlite3" in page and "备份" in page
    assert "/audit/list/" in module_admin.get("/").get_data(as_text=True)  # in the menu
    found = unescaped_html(module_admin.get("/audit/list/?_flt_0_kind=backup"))
    assert "nightly.sqlite3" in found
    missing = unescaped_html(module_admin.get("/audit/list/?_flt_0_kind=sign_in_failed"))
    assert "nightly.sqlite3" not in missing
    shown = unescaped_html(module_admin.get(f"/audit/show/{pk}"))
    assert "nightly.sqlite3" in shown and "字节数: 1234" in shown
    response = module_admin.get("/audit/export.xlsx?_flt_0_kind=backup")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("时间", "用户", "地址", "事件")
    assert any(row[3] == "备份" and row[4] == "nightly.sqlite3" for row in rows[1:])


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/audit/add"),
        ("post", "/audit/add"),
        ("get", "/audit/edit/{pk}"),
        ("post", "/audit/edit/{pk}"),
        ("post", "/audit/delete/{pk}"),
        ("get", "/audit/delete/{pk}"),
        ("post", "/audit/action_post"),
        ("get", "/audit/api/read"),
    ],
)
def test_the_log_has_no_address_that_changes_it_even_for_the_admin(
    module_admin, db_session, method, url
):
    audit.record(audit.BACKUP, "keep.sqlite3")
    pk = _last_id(db_session)
    response = getattr(module_admin, method)(url.format(pk=pk))
    assert response.status_code in (404, 405)
    db_session.expire_all()
    assert db_session.get(AuditEvent, pk).target == "keep.sqlite3"


def test_rows_cannot_be_changed_or_deleted_through_the_orm(app, db_session):
    audit.record(audit.BACKUP, "orm.sqlite3")
    event = db_session.get(AuditEvent, _last_id(db_session))
    event.target = "forged"
    with pytest.raises(audit.AuditLogIsAppendOnly):
        db_session.flush()
    db_session.rollback()
    db_session.delete(db_session.get(AuditEvent, event.id))
    with pytest.raises(audit.AuditLogIsAppendOnly):
        db_session.flush()
    db_session.rollback()
    for statement in (
        update(AuditEvent).values(target="forged"),
        delete(AuditEvent).where(AuditEvent.id == event.id),
    ):
        with pytest.raises(audit.AuditLogIsAppendOnly):
            db_session.execute(statement)
        db_session.rollback()
    db_session.expire_all()
    assert db_session.get(AuditEvent, event.id).target == "orm.sqlite3"


def test_each_event_also_goes_to_the_crm_audit_logger(app, db_session, caplog):
    with caplog.at_level(logging.INFO, logger="crm.audit"):
        audit.record(audit.BACKUP, "logged.sqlite3", bytes=7)
    (line,) = [r for r in caplog.records if r.name == "crm.audit"]
    payload = json.loads(line.getMessage())
    assert (payload["kind"], payload["target"], payload["details"]) == (
        "backup",
        "logged.sqlite3",
        {"bytes": 7},
    )


def test_syslog_handler_is_configured_from_the_setting(app):
    import logging.handlers

    audit._configure_logger("127.0.0.1:5514")
    try:
        handlers = [h for h in audit.LOGGER.handlers if getattr(h, "crm_audit", False)]
        assert len(handlers) == 1
        assert isinstance(handlers[0], logging.handlers.SysLogHandler)
    finally:
        audit._configure_logger(None)
    assert not [h for h in audit.LOGGER.handlers if getattr(h, "crm_audit", False)]


# ------------------------------------------------------------------ the events


def test_sign_ins_and_failures_with_the_address(app, db_session):
    start = _last_id(db_session)
    visitor = Visitor(app)
    visitor.client.environ_base["REMOTE_ADDR"] = ADDRESS
    assert visitor.login(SALES, "wrong-password").status_code == 302
    assert visitor.login("nobody-here", "wrong-password").status_code == 302
    assert visitor.login(SALES).status_code == 302
    failed = _events(db_session, start, audit.SIGN_IN_FAILED)
    assert [(e.target, e.address) for e in failed] == [(SALES, ADDRESS), ("nobody-here", ADDRESS)]
    (signed,) = _events(db_session, start, audit.SIGN_IN)
    assert (signed.username, signed.target, signed.address) == (SALES, SALES, ADDRESS)


def test_api_sign_in_is_logged_too(app, db_session):
    start = _last_id(db_session)
    response = app.test_client().post(
        "/api/v1/security/login",
        json={"username": SUPPORT, "password": "nope", "provider": "db"},
    )
    assert response.status_code == 401
    (failed,) = _events(db_session, start, audit.SIGN_IN_FAILED)
    assert failed.target == SUPPORT


def test_lockout_and_refused_sign_ins(app, db_session):
    make_user(app, "lockme")
    start = _last_id(db_session)
    visitor = Visitor(app)
    for _ in range(app.config["CRM_LOGIN_MAX_FAILURES"]):
        visitor.login("lockme", "wrong-password")
    (locked,) = _events(db_session, start, audit.LOCKOUT)
    assert locked.target == "lockme"
    assert _details(locked)["failures"] == app.config["CRM_LOGIN_MAX_FAILURES"]
    visitor.login("lockme", PASSWORD)
    (refused,) = _events(db_session, start, audit.SIGN_IN_REFUSED)
    assert refused.target == "lockme"


def test_password_changes_own_and_reset_by_the_admin(app, admin, db_session):
    user = make_user(app, "pwuser")
    start = _last_id(db_session)
    response = admin.post(
        f"/resetpassword/form?pk={user.id}", {"password": STRONG, "conf_password": STRONG}
    )
    assert response.status_code == 302
    me = Visitor(app)
    assert me.login("pwuser", STRONG).status_code == 302
    response = me.post("/resetmypassword/form", {"password": OTHER, "conf_password": OTHER})
    assert response.status_code == 302, unescaped_html(response)[-3000:]
    changed = _events(db_session, start, audit.PASSWORD_CHANGED)
    assert [(e.username, e.target) for e in changed] == [(ADMIN, "pwuser"), ("pwuser", "pwuser")]


def test_user_add_edit_deactivate_delete(app, admin, db_session):
    role_id = app.appbuilder.sm.find_role(app.config["CRM_ROLE_NAMES"][SALES]).id
    form = {
        "username": "auditee",
        "first_name": "审计",
        "phone": "13812345678",
        "email": "auditee@example.com",
        "active": "y",
        "roles": str(role_id),
        "password": STRONG,
        "conf_password": STRONG,
    }
    start = _last_id(db_session)
    assert admin.post("/users/add", form, **_from()).status_code == 302
    user_id = db_session.scalar(
        select(AuditEvent.id).where(AuditEvent.id > start, AuditEvent.kind == audit.USER_ADDED)
    )
    assert user_id
    from app.models import CrmUser

    user = db_session.scalar(select(CrmUser).where(CrmUser.username == "auditee"))
    edit = {key: value for key, value in form.items() if "password" not in key}
    assert admin.post(f"/users/edit/{user.id}", {**edit, "first_name": "审计2"}).status_code == 302
    assert admin.post(f"/users/action/deactivate/{user.id}").status_code == 302
    assert admin.post(f"/users/delete/{user.id}").status_code == 302
    kinds = [(e.kind, e.target) for e in _events(db_session, start) if e.target == "auditee"]
    assert kinds == [
        (audit.USER_ADDED, "auditee"),
        (audit.USER_CHANGED, "auditee"),
        (audit.USER_CHANGED, "auditee"),
        (audit.USER_DELETED, "auditee"),
    ]
    added = _events(db_session, start, audit.USER_ADDED)[0]
    assert added.address == ADDRESS and added.username == ADMIN
    assert _details(added)["roles"] == [app.config["CRM_ROLE_NAMES"][SALES]]


def test_role_permission_and_data_scope_changes(app, admin, db_session):
    from app.services.roles import apply_roles

    sm = app.appbuilder.sm
    role = sm.find_role(app.config["CRM_ROLE_NAMES"][SALES])
    role_id, name = role.id, role.name
    kept = [pv.id for pv in role.permissions if pv.view_menu.name != "Contract"]
    start = _last_id(db_session)
    try:
        response = admin.post(
            f"/roles/edit/{role_id}",
            {"name": name, "permissions": [str(pk) for pk in kept], "data_scope": "all"},
        )
        assert response.status_code == 302
        (changed,) = _events(db_session, start, audit.ROLE_CHANGED)
        assert changed.target == name
        assert "can_read Contract" in _details(changed)["permissions_removed"]
        (scope,) = _events(db_session, start, audit.DATA_SCOPE_CHANGED)
        assert _details(scope) == {"old": "own", "new": "all"}
    finally:
        with app.app_context():
            apply_roles(app.appbuilder, reset=True)
            from app.extensions import db

            db.session.remove()


def test_exports_name_the_list_filters_and_rows(admin, db_session):
    for n in range(3):
        make_customer(name=f"导出审计{n}")
    make_customer(name="别的客户")
    start = _last_id(db_session)
    response = admin.get("/customers/export.xlsx?_flt_2_name=导出审计")
    assert response.status_code == 200
    (exported,) = _events(db_session, start, audit.EXPORT)
    details = _details(exported)
    assert exported.target == "Customer" and exported.username == ADMIN
    assert details["rows"] == 3
    assert details["filters"] == {"_flt_2_name": "导出审计"}


def test_service_report_export_is_logged(signed_in, db_session):
    start = _last_id(db_session)
    response = signed_in(SUPPORT).get("/reports/service/xlsx?from=2026-01-01&to=2026-02-01")
    assert response.status_code == 200
    (exported,) = _events(db_session, start, audit.EXPORT)
    assert exported.target == "ServiceReport" and exported.username == SUPPORT


def test_imports_and_bulk_deletes(login_as, db_session):
    from test_import import CUSTOMER_HEADER, GOOD_CUSTOMERS, upload, workbook_bytes

    sales = login_as(SALES)
    start = _last_id(db_session)
    response = upload(sales, "/customers/import/", workbook_bytes(CUSTOMER_HEADER, GOOD_CUSTOMERS))
    assert response.status_code == 302
    (imported,) = _events(db_session, start, audit.IMPORT)
    assert imported.target == "Customer"
    assert _details(imported) == {"created": len(GOOD_CUSTOMERS), "updated": 0}

    ids = [str(pk) for pk in db_session.scalars(select(Customer.id))]
    response = sales.post("/customers/action_post", {"action": "muldelete", "rowid": ids})
    assert response.status_code == 302
    (deleted,) = _events(db_session, start, audit.BULK_DELETE)
    assert deleted.target == "Customer" and _details(deleted)["rows"] == len(ids)


def test_cli_backup_is_logged(app, db_session, tmp_path):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the SQLite backup; PostgreSQL needs pg_dump")
    start = _last_id(db_session)
    target = tmp_path / "audit-backup.sqlite3"
    result = app.test_cli_runner().invoke(args=["crm", "backup", str(target)])
    assert result.exit_code == 0, result.output
    (backup,) = _events(db_session, start, audit.BACKUP)
    assert backup.target == str(target) and backup.username is None


# ------------------------------------------------------------------ prune


def test_prune_refuses_fewer_than_180_days(app, db_session):
    db_session.execute(
        insert(AuditEvent.__table__).values(
            at=datetime.now() - timedelta(days=400), kind="backup", target="ancient", details="{}"
        )
    )
    db_session.commit()
    for days in ("179", "0", "-5"):
        result = app.test_cli_runner().invoke(args=["crm", "audit", "prune", "--days", days])
        assert result.exit_code != 0
        assert "180" in result.output
    assert db_session.scalar(select(func.count()).where(AuditEvent.target == "ancient")) == 1


def test_prune_drops_only_older_rows_and_logs_itself(app, db_session):
    now = datetime.now()
    for age, target in ((400, "ancient"), (100, "recent")):
        db_session.execute(
            insert(AuditEvent.__table__).values(
                at=now - timedelta(days=age), kind="backup", target=target, details="{}"
            )
        )
    db_session.commit()
    start = _last_id(db_session)
    result = app.test_cli_runner().invoke(args=["crm", "audit", "prune", "--days", "365"])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    targets = set(db_session.scalars(select(AuditEvent.target)))
    assert "ancient" not in targets and "recent" in targets
    (pruned,) = _events(db_session, start, audit.PRUNED)
    assert _details(pruned)["days"] == 365 and _details(pruned)["rows"] >= 1
