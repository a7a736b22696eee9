"""Personal data masked by permission (查看敏感信息), on every channel it can leave by.

The table: the admin reveals everything; 销售 reveals its (own customers')
contacts; 客服 reveals reporters' phones; everybody else who may read the
record sees ``110105********002X`` and ``138****8000``.
"""

from __future__ import annotations

import io
import json

import pytest
from flask import g
from flask_login import login_user
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Contact, CrmUser, Reporter
from app.permissions import ADMIN, CONTACT, EDIT, ENGINEER, MANAGER, READ, SALES, SUPPORT
from app.services import masking
from factories import make_contact, make_customer, make_feedback, make_reporter
from helpers import PASSWORD, Visitor, unescaped_html

ROLES = (ADMIN, SALES, SUPPORT, ENGINEER, MANAGER)
NATIONAL_ID, NATIONAL_ID_MASKED = "11010519491231002X", "110105********002X"
CONTACT_PHONE, CONTACT_PHONE_MASKED = "13800138000", "138****8000"
REPORTER_PHONE, REPORTER_PHONE_MASKED = "13900139000", "139****9000"

# role -> which personal values it may read, and whether in clear
READS_CONTACTS = {ADMIN: True, SALES: True, SUPPORT: False, MANAGER: False}
READS_REPORTERS = {ADMIN: True, SUPPORT: True, MANAGER: False}
EXPORTS = {ADMIN: ("contacts", "reporters"), SALES: ("contacts",), SUPPORT: ("reporters",)}
EXPORTS[MANAGER] = ("contacts", "reporters")


@pytest.fixture
def people(db_session):
    customer = make_customer()  # owned by the seeded salesperson
    contact = make_contact(customer, national_id=NATIONAL_ID, phone=CONTACT_PHONE)
    reporter = make_reporter(customer, phone=REPORTER_PHONE)
    make_feedback(reporter)
    return {"contact": contact.id, "reporter": reporter.id, "customer": customer.id}


def _xlsx_text(data: bytes) -> str:
    workbook = load_workbook(io.BytesIO(data))
    return "\n".join(
        str(value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )


def _bodies(visitor, headers, client, kind: str, pk: int) -> dict[str, str]:
    """Everything a reader gets about one record: pages, export, API."""
    base = "/contacts" if kind == "contact" else "/reporters"
    api = "/api/v1/contacts/" if kind == "contact" else "/api/v1/reporters/"
    found = {}
    for channel, url in (("list", f"{base}/list/"), ("show", f"{base}/show/{pk}")):
        response = visitor.get(url)
        found[channel] = (response.status_code, unescaped_html(response))
    response = visitor.get(f"{base}/export.xlsx")
    found["export"] = (
        response.status_code,
        _xlsx_text(response.data) if response.status_code == 200 else "",
    )
    for channel, url in (("api_list", api), ("api_get", f"{api}{pk}")):
        response = client.get(url, headers=headers)
        found[channel] = (response.status_code, json.dumps(response.json, ensure_ascii=False))
    return found


@pytest.mark.parametrize("role", ROLES)
def test_contacts_id_and_phone_on_pages_export_and_api(app, people, signed_in, jwt_headers, role):
    visitor = signed_in(role)
    found = _bodies(visitor, jwt_headers(role), app.test_client(), "contact", people["contact"])
    clear = READS_CONTACTS.get(role)
    for channel, (status, body) in found.items():
        if clear is None or (channel == "export" and "contacts" not in EXPORTS.get(role, ())):
            assert status in (403, 302, 401), (role, channel, status)
            assert NATIONAL_ID not in body and CONTACT_PHONE not in body
            continue
        assert status == 200, (role, channel, status)
        # the show page masks for everyone; 显示 reveals (tests/test_reveal.py)
        clear_here = clear and channel != "show"
        assert (CONTACT_PHONE in body) == clear_here, (role, channel)
        assert (CONTACT_PHONE_MASKED in body) == (not clear_here), (role, channel)
        if channel in ("show", "api_get", "api_list"):  # not a column of the list
            assert (NATIONAL_ID in body) == clear_here, (role, channel)
            assert (NATIONAL_ID_MASKED in body) == (not clear_here), (role, channel)
        else:
            assert NATIONAL_ID not in body


@pytest.mark.parametrize("role", ROLES)
def test_reporters_phone_on_pages_export_and_api(app, people, signed_in, jwt_headers, role):
    visitor = signed_in(role)
    found = _bodies(visitor, jwt_headers(role), app.test_client(), "reporter", people["reporter"])
    clear = READS_REPORTERS.get(role)
    for channel, (status, body) in found.items():
        if clear is None or (channel == "export" and "reporters" not in EXPORTS.get(role, ())):
            assert status in (403, 302, 401), (role, channel, status)
            assert REPORTER_PHONE not in body
            continue
        assert status == 200, (role, channel, status)
        clear_here = clear and channel != "show"
        assert (REPORTER_PHONE in body) == clear_here, (role, channel)
        assert (REPORTER_PHONE_MASKED in body) == (not clear_here), (role, channel)


@pytest.mark.parametrize("role", ROLES)
def test_history_tab_masks_and_the_admins_history_page_reveals(
    app, people, signed_in, db_session, role
):
    contact = db_session.get(Contact, people["contact"])
    contact.phone = "13700137000"
    reporter = db_session.get(Reporter, people["reporter"])
    reporter.phone = "13600136000"
    db_session.commit()
    visitor = signed_in(role)
    for kind, pk, values, clear in (
        ("contacts", people["contact"], (CONTACT_PHONE, "13700137000"), READS_CONTACTS.get(role)),
        (
            "reporters",
            people["reporter"],
            (REPORTER_PHONE, "13600136000"),
            READS_REPORTERS.get(role),
        ),
    ):
        response = visitor.get(f"/{kind}/show/{pk}")
        if clear is None:
            assert response.status_code == 403
            continue
        page = unescaped_html(response)
        for value in values:  # the show page's history tab masks like the page
            assert value not in page, (role, kind, value)
            assert masking.mask_phone(value) in page, (role, kind, value)
    if role == ADMIN:  # the history pages themselves are the admin's
        page = unescaped_html(visitor.get("/history/list/"))
        assert "13700137000" not in page  # the list shows no values
        from app.models import ChangeRecord

        record = db_session.scalar(
            select(ChangeRecord.id)
            .where(ChangeRecord.model == "Contact", ChangeRecord.row_id == people["contact"])
            .order_by(ChangeRecord.id)  # the creation, which holds the national ID
            .limit(1)
        )
        assert NATIONAL_ID in unescaped_html(visitor.get(f"/history/show/{record}"))


def _sign_in(db_session, username: str) -> None:
    """The request context's user, as a sign-in makes it (flask_login and FAB's g.user)."""
    user = db_session.scalar(select(CrmUser).where(CrmUser.username == username))
    login_user(user)
    g.user = user


def test_history_values_masked_for_a_reader_without_reveal(app, people, db_session):
    from app.services import history

    with app.test_request_context():
        _sign_in(db_session, MANAGER)
        assert history.display_value("Contact", "national_id", NATIONAL_ID) == NATIONAL_ID_MASKED
        assert history.display_value("Reporter", "phone", REPORTER_PHONE) == REPORTER_PHONE_MASKED
    with app.test_request_context():
        _sign_in(db_session, SUPPORT)
        assert history.display_value("Reporter", "phone", REPORTER_PHONE) == REPORTER_PHONE
        assert history.display_value("Contact", "phone", CONTACT_PHONE) == CONTACT_PHONE_MASKED


@pytest.mark.parametrize("role", (SUPPORT, MANAGER, ADMIN, SALES))
def test_search_by_full_phone_or_id_finds_the_record_and_lists_it_masked_or_clear(
    people, signed_in, role
):
    visitor = signed_in(role)
    clear = READS_CONTACTS[role]
    for field, term in (("phone", CONTACT_PHONE), ("national_id", NATIONAL_ID)):
        response = visitor.get(f"/contacts/list/?_flt_0_{field}={term}")
        assert response.status_code == 200
        page = unescaped_html(response)
        assert f"/contacts/show/{people['contact']}" in page, (role, term)
        assert (f">{CONTACT_PHONE}<" in page.replace(" ", "").replace("\n", "")) == clear
        assert (CONTACT_PHONE_MASKED in page) == (not clear)
    page = unescaped_html(visitor.get(f"/search/?q={CONTACT_PHONE}"))
    assert f"/contacts/show/{people['contact']}" in page
    assert CONTACT_PHONE_MASKED not in page or not clear


@pytest.mark.parametrize("role", (SUPPORT, ADMIN))
def test_drop_down_labels_carry_no_phone(people, signed_in, role):
    visitor = signed_in(role)
    response = visitor.get(f"/feedback/related/reporter?q={REPORTER_PHONE}")
    assert response.status_code == 200
    results = response.json["results"]
    assert [row["id"] for row in results] == [people["reporter"]]
    assert REPORTER_PHONE not in json.dumps(response.json)


def test_service_report_detail_sheet_holds_no_phone(people, signed_in):
    response = signed_in(SUPPORT).get("/reports/service/xlsx?from=2000-01-01&to=2100-01-01")
    assert response.status_code == 200
    text = _xlsx_text(response.data)
    assert REPORTER_PHONE not in text and CONTACT_PHONE not in text and NATIONAL_ID not in text


# ------------------------------------------------------------------ edits


@pytest.fixture
def editor_without_reveal(app):
    """A role that may read and edit contacts but not reveal them, and a user of it."""
    from app.services.roles import granted_permission_views

    sm = app.appbuilder.sm
    with app.app_context():
        rows = granted_permission_views(app.appbuilder, {CONTACT: (READ, EDIT)})
        role = sm.add_role("联系人编辑", rows)
        user = sm.add_user(
            username="maskeditor",
            first_name="编辑",
            last_name="",
            email="maskeditor@example.com",
            role=role,
            password=PASSWORD,
        )
        from app.services.scope import set_scope

        set_scope(role, "all")
        db.session.commit()
        role_id = role.id
        db.session.remove()
    visitor = Visitor(app)
    assert visitor.login("maskeditor").status_code == 302
    yield visitor
    with app.app_context():
        # the account itself goes with the test's rows (conftest): it changed a contact
        user = db.session.scalar(select(CrmUser).where(CrmUser.username == "maskeditor"))
        if user is not None:
            user.roles = []
            db.session.commit()
        role = sm.find_role("联系人编辑")
        if role is not None:
            if role.data_scope_row is not None:
                db.session.delete(role.data_scope_row)
            role.permissions = []
            db.session.delete(role)
            db.session.commit()
        assert role_id
        db.session.remove()


def test_an_edit_without_reveal_keeps_the_stored_values(people, editor_without_reveal, db_session):
    pk = people["contact"]
    page = unescaped_html(editor_without_reveal.get(f"/contacts/edit/{pk}"))
    assert NATIONAL_ID not in page and CONTACT_PHONE not in page
    assert f'value="{NATIONAL_ID_MASKED}"' in page and f'value="{CONTACT_PHONE_MASKED}"' in page
    version = db_session.get(Contact, pk).row_version
    form = {
        "customer": people["customer"],
        "name": "改名的联系人",
        "national_id": NATIONAL_ID_MASKED,
        "phone": CONTACT_PHONE_MASKED,
        "status": "active",
        "row_version": version,
    }
    response = editor_without_reveal.post(f"/contacts/edit/{pk}", form)
    assert response.status_code == 302, unescaped_html(response)[-2000:]
    db_session.expire_all()
    contact = db_session.get(Contact, pk)
    assert (contact.name, contact.national_id, contact.phone) == (
        "改名的联系人",
        NATIONAL_ID,
        CONTACT_PHONE,
    )
    # a form shown again with an error still shows the masks, not the stored values
    response = editor_without_reveal.post(
        f"/contacts/edit/{pk}", {**form, "name": "", "row_version": contact.row_version}
    )
    page = unescaped_html(response)
    assert response.status_code == 200
    assert NATIONAL_ID not in page and CONTACT_PHONE not in page
    # a new value typed is stored
    response = editor_without_reveal.post(
        f"/contacts/edit/{pk}",
        {**form, "phone": "13500135000", "row_version": contact.row_version},
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Contact, pk).phone == "13500135000"


def test_an_api_update_sending_the_mask_back_keeps_the_stored_value(
    app, people, jwt_headers, db_session
):
    pk = people["contact"]
    client = app.test_client()
    headers = jwt_headers(MANAGER)
    record = client.get(f"/api/v1/contacts/{pk}", headers=headers).json["result"]
    assert record["national_id"] == NATIONAL_ID_MASKED
    # the manager may not edit: the API's pre_update step, on its own
    with app.test_request_context():
        _sign_in(db_session, MANAGER)
        contact = db_session.get(Contact, pk)
        contact.national_id = NATIONAL_ID_MASKED
        contact.phone = "13500135000"
        masking.keep_stored(contact)
        assert (contact.national_id, contact.phone) == (NATIONAL_ID, "13500135000")
        db_session.rollback()


@pytest.mark.parametrize(
    "kind,value,masked",
    [
        ("id", "11010519491231002X", "110105********002X"),
        ("id", "110105491231002", "110105*****1002"),
        ("phone", "13800138000", "138****8000"),
        ("phone", "021-62345678", "021*****5678"),
        ("phone", "12345", "*****"),
        ("phone", "", ""),
        ("phone", None, None),
    ],
)
def test_mask_shapes(kind, value, masked):
    assert masking.mask(kind, value) == masked
