"""Personal-data requests (issue 16 step 4): a person's data as .xlsx, and 删除个人信息.

Only the admin holds the permission (查看/处理个人信息请求); a role given it with a
narrow data scope gets a 404 for a person outside it. Anonymising keeps the
feedback rows, so the service statistics are the same before and after.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import pytest
from conftest import CHILD_FIRST
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import ChangeRecord, Contact, Feedback, FeedbackStatus, Reporter
from app.models.audit import AuditEvent
from app.models.notification import FeedbackNotification, NotificationChannel, NotificationState
from app.permissions import (
    ADMIN,
    CONTACT,
    ENGINEER,
    FINANCE,
    MANAGER,
    PERSONAL_DATA,
    READ,
    REPORTER,
    ROLE_GRANTS,
    SALES,
    SUPPORT,
)
from app.services import audit, statistics
from app.services.statistics import ReportQuery
from factories import make_contact, make_customer, make_feedback, make_followup, make_reporter
from helpers import PASSWORD, Visitor, flashes, unescaped_html

NATIONAL_ID = "11010519491231002X"
CONTACT_PHONE, NEW_CONTACT_PHONE = "13800138000", "13700137000"
REPORTER_PHONE = "13900139000"
PERIOD = ReportQuery(date(2026, 1, 1), date(2026, 12, 31))
AS_OF = datetime(2026, 6, 1)


@pytest.fixture
def people(db_session):
    customer = make_customer()
    contact = make_contact(
        customer, name="王小明", national_id=NATIONAL_ID, phone=CONTACT_PHONE, email="wxm@a.cn"
    )
    contact.phone = NEW_CONTACT_PHONE  # a history row with the old and new phone
    db_session.commit()
    followup = make_followup(customer, contact=contact, content="与王小明电话沟通")
    reporter = make_reporter(customer, name="李店长", phone=REPORTER_PHONE, email="li@a.cn")
    first = make_feedback(reporter, problem="打印机卡纸")
    make_feedback(
        reporter,
        problem="扫码枪失灵",
        status=FeedbackStatus.resolved,
        resolved_at=datetime(2026, 3, 2, 9, 0),
    )
    db_session.add(
        FeedbackNotification(
            feedback_id=first.id,
            channel=NotificationChannel.phone,
            recipient=REPORTER_PHONE,
            subject="关于您反馈的问题",
            body="李店长您好，请致电 13900139000。",
            state=NotificationState.call_needed,
        )
    )
    db_session.commit()
    return {
        "customer": customer.id,
        "contact": contact.id,
        "reporter": reporter.id,
        "followup": followup.id,
        "feedback": first.id,
    }


def _sheets(response) -> dict[str, list[tuple]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(response.data), read_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in workbook.worksheets}


def _cells(rows) -> set:
    return {value for row in rows for value in row if value is not None}


def _events(db_session, after: int, kind: str) -> list[AuditEvent]:
    db_session.expire_all()
    return list(
        db_session.scalars(select(AuditEvent).where(AuditEvent.id > after, AuditEvent.kind == kind))
    )


def _last_event(db_session) -> int:
    return db_session.scalar(select(func.max(AuditEvent.id))) or 0


def _history_text(db_session, model: str, pk: int) -> str:
    db_session.expire_all()
    rows = db_session.scalars(
        select(ChangeRecord).where(ChangeRecord.model == model, ChangeRecord.row_id == pk)
    )
    return "\n".join(f"{row.record} {row.changes}" for row in rows)


# ------------------------------------------------------------------ the permission


def test_only_the_admin_is_seeded_with_the_permission():
    for grants in ROLE_GRANTS.values():
        for resource in (CONTACT, REPORTER):
            assert PERSONAL_DATA not in grants.get(resource, ())


@pytest.mark.parametrize("role", [ADMIN, SALES, SUPPORT, ENGINEER, MANAGER, FINANCE])
def test_the_panel_and_addresses_are_for_the_admin_only(people, signed_in, db_session, role):
    visitor = signed_in(role)
    for kind, pk in (("contacts", people["contact"]), ("reporters", people["reporter"])):
        show = visitor.get(f"/{kind}/show/{pk}")
        has_panel = 'id="personal-data"' in show.get_data(as_text=True)
        assert has_panel == (role == ADMIN), (role, kind)
        if role == ADMIN:
            continue
        assert visitor.get(f"/{kind}/personal-data/{pk}.xlsx").status_code == 403
        response = visitor.post(f"/{kind}/anonymise/{pk}", data={"reason": "客户要求"})
        assert response.status_code == 403
    db_session.expire_all()
    assert db_session.get(Contact, people["contact"]).phone == NEW_CONTACT_PHONE
    assert db_session.get(Reporter, people["reporter"]).name == "李店长"


# ------------------------------------------------------------------ download


def test_admin_downloads_a_contacts_record_history_and_follow_ups(people, admin, db_session):
    start = _last_event(db_session)
    sheets = _sheets(admin.get(f"/contacts/personal-data/{people['contact']}.xlsx"))
    record, history, followups = sheets.values()
    cells = _cells(record)
    assert {"王小明", NATIONAL_ID, NEW_CONTACT_PHONE, "wxm@a.cn", "身份证号"} <= cells
    assert ("生成人", "admin user") in record
    history_cells = _cells(history)
    assert {CONTACT_PHONE, NEW_CONTACT_PHONE, NATIONAL_ID} <= history_cells
    assert history[0][0] == "时间"
    assert "与王小明电话沟通" in _cells(followups)
    (event,) = _events(db_session, start, audit.PERSONAL_DATA)
    assert event.target == f"Contact #{people['contact']}" and event.username == ADMIN
    assert "王小明" not in (event.details or "")


def test_admin_downloads_a_reporters_feedback_and_messages(people, admin, db_session):
    response = admin.get(f"/reporters/personal-data/{people['reporter']}.xlsx")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    sheets = _sheets(response)
    assert len(sheets) == 4
    record, _history, feedback, messages = sheets.values()
    assert {"李店长", REPORTER_PHONE, "li@a.cn", "南京路店"} <= _cells(record)
    assert {"打印机卡纸", "扫码枪失灵"} <= _cells(feedback)
    assert len(feedback) == 3  # header and two rows
    assert REPORTER_PHONE in _cells(messages)


def test_download_of_a_missing_record_or_bad_key_is_404(people, admin):
    for url in (
        "/contacts/personal-data/999999.xlsx",
        "/reporters/personal-data/999999.xlsx",
        "/contacts/personal-data/abc.xlsx",
        "/contacts/personal-data/-1.xlsx",
        "/contacts/personal-data/99999999999999999999999.xlsx",
    ):
        assert admin.get(url).status_code == 404, url


@pytest.fixture
def scoped_requester(app):
    """A user whose role may handle personal-data requests, on its own customers only."""
    from app.services.roles import granted_permission_views
    from app.services.scope import set_scope

    name = "个人信息专员"
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(
            name,
            granted_permission_views(
                app.appbuilder,
                {CONTACT: (READ, PERSONAL_DATA), REPORTER: (READ, PERSONAL_DATA)},
            ),
        )
        set_scope(role, "own")
        db.session.commit()
        sm.add_user(
            username="pdofficer",
            first_name="pdofficer user",
            last_name="",
            email="pdofficer@example.com",
            role=role,
            password=PASSWORD,
        )
        db.session.remove()
    yield "pdofficer"
    with app.app_context():
        for model in CHILD_FIRST:  # rows the user owns or changed, before the user goes
            db.session.execute(delete(model))
        db.session.commit()
        sm = app.appbuilder.sm
        user = sm.find_user(username="pdofficer")
        if user is not None:
            db.session.delete(user)
            db.session.commit()
        role = sm.find_role(name)
        if role is not None:
            db.session.delete(role)
            db.session.commit()
        db.session.remove()


def test_out_of_scope_is_404_and_own_customers_work(app, people, scoped_requester, db_session):
    visitor = Visitor(app)
    assert visitor.login(scoped_requester).status_code == 302
    # the seeded salesperson owns the people's customer
    for kind, pk in (("contacts", people["contact"]), ("reporters", people["reporter"])):
        assert visitor.get(f"/{kind}/personal-data/{pk}.xlsx").status_code == 404
        response = visitor.post(f"/{kind}/anonymise/{pk}", data={"reason": "客户要求"})
        assert response.status_code == 404
    db_session.expire_all()
    assert db_session.get(Reporter, people["reporter"]).name == "李店长"
    officer = app.appbuilder.sm.find_user(username=scoped_requester)
    own = make_customer(owner_id=officer.id)
    contact = make_contact(own, name="赵六")
    assert visitor.get(f"/contacts/personal-data/{contact.id}.xlsx").status_code == 200
    visitor.post(f"/contacts/anonymise/{contact.id}", data={"reason": "本人申请"})
    db_session.expire_all()
    assert db_session.get(Contact, contact.id).name == f"已匿名 #{contact.id}"


# ------------------------------------------------------------------ anonymise


def test_anonymising_a_reporter_keeps_the_statistics(people, admin, db_session):
    before = statistics.service_statistics(PERIOD, AS_OF).to_dict()
    feedback_count = db_session.scalar(select(func.count()).select_from(Feedback))
    start = _last_event(db_session)
    pk = people["reporter"]
    response = admin.post(f"/reporters/anonymise/{pk}", data={"reason": "本人要求删除"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/reporters/show/{pk}")
    db_session.expire_all()
    reporter = db_session.get(Reporter, pk)
    assert reporter.name == f"已匿名 #{pk}"
    assert (reporter.phone, reporter.email, reporter.address) == (None, None, None)
    assert reporter.store == "南京路店"
    assert statistics.service_statistics(PERIOD, AS_OF).to_dict() == before
    assert db_session.scalar(select(func.count()).select_from(Feedback)) == feedback_count
    history = _history_text(db_session, "Reporter", pk)
    for secret in ("李店长", REPORTER_PHONE, "li@a.cn"):
        assert secret not in history
    assert "本人要求删除" in history  # the change says why
    feedback_history = _history_text(db_session, "Feedback", people["feedback"])
    assert "李店长" not in feedback_history and f"已匿名 #{pk}" in feedback_history
    notice = db_session.scalar(select(FeedbackNotification))
    assert notice.recipient == "-"
    assert REPORTER_PHONE not in notice.body and "李店长" not in notice.body
    (event,) = _events(db_session, start, audit.ANONYMISE)
    assert event.target == f"Reporter #{pk}" and event.username == ADMIN
    details = json.loads(event.details)
    assert details["reason"] == "本人要求删除"
    assert set(details["fields"]) == {"name", "phone", "email"}
    page = unescaped_html(admin.get(f"/reporters/show/{pk}"))
    assert ("success", "个人信息已删除，记录的其他数据保留。") in flashes(page)


def test_anonymising_a_contact_purges_its_history_and_mentions(people, admin, db_session):
    pk = people["contact"]
    response = admin.post(f"/contacts/anonymise/{pk}", data={"reason": "离职，本人申请"})
    assert response.status_code == 302
    db_session.expire_all()
    contact = db_session.get(Contact, pk)
    assert contact.name == f"已匿名 #{pk}"
    for field in ("position", "birth_date", "national_id", "phone", "email", "address"):
        assert getattr(contact, field) is None, field
    assert contact.customer_id == people["customer"]
    history = _history_text(db_session, "Contact", pk)
    for secret in ("王小明", NATIONAL_ID, CONTACT_PHONE, NEW_CONTACT_PHONE, "wxm@a.cn"):
        assert secret not in history, secret
    followup_history = _history_text(db_session, "FollowUp", people["followup"])
    assert "王小明 [#" not in followup_history and f"已匿名 #{pk} [#{pk}]" in followup_history
    sheets = _sheets(admin.get(f"/contacts/personal-data/{pk}.xlsx"))
    every_cell = set().union(*(_cells(rows) for rows in sheets.values()))
    assert not {"王小明", NATIONAL_ID, CONTACT_PHONE, NEW_CONTACT_PHONE} & every_cell


@pytest.mark.parametrize("reason", ["", "   ", None, "长" * 201])
def test_a_missing_or_too_long_reason_changes_nothing(people, admin, db_session, reason):
    start = _last_event(db_session)
    before = _history_text(db_session, "Contact", people["contact"])
    data = {} if reason is None else {"reason": reason}
    response = admin.post(
        f"/contacts/anonymise/{people['contact']}", data=data, follow_redirects=True
    )
    assert response.status_code == 200
    messages = [message for category, message in flashes(response) if category == "danger"]
    expected = "最多" if reason and reason.strip() else "请说明删除个人信息的原因（必填）。"
    assert any(expected in message for message in messages), messages
    db_session.expire_all()
    assert db_session.get(Contact, people["contact"]).name == "王小明"
    assert _history_text(db_session, "Contact", people["contact"]) == before
    assert _events(db_session, start, audit.ANONYMISE) == []


def test_anonymise_refuses_get_and_a_missing_token(people, admin, app, db_session):
    pk = people["contact"]
    response = admin.get(f"/contacts/anonymise/{pk}")
    assert response.status_code == 405
    assert "不允许" in response.get_data(as_text=True) or "405" in response.get_data(as_text=True)
    response = admin.client.post(f"/contacts/anonymise/{pk}", data={"reason": "x"})
    assert response.status_code in (400, 302)
    for url in ("/contacts/anonymise/999999", "/contacts/anonymise/abc"):
        assert admin.post(url, data={"reason": "x"}).status_code == 404
    db_session.expire_all()
    assert db_session.get(Contact, pk).name == "王小明"


def test_anonymising_twice_is_harmless(people, admin, db_session):
    pk = people["reporter"]
    for _n in range(2):
        assert admin.post(f"/reporters/anonymise/{pk}", data={"reason": "再次"}).status_code == 302
    db_session.expire_all()
    assert db_session.get(Reporter, pk).name == f"已匿名 #{pk}"


def test_the_security_log_shows_both_requests_in_chinese(people, admin, db_session):
    pk = people["contact"]
    admin.get(f"/contacts/personal-data/{pk}.xlsx")
    admin.post(f"/contacts/anonymise/{pk}", data={"reason": "本人书面申请"})
    page = unescaped_html(admin.get("/audit/list/?_flt_0_kind=anonymise"))
    assert "删除个人信息" in page and f"客户联系人 #{pk}" in page
    assert "原因: 本人书面申请" in page
    assert "清除的个人字段: 姓名、身份证号、电话、电子邮箱" in page
    page = unescaped_html(admin.get("/audit/list/?_flt_0_kind=personal_data"))
    assert "下载个人信息" in page and "变更历史行数" in page
