"""Reveal on demand: the show page's 显示 button, for those who may, each reveal logged."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from app.models.audit import AuditEvent
from app.permissions import ADMIN, ENGINEER, MANAGER, SALES, SUPPORT
from app.services import audit
from factories import make_contact, make_customer, make_reporter
from helpers import unescaped_html

NATIONAL_ID, NATIONAL_ID_MASKED = "11010519491231002X", "110105********002X"
CONTACT_PHONE, CONTACT_PHONE_MASKED = "13800138000", "138****8000"
REPORTER_PHONE = "13900139000"
# role -> the record kinds whose personal fields it may reveal
REVEALS = {ADMIN: ("contacts", "reporters"), SALES: ("contacts",), SUPPORT: ("reporters",)}
READS = {
    ADMIN: ("contacts", "reporters"),
    SALES: ("contacts",),
    SUPPORT: ("contacts", "reporters"),
    MANAGER: ("contacts", "reporters"),
    ENGINEER: (),
}


@pytest.fixture
def people(db_session):
    customer = make_customer()  # the seeded salesperson's
    contact = make_contact(customer, national_id=NATIONAL_ID, phone=CONTACT_PHONE)
    reporter = make_reporter(customer, phone=REPORTER_PHONE)
    return {"contacts": contact.id, "reporters": reporter.id}


def _last_id(db_session) -> int:
    return db_session.scalar(select(func.max(AuditEvent.id))) or 0


def _reveals(db_session, after: int) -> list[AuditEvent]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.id > after, AuditEvent.kind == audit.REVEAL)
            .order_by(AuditEvent.id)
        )
    )


def _reveal(visitor, url: str, token: str | None = "page"):
    headers = {"Accept": "application/json"}
    if token == "page":
        token = visitor.csrf_token
    if token:
        headers["X-CSRFToken"] = token
    return visitor.client.post(url, headers=headers)


@pytest.mark.parametrize("role", list(READS))
def test_the_show_page_masks_and_offers_the_button_to_those_who_may_reveal(people, signed_in, role):
    visitor = signed_in(role)
    for kind, pk in people.items():
        response = visitor.get(f"/{kind}/show/{pk}")
        if kind not in READS[role]:
            assert response.status_code == 403
            continue
        page = unescaped_html(response)
        for clear in (NATIONAL_ID, CONTACT_PHONE, REPORTER_PHONE):
            assert clear not in page, (role, kind, clear)
        buttons = re.findall(r'data-reveal-url="([^"]+)"', page)
        if kind in REVEALS.get(role, ()):
            fields = {"contacts": ["national_id", "phone"], "reporters": ["phone"]}[kind]
            assert buttons == [f"/{kind}/reveal/{pk}/{field}" for field in fields]
            assert ">显示</button>" in page
        else:
            assert buttons == []


@pytest.mark.parametrize("role", list(READS))
def test_reveal_answers_the_clear_value_and_logs_it_or_refuses(people, signed_in, db_session, role):
    visitor = signed_in(role)
    start = _last_id(db_session)
    expected = []
    for kind, field, clear in (
        ("contacts", "national_id", NATIONAL_ID),
        ("contacts", "phone", CONTACT_PHONE),
        ("reporters", "phone", REPORTER_PHONE),
    ):
        pk = people[kind]
        response = _reveal(visitor, f"/{kind}/reveal/{pk}/{field}")
        if kind in REVEALS.get(role, ()):
            assert response.status_code == 200, (role, kind, field)
            assert response.json == {"value": clear}
            expected.append((role, f"{'Contact' if kind == 'contacts' else 'Reporter'} #{pk}"))
        else:
            assert response.status_code in (401, 403), (role, kind, response.status_code)
            assert clear not in response.get_data(as_text=True)
    logged = _reveals(db_session, start)
    assert [(event.username, event.target) for event in logged] == expected
    for event in logged:
        assert json.loads(event.details)["field"] in ("national_id", "phone")


def test_the_admin_sees_the_reveal_in_the_security_log(people, signed_in, db_session):
    admin = signed_in(ADMIN)
    pk = people["contacts"]
    assert _reveal(admin, f"/contacts/reveal/{pk}/national_id").json == {"value": NATIONAL_ID}
    page = unescaped_html(admin.get("/audit/list/?_flt_0_kind=reveal"))
    assert "查看敏感信息" in page and f"客户联系人 #{pk}" in page and "字段: 身份证号" in page
    assert NATIONAL_ID not in page  # the log names the field, not the value


def test_reveal_needs_the_csrf_token_and_a_post(people, signed_in, db_session):
    admin = signed_in(ADMIN)
    pk = people["contacts"]
    start = _last_id(db_session)
    assert _reveal(admin, f"/contacts/reveal/{pk}/phone", token=None).status_code == 400
    assert _reveal(admin, f"/contacts/reveal/{pk}/phone", token="forged").status_code == 400
    assert admin.get(f"/contacts/reveal/{pk}/phone").status_code == 405
    assert _reveals(db_session, start) == []


def test_reveal_of_another_field_record_or_owner_is_404(people, signed_in, login_as, db_session):
    admin = signed_in(ADMIN)
    pk = people["contacts"]
    assert _reveal(admin, f"/contacts/reveal/{pk}/name").status_code == 404
    assert _reveal(admin, f"/contacts/reveal/{pk}/address").status_code == 404
    assert _reveal(admin, "/contacts/reveal/999999/phone").status_code == 404
    assert _reveal(admin, f"/customers/reveal/{pk}/phone").status_code in (403, 404)
    # a salesperson reveals only contacts of their own customers (data scope)
    other = make_customer(owner_id=None)
    foreign = make_contact(other, phone="13700137000")
    sales = signed_in(SALES)
    response = _reveal(sales, f"/contacts/reveal/{foreign.id}/phone")
    assert response.status_code == 404
    assert "13700137000" not in response.get_data(as_text=True)
