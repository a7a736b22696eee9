"""No clear ID number or phone leaves the server where the role table does not allow it.

A crawler with the test client: for each seeded role it signs in and fetches
every GET page the app registers (the URL map: lists, show and edit pages of
the seeded records, exports, reports, drop-down lookups searched by phone,
the global search, the dashboard, history and security-log pages), plus
every module's REST API list and get; it reads each body, and each .xlsx
with openpyxl, and looks for the clear test values. They may appear only
where the table allows: the admin everywhere; 客服 the reporter's phone;
销售 the phone and ID number of its own customer's contact. A user's phone
and home address show in clear nowhere but to the admin (the user pages and
the admin's change history) and to the user on their own profile.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import datetime
from zipfile import BadZipFile

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.api import APIS
from app.extensions import db
from app.models import Contact, CrmUser, Reporter
from app.models.notification import FeedbackNotification, NotificationChannel, NotificationState
from app.permissions import ADMIN, ENGINEER, MANAGER, SALES, SUPPORT
from app.views.ajax_select import many_to_one_models
from factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_followup,
    make_license,
    make_payment,
    make_plan,
    make_product,
    make_reporter,
)
from helpers import ROLE_KEYS

NATIONAL_ID = "11010519491231002X"
CONTACT_PHONE, OLD_CONTACT_PHONE = "13800138000", "13811138111"
REPORTER_PHONE = "13900139000"
USER_PHONE, USER_ADDRESS = "13500135000", "朝阳区幸福路88号"
SECRETS = {
    NATIONAL_ID: "contact ID number",
    CONTACT_PHONE: "contact phone",
    OLD_CONTACT_PHONE: "contact phone (history)",
    REPORTER_PHONE: "reporter phone",
    USER_PHONE: "user phone",
    USER_ADDRESS: "user home address",
}
ALLOWED = {
    ADMIN: set(SECRETS),
    SUPPORT: {REPORTER_PHONE},
    SALES: {NATIONAL_ID, CONTACT_PHONE, OLD_CONTACT_PHONE},
}
# Endpoints not fetched: they sign out, switch language, serve files, or change things.
# FAB's permission and menu pages hold no personal data; import pages only a blank template.
SKIPPED = re.compile(
    r"logout|lang|static|\.delete|\.add$|action|api|swagger|openapi|menu|reveal|resend|write"
    r"|^Permission|^ViewMenu|import|template"
)
TIME_LIMIT = 60  # seconds for one role: a guard against the crawl growing unnoticed


@pytest.fixture
def seeded(db_session):
    """A customer of the seeded salesperson with every kind of record holding the values."""
    customer = make_customer()
    contact = make_contact(customer, name="泄露测试联系人", national_id=NATIONAL_ID)
    contact.phone = OLD_CONTACT_PHONE
    db_session.commit()
    contact.phone = CONTACT_PHONE  # the history holds both phones
    db_session.commit()
    product = make_product(customer)
    reporter = make_reporter(customer, name="泄露测试报告人", phone=REPORTER_PHONE)
    feedback = make_feedback(reporter, product=product)
    db_session.add(
        FeedbackNotification(
            feedback_id=feedback.id,
            channel=NotificationChannel.phone,
            recipient=REPORTER_PHONE,
            subject="关于您反馈的问题",
            body="请回电",
            state=NotificationState.call_needed,
            error="未配置邮件服务器",
        )
    )
    contract = make_contract(customer)
    ids = {
        "Customer": customer.id,
        "Contact": contact.id,
        "Product": product.id,
        "License": make_license(product).id,
        "Reporter": reporter.id,
        "Feedback": feedback.id,
        "FollowUp": make_followup(customer, contact=contact).id,
        "Contract": contract.id,
        "PaymentPlan": make_plan(contract).id,
        "Payment": make_payment(contract).id,
    }
    # engineer2 is not one of the crawling users, whose own profile shows their own values
    engineer = db_session.scalar(select(CrmUser).where(CrmUser.username == "engineer2"))
    engineer.phone, engineer.home_address = USER_PHONE, USER_ADDRESS
    feedback.engineer_id = engineer.id  # the engineer shows in lists and drop-downs
    db_session.commit()
    ids["CrmUser"] = engineer.id
    yield ids
    engineer = db_session.get(CrmUser, engineer.id)
    engineer.phone = engineer.home_address = None
    db_session.commit()


def _first_id(model) -> int | None:
    return db.session.scalar(select(model.id).order_by(model.id.desc()).limit(1))


def _page_urls(app, ids: dict[str, int]) -> list[str]:
    """Every GET page of the URL map, with the seeded records' keys filled in."""
    views = {type(view).__name__: view for view in app.appbuilder.baseviews}
    urls = set()
    with app.app_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()) or SKIPPED.search(rule.endpoint):
                continue
            arguments = set(rule.arguments)
            view = views.get(rule.endpoint.split(".")[0])
            model = getattr(getattr(view, "datamodel", None), "obj", None)
            if not arguments:
                urls.add(rule.rule)
            elif arguments == {"pk"} and model is not None:
                pk = ids.get(model.__name__) or _first_id(model)
                if pk is not None:
                    urls.add(rule.rule.replace("<pk>", str(pk)).replace("<int:pk>", str(pk)))
            elif arguments == {"column"} and model is not None:
                for column, related in many_to_one_models(model).items():
                    terms = ("", "13") if related in (Contact, Reporter, CrmUser) else ("",)
                    for term in terms:
                        urls.add(f"{rule.rule.replace('<column>', column)}?q={term}")
    period = "from=2026-01-01&to=2026-12-31"
    urls |= {
        f"/reports/service/xlsx?{period}",
        f"/reports/receivables/xlsx?{period}",
        # parts of the values: the page must not echo a whole value the reader typed
        *(f"/search/?q={term}" for term in ("11010519", "13800138", "13900139", "泄露测试")),
        "/contacts/list/?_flt_2_phone=13800138",
        "/reporters/list/?_flt_2_phone=13900139",
    }
    return sorted(urls)


def _text_of(response) -> str:
    """The body as text; a workbook's cells, one per line."""
    data = response.get_data()
    if data.startswith(b"PK"):
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True)
        except (BadZipFile, KeyError, ValueError):
            return data.decode("utf-8", "replace")
        return "\n".join(
            str(value)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        )
    return data.decode("utf-8", "replace")


def _leaks(role: str, where: str, text: str) -> list[str]:
    allowed = ALLOWED.get(role, set())
    return [
        f"{SECRETS[value]} in clear at {where}"
        for value in SECRETS
        if value in text and value not in allowed
    ]


@pytest.mark.parametrize("role", ROLE_KEYS)
def test_clear_personal_data_only_where_the_role_table_allows(
    app, seeded, signed_in, jwt_headers, role
):
    started = time.monotonic()
    visitor = signed_in(role)
    found, fetched, opened = [], 0, 0
    for url in _page_urls(app, seeded):
        response = visitor.get(url)
        fetched += 1
        assert response.status_code < 500, (role, url, response.status_code)
        if response.status_code == 200:
            opened += 1
            found += _leaks(role, url, _text_of(response))
    client, headers = app.test_client(), jwt_headers(role)
    models = {api.resource_name: api.datamodel.obj.__name__ for api in APIS}
    for resource, model in models.items():
        for url in (f"/api/v1/{resource}/", f"/api/v1/{resource}/{seeded[model]}"):
            response = client.get(url, headers=headers)
            fetched += 1
            assert response.status_code < 500, (role, url)
            if response.status_code == 200:
                opened += 1
                found += _leaks(role, url, json.dumps(response.json, ensure_ascii=False))
    assert found == [], "\n".join(found)
    assert opened > 10, f"{role} opened only {opened} of {fetched} addresses"
    elapsed = time.monotonic() - started
    assert elapsed < TIME_LIMIT, f"{role}: {fetched} addresses in {elapsed:.0f} s"
    print(f"\n{role}: {fetched} addresses, {opened} opened, {elapsed:.1f} s ({datetime.now():%T})")


def test_the_values_do_show_to_the_admin(app, seeded, signed_in):
    """The crawl would pass on pages that show nothing: the admin finds each value somewhere."""
    visitor = signed_in(ADMIN)
    texts = [
        _text_of(visitor.get("/contacts/export.xlsx")),
        _text_of(visitor.get(f"/contacts/personal-data/{seeded['Contact']}.xlsx")),
        _text_of(visitor.get("/reporters/export.xlsx")),
        _text_of(visitor.get(f"/users/show/{seeded['CrmUser']}")),
    ]
    every = "\n".join(texts)
    assert [value for value in SECRETS if value not in every] == []


@pytest.mark.parametrize("role", [MANAGER, SUPPORT, ENGINEER])
def test_pages_naming_a_user_carry_no_phone_or_home_address(app, seeded, signed_in, role):
    """Outside the user pages a user shows by name only: lists, show pages, drop-downs."""
    visitor = signed_in(role)
    feedback = seeded["Feedback"]
    pages = [
        "/feedback/list/",
        f"/feedback/show/{feedback}",
        "/feedback/related/engineer?q=",
        "/feedback/export.xlsx",
    ]
    named = 0
    for url in pages:
        response = visitor.get(url)
        if response.status_code != 200:
            continue
        text = _text_of(response)
        named += "engineer2 user" in text
        assert USER_PHONE not in text and USER_ADDRESS not in text, (role, url)
    assert named >= 2, f"{role} saw the engineer named on {named} pages"
