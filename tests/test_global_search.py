"""The global search page /search/: grouped links, only modules the reader may read."""

from __future__ import annotations

import re

import pytest

from tests.factories import (
    make_contact,
    make_contract,
    make_customer,
    make_feedback,
    make_license,
    make_reporter,
)

GROUPS = ("customers", "contacts", "contracts", "licenses", "feedback", "reporters")


def _groups(page: str) -> set[str]:
    return set(re.findall(r'id="global-search-(\w+)"', page)) - {
        "page",
        "empty",
        "box",
        "q",
    }  # the top bar's search box


@pytest.fixture
def records(db_session):
    customer = make_customer(code="C778800", name="上海华联超市有限公司", phone="021-55558000")
    return {
        "customer": customer,
        "contact": make_contact(customer, name="华联张经理", phone="13900008000"),
        "contract": make_contract(customer, number="HT-华联-2026"),
        "license": make_license(serial="LIC-HUALIAN-8000"),
        "reporter": make_reporter(customer, name="华联店长", phone="13700008000"),
        "feedback": make_feedback(problem="华联门店收银机无法打印小票"),
    }


def test_an_admin_finds_every_module_with_links_to_show_pages(admin, records):
    response = admin.get("/search/?q=8000")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _groups(page) >= {"customers", "contacts", "licenses", "reporters"}
    assert f'href="/customers/show/{records["customer"].id}"' in page
    assert f'href="/contacts/show/{records["contact"].id}"' in page
    assert f'href="/reporters/show/{records["reporter"].id}"' in page


def test_chinese_terms_find_names_numbers_and_problems(admin, records):
    page = admin.get("/search/?q=华联").get_data(as_text=True)
    assert _groups(page) == {"customers", "contacts", "contracts", "feedback", "reporters"}
    assert "客户信息" in page and "客户反馈" in page  # the groups' Chinese titles
    assert f'href="/feedback/show/{records["feedback"].id}"' in page
    number = admin.get(f"/search/?q=%23{records['feedback'].id}").get_data(as_text=True)
    assert f'href="/feedback/show/{records["feedback"].id}"' in number
    code = admin.get("/search/?q=C7788").get_data(as_text=True)
    assert f'href="/customers/show/{records["customer"].id}"' in code


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("sales", {"customers", "contacts", "contracts", "licenses"}),
        ("support", {"customers", "contacts", "licenses", "feedback", "reporters"}),
        ("engineer", {"licenses", "feedback"}),
        ("manager", set(GROUPS)),
    ],
)
def test_each_role_sees_only_the_modules_it_may_read(login_as, records, username, expected):
    visitor = login_as(username)
    page = visitor.get("/search/?q=8000").get_data(as_text=True)
    page += visitor.get("/search/?q=华联").get_data(as_text=True)
    assert _groups(page) == expected


def test_at_most_ten_a_group(admin, db_session):
    customer = make_customer(name="华联总部")
    for n in range(12):
        make_contact(customer, name=f"华联员工{n}")
    page = admin.get("/search/?q=华联员工").get_data(as_text=True)
    assert page.count('href="/contacts/show/') == 10
    assert "前 10 条" in page


def test_nothing_found_and_an_empty_box(admin, db_session):
    page = admin.get("/search/?q=没有这个客户").get_data(as_text=True)
    assert "未找到" in page and not _groups(page)
    assert admin.get("/search/").status_code == 200
    assert admin.get("/search/?q=%00%25_").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(visitor):
    response = visitor.get("/search/?q=华联")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
