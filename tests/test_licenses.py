"""License state, trial length and per-customer statistics, in Python, SQL and pages.

"Today" is a parameter of the services; the pages read it from
``app.services.licenses.today``, which the ``frozen_today`` fixture pins.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from app.models import License
from app.services.licenses import (
    LicenseState,
    count_expiring,
    customer_license_stats,
    default_trial_end,
    license_state,
    license_stats_by_customer,
    license_totals,
    state_expression,
    state_of,
)
from factories import make_customer, make_license, make_product
from helpers import unescaped_html

TODAY = date(2026, 6, 15)


@pytest.fixture
def frozen_today(monkeypatch):
    """Pages and statistics see TODAY as the current date."""
    for target in (
        "app.services.licenses.today",
        "app.views.license.today",
        "app.views.license_stats.today",
    ):
        monkeypatch.setattr(target, lambda: TODAY)
    return TODAY


# ------------------------------------------------------------------ state

D = date
STATE_CASES = [
    # valid_from, valid_to, trial, expected on TODAY (2026-06-15) with a 30-day warning
    ("far-end", D(2026, 1, 1), D(2026, 12, 31), False, LicenseState.valid),
    ("31-days-left", D(2026, 1, 1), D(2026, 7, 16), False, LicenseState.valid),
    ("30-days-left", D(2026, 1, 1), D(2026, 7, 15), False, LicenseState.expiring),
    ("last-day-today", D(2026, 1, 1), D(2026, 6, 15), False, LicenseState.expiring),
    ("one-day-only-today", D(2026, 6, 15), D(2026, 6, 15), False, LicenseState.expiring),
    ("ended-yesterday", D(2026, 1, 1), D(2026, 6, 14), False, LicenseState.expired),
    ("trial-running", D(2026, 6, 1), D(2026, 7, 1), True, LicenseState.trial),
    ("trial-last-day", D(2026, 5, 16), D(2026, 6, 15), True, LicenseState.trial),
    ("trial-ended", D(2026, 5, 1), D(2026, 5, 31), True, LicenseState.expired),
    ("starts-tomorrow", D(2026, 6, 16), D(2027, 6, 15), False, LicenseState.pending),
    ("trial-starts-later", D(2026, 7, 1), D(2026, 7, 31), True, LicenseState.pending),
]


@pytest.mark.parametrize(
    "valid_from, valid_to, trial, expected",
    [case[1:] for case in STATE_CASES],
    ids=[case[0] for case in STATE_CASES],
)
def test_state_on_hand_built_dates(valid_from, valid_to, trial, expected):
    assert state_of(valid_from, valid_to, trial, TODAY, 30) is expected


def test_state_follows_the_configured_warning_window(app, monkeypatch):
    forty_days_left = (D(2026, 1, 1), D(2026, 7, 25), False)
    with app.app_context():
        assert state_of(*forty_days_left, TODAY) is LicenseState.valid
        monkeypatch.setitem(app.config, "LICENSE_EXPIRY_WARNING_DAYS", 45)
        assert state_of(*forty_days_left, TODAY) is LicenseState.expiring


def test_sql_state_agrees_with_python_state(db_session):
    product = make_product()
    made = {}
    for name, valid_from, valid_to, trial, _expected in STATE_CASES:
        made[name] = make_license(
            product=product,
            serial=f"ST-{name}",
            valid_from=valid_from,
            valid_to=valid_to,
            is_trial=trial,
        )
    rows = db_session.execute(
        select(License.serial, state_expression(TODAY, 30)).where(License.serial.like("ST-%"))
    ).all()
    by_serial = dict(rows)
    assert len(by_serial) == len(STATE_CASES)
    for name, *_dates, expected in STATE_CASES:
        assert by_serial[f"ST-{name}"] == expected.name, name
        assert license_state(made[name], TODAY, 30) is expected


def test_state_labels_are_chinese(app):
    with app.test_request_context("/"):
        labels = {state.name: str(state) for state in LicenseState}
    assert labels == {
        "valid": "有效",
        "expiring": "即将到期",
        "expired": "已过期",
        "trial": "试用",
        "pending": "未生效",
    }


# ------------------------------------------------------------------ trial length

MONTH_ENDS = [
    # start, last day of a one-month trial (both days in force)
    (D(2026, 6, 1), D(2026, 6, 30)),
    (D(2026, 1, 31), D(2026, 2, 28)),  # February has no 31st: its last day
    (D(2026, 1, 29), D(2026, 2, 28)),  # nor a 29th in 2026
    (D(2028, 1, 29), D(2028, 2, 28)),  # 2028-02-29 exists: the day before it
    (D(2026, 1, 28), D(2026, 2, 27)),
    (D(2026, 3, 31), D(2026, 4, 30)),
    (D(2026, 12, 15), D(2027, 1, 14)),  # across the year end
    (D(2026, 12, 31), D(2027, 1, 30)),
]


@pytest.mark.parametrize("start, end", MONTH_ENDS, ids=lambda d: d.isoformat())
def test_a_trial_lasts_one_calendar_month(app, start, end):
    with app.app_context():
        assert default_trial_end(start) == end


def test_trial_length_comes_from_the_config_in_months(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "LICENSE_TRIAL_MONTHS", 3)
        assert default_trial_end(D(2026, 6, 1)) == D(2026, 8, 31)
        assert default_trial_end(D(2025, 11, 30)) == D(2026, 2, 28)
        monkeypatch.setitem(app.config, "LICENSE_TRIAL_MONTHS", 12)
        assert default_trial_end(D(2026, 6, 1)) == D(2027, 5, 31)


def _license_form(product, **overrides):
    form = dict(
        customer=product.customer_id,
        product=product.id,
        serial="TRIAL-001",
        seats="5",
        valid_from="2026-06-01",
        valid_to="",
        machine_info="",
    )
    form.update(overrides)
    return form


@pytest.mark.parametrize("start, end", MONTH_ENDS[:3], ids=lambda d: d.isoformat())
def test_new_trial_without_end_date_lasts_one_month(login_as, db_session, start, end):
    product = make_product()
    engineer = login_as("engineer")
    response = engineer.post(
        "/licenses/add", _license_form(product, is_trial="y", valid_from=start.isoformat())
    )
    assert response.status_code == 302, unescaped_html(response)
    stored = db_session.scalar(select(License).where(License.serial == "TRIAL-001"))
    assert stored.is_trial is True
    assert stored.valid_to == end


def test_the_add_page_says_how_long_a_trial_lasts(login_as):
    page = unescaped_html(login_as("engineer").get("/licenses/add"))
    assert "试用授权可留空：试用期为自起始日期起 1 个月" in page


def test_editing_a_trial_with_the_end_date_cleared_gives_it_one_month(login_as, db_session):
    item = make_license(
        serial="TRIAL-EDIT", is_trial=True, valid_from=D(2026, 1, 31), valid_to=D(2026, 3, 1)
    )
    form = _license_form(
        item.product,
        serial="TRIAL-EDIT",
        is_trial="y",
        valid_from="2026-01-31",
        row_version=item.row_version,
    )
    response = login_as("engineer").post(f"/licenses/edit/{item.id}", form)
    assert response.status_code == 302, unescaped_html(response)
    db_session.expire_all()
    assert db_session.get(License, item.id).valid_to == D(2026, 2, 28)


def test_trial_with_an_end_date_keeps_it(login_as, db_session):
    product = make_product()
    engineer = login_as("engineer")
    response = engineer.post(
        "/licenses/add", _license_form(product, is_trial="y", valid_to="2026-06-10")
    )
    assert response.status_code == 302
    stored = db_session.scalar(select(License).where(License.serial == "TRIAL-001"))
    assert stored.valid_to == D(2026, 6, 10)


def test_non_trial_without_end_date_is_refused_in_chinese(login_as, db_session):
    product = make_product()
    engineer = login_as("engineer")
    response = engineer.post("/licenses/add", _license_form(product))
    assert response.status_code == 200
    assert "请填写终止日期" in unescaped_html(response)
    assert db_session.scalar(select(License).where(License.serial == "TRIAL-001")) is None


# ------------------------------------------------------------------ the REST API


def _api_body(product, **overrides):
    body = dict(
        customer=product.customer_id,
        product=product.id,
        serial="API-TRIAL",
        seats=3,
        valid_from="2026-01-31",
        is_trial=True,
    )
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


@pytest.mark.parametrize("end", [..., None], ids=["valid_to-absent", "valid_to-null"])
def test_api_trial_without_end_date_lasts_one_month(app, db_session, jwt_headers, end):
    product = make_product()
    response = app.test_client().post(
        "/api/v1/licenses/", json=_api_body(product, valid_to=end), headers=jwt_headers("engineer")
    )
    assert response.status_code == 201, response.json
    stored = db_session.get(License, response.json["id"])
    assert stored.valid_to == D(2026, 2, 28)


def test_api_non_trial_without_end_date_is_refused_in_chinese(app, db_session, jwt_headers):
    product = make_product()
    response = app.test_client().post(
        "/api/v1/licenses/",
        json=_api_body(product, is_trial=False),
        headers=jwt_headers("engineer"),
    )
    assert response.status_code == 422
    assert "请填写终止日期" in str(response.json["message"]["valid_to"])
    assert db_session.scalar(select(License).where(License.serial == "API-TRIAL")) is None


def test_api_trial_with_an_end_date_keeps_it_and_a_cleared_one_gets_one_month(
    app, db_session, jwt_headers
):
    product = make_product()
    client = app.test_client()
    created = client.post(
        "/api/v1/licenses/",
        json=_api_body(product, valid_to="2026-02-10"),
        headers=jwt_headers("engineer"),
    )
    assert created.status_code == 201, created.json
    pk = created.json["id"]
    assert db_session.get(License, pk).valid_to == D(2026, 2, 10)
    cleared = client.put(
        f"/api/v1/licenses/{pk}",
        json={"valid_from": "2026-06-01", "valid_to": None},
        headers=jwt_headers("engineer"),
    )
    assert cleared.status_code == 200, cleared.json
    db_session.expire_all()
    assert db_session.get(License, pk).valid_to == D(2026, 6, 30)


def test_api_shows_the_state_code(app, frozen_today, known_licenses, jwt_headers):
    client = app.test_client()
    listed = client.get("/api/v1/licenses/?q=(page_size:100)", headers=jwt_headers("sales"))
    assert listed.status_code == 200, listed.json
    states = {row["serial"]: row["state"] for row in listed.json["result"]}
    assert states == {
        "A-VALID": "valid",
        "A-EXPIRING": "expiring",
        "A-EXPIRED": "expired",
        "A-TRIAL": "trial",
        "A-PENDING": "pending",
        "B-EXPIRING-1": "expiring",
        "B-EXPIRING-2": "expiring",
        "B-TRIAL-OVER": "expired",
    }
    assert listed.json["label_columns"]["state"] == "授权状态"
    pk = next(
        pk
        for pk, row in zip(listed.json["ids"], listed.json["result"], strict=True)
        if row["serial"] == "A-TRIAL"
    )
    shown = client.get(f"/api/v1/licenses/{pk}", headers=jwt_headers("sales"))
    assert shown.status_code == 200 and shown.json["result"]["state"] == "trial"
    # asked for alone, the state still reads the dates it comes from
    only = client.get(
        "/api/v1/licenses/?q=(select_columns:!(serial,state),page_size:100)",
        headers=jwt_headers("sales"),
    )
    assert only.status_code == 200, only.json
    assert {row["serial"]: row["state"] for row in only.json["result"]} == states


def test_api_state_is_read_only(app, db_session, jwt_headers):
    item = make_license(serial="API-RO")
    response = app.test_client().put(
        f"/api/v1/licenses/{item.id}", json={"state": "expired"}, headers=jwt_headers("engineer")
    )
    assert response.status_code == 422
    db_session.expire_all()
    assert db_session.get(License, item.id).valid_to == D(2026, 12, 31)


# ------------------------------------------------------------------ statistics


@pytest.fixture
def known_licenses(db_session):
    """Two customers with licenses in every state, one customer with none."""
    alpha = make_product(customer=make_customer(code="A-ALPHA", name="阿尔法超市"))
    beta = make_product(customer=make_customer(code="B-BETA", name="贝塔药房"))
    idle = make_customer(code="C-IDLE", name="没有授权的客户")
    rows = [
        # product, serial, seats, valid_from, valid_to, trial
        (alpha, "A-VALID", 10, D(2026, 1, 1), D(2026, 12, 31), False),
        (alpha, "A-EXPIRING", 5, D(2025, 7, 1), D(2026, 7, 1), False),
        (alpha, "A-EXPIRED", 20, D(2025, 1, 1), D(2025, 12, 31), False),
        (alpha, "A-TRIAL", 3, D(2026, 6, 1), D(2026, 7, 1), True),
        (alpha, "A-PENDING", 7, D(2026, 7, 1), D(2027, 6, 30), False),
        (beta, "B-EXPIRING-1", 2, D(2026, 1, 1), D(2026, 6, 15), False),
        (beta, "B-EXPIRING-2", 4, D(2026, 1, 1), D(2026, 7, 15), False),
        (beta, "B-TRIAL-OVER", 1, D(2026, 4, 1), D(2026, 5, 1), True),
    ]
    for product, serial, seats, valid_from, valid_to, trial in rows:
        make_license(
            product=product,
            serial=serial,
            seats=seats,
            valid_from=valid_from,
            valid_to=valid_to,
            is_trial=trial,
        )
    return alpha.customer, beta.customer, idle


def test_customer_statistics_on_a_known_data_set(known_licenses):
    alpha, beta, idle = known_licenses
    a = customer_license_stats(alpha, TODAY)
    assert (a.licenses, a.trials, a.seats_bought, a.seats_in_force, a.expiring, a.expired) == (
        5,
        1,
        10 + 5 + 20 + 7,
        10 + 5 + 3,
        1,
        1,
    )
    b = customer_license_stats(beta, TODAY)
    assert (b.licenses, b.trials, b.seats_bought, b.seats_in_force, b.expiring, b.expired) == (
        3,
        1,
        6,
        6,
        2,
        1,
    )
    none = customer_license_stats(idle, TODAY)
    assert (none.licenses, none.seats_bought, none.seats_in_force, none.expiring) == (0, 0, 0, 0)


def test_statistics_by_customer_and_totals(known_licenses):
    count, rows = license_stats_by_customer(TODAY)
    assert count == 2
    assert [row.customer_code for row in rows] == ["A-ALPHA", "B-BETA"]
    assert rows[1].expiring == 2
    total = license_totals(TODAY)
    assert (
        total.licenses,
        total.trials,
        total.seats_bought,
        total.seats_in_force,
        total.expiring,
        total.expired,
    ) == (8, 2, 48, 24, 3, 2)
    assert count_expiring(TODAY) == 3
    count, page = license_stats_by_customer(TODAY, page=1, page_size=1)
    assert count == 2 and [row.customer_code for row in page] == ["B-BETA"]


def test_statistics_page_shows_the_numbers(frozen_today, known_licenses, login_as):
    page = unescaped_html(login_as("sales").get("/license-stats/"))
    row = re.search(r'<tr data-customer="B-BETA">(.*?)</tr>', page, re.S).group(1)
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]
    assert cells == ["B-BETA", "贝塔药房", "3", "1", "6", "6", "2", "1"]
    assert "C-IDLE" not in page
    assert "授权统计" in page and "即将到期" in page
    menu_link = re.search(r'<a[^>]*href="/license-stats/"[^>]*>(.*?)</a>', page, re.S)
    assert menu_link and "授权统计" in menu_link.group(1)


def test_customer_page_shows_its_license_statistics(frozen_today, known_licenses, login_as):
    alpha, _beta, _idle = known_licenses
    page = unescaped_html(login_as("sales").get(f"/customers/show/{alpha.id}"))
    stats = dict(re.findall(r'data-stat="(\w+)"[^>]*>(\d+)<', page))
    assert stats == {
        "licenses": "5",
        "trials": "1",
        "seats_bought": "42",
        "seats_in_force": "18",
        "expiring": "1",
        "expired": "1",
    }
    # the licenses tab carries the state badges too
    assert page.count('data-state="expiring"') == 1 and 'data-state="pending"' in page


def test_license_statistics_need_the_license_read_permission(
    frozen_today, known_licenses, login_as, reader_without_license
):
    alpha, _beta, _idle = known_licenses
    visitor = login_as(reader_without_license)
    assert visitor.get("/license-stats/").status_code == 403
    assert 'href="/license-stats/"' not in unescaped_html(visitor.get("/customers/list/"))
    page = visitor.get(f"/customers/show/{alpha.id}")
    assert page.status_code == 200
    assert "customer-license-stats" not in unescaped_html(page)
    assert 'data-stat="seats_bought"' not in unescaped_html(page)
    assert "授权统计" not in unescaped_html(page)


def test_statistics_page_refuses_anonymous_visitors(visitor):
    response = visitor.get("/license-stats/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_statistics_page_survives_a_bad_page_number(login_as):
    assert login_as("manager").get("/license-stats/?page=abc").status_code == 200
    assert login_as("manager").get("/license-stats/?page=-4").status_code == 200


# ------------------------------------------------------------------ list: filter and sort


def _serials(response) -> list[str]:
    return re.findall(r"\b([AB]-[A-Z0-9-]+)\b(?=</td>)", response.get_data(as_text=True))


def test_list_filters_by_state(frozen_today, known_licenses, login_as):
    sales = login_as("sales")
    expiring = sales.get("/licenses/list/?_flt_0_state=expiring")
    assert expiring.status_code == 200
    assert sorted(_serials(expiring)) == ["A-EXPIRING", "B-EXPIRING-1", "B-EXPIRING-2"]
    assert sorted(_serials(sales.get("/licenses/list/?_flt_0_state=expired"))) == [
        "A-EXPIRED",
        "B-TRIAL-OVER",
    ]
    assert _serials(sales.get("/licenses/list/?_flt_0_state=trial")) == ["A-TRIAL"]
    assert _serials(sales.get("/licenses/list/?_flt_0_state=pending")) == ["A-PENDING"]
    unknown = sales.get("/licenses/list/?_flt_0_state=nonsense")
    assert unknown.status_code == 200 and _serials(unknown) == []


def test_list_filter_combines_with_customer(frozen_today, known_licenses, login_as):
    _alpha, beta, _idle = known_licenses
    response = login_as("sales").get(
        f"/licenses/list/?_flt_0_customer={beta.id}&_flt_0_state=expired"
    )
    assert _serials(response) == ["B-TRIAL-OVER"]


def test_list_sorts_by_state(frozen_today, known_licenses, login_as):
    sales = login_as("sales")
    ascending = _serials(sales.get("/licenses/list/?_oc_LicenseView=state&_od_LicenseView=asc"))
    # expiring, expired, trial, valid, not yet valid; by end date within a state
    assert ascending == [
        "B-EXPIRING-1",
        "A-EXPIRING",
        "B-EXPIRING-2",
        "A-EXPIRED",
        "B-TRIAL-OVER",
        "A-TRIAL",
        "A-VALID",
        "A-PENDING",
    ]
    descending = _serials(sales.get("/licenses/list/?_oc_LicenseView=state&_od_LicenseView=desc"))
    assert descending == list(reversed(ascending))


def test_list_marks_expiring_licenses(frozen_today, known_licenses, login_as):
    page = login_as("sales").get("/licenses/list/").get_data(as_text=True)
    badges = re.findall(
        r'<span class="label label-(\w+) license-state" data-state="(\w+)">([^<]+)</span>', page
    )
    assert ("warning", "expiring", "即将到期") in badges
    assert ("danger", "expired", "已过期") in badges
    assert sum(1 for badge in badges if badge[1] == "expiring") == 3
    assert "授权状态" in page  # the column heading


def test_search_form_offers_the_state_filter(login_as):
    page = login_as("sales").get("/licenses/list/").get_data(as_text=True)
    match = re.search(
        r"AdminFilters\(\s*'#filter_form',\s*(\{.*?\}),\s*(\{.*?\}),\s*(\{.*?\}),", page, re.S
    )
    labels, fields, filters = (json.loads(group) for group in match.groups())
    assert labels["state"] == "授权状态"
    assert filters["state"] == ["等于"]
    options = re.findall(r'<option[^>]*value="(\w*)"[^>]*>([^<]*)<', fields["state"])
    assert options == [
        ("", "（无）"),
        ("expiring", "即将到期"),
        ("expired", "已过期"),
        ("trial", "试用"),
        ("valid", "有效"),
        ("pending", "未生效"),
    ]
