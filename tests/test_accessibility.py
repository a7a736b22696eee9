"""Accessibility in a real browser: axe-core finds no critical or serious WCAG 2.1 A/AA
violation on the pages staff use every day, and a record can be added with the keyboard alone.

axe-core comes inside the axe-playwright-python package (nothing is fetched). The
pages are checked as an admin sees them, with one record in every module so the
lists have rows (and their check boxes) and the show and edit pages exist.
"""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import CrmUser, Customer
from factories import make_contact, make_contract, make_feedback, make_license, make_product

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"critical", "serious"}
MODULES = ["customers", "contacts", "contracts", "products", "licenses", "feedback", "reporters"]


def blocking_violations(page: Page) -> list[str]:
    """axe-core's critical and serious findings on the page, one line per element."""
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = axe_playwright.Axe().run(page, options=options)
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"{violation['id']} ({violation['impact']}): {target}")
    return lines


def settle(page: Page) -> None:
    """Let the DOM-ready scripts finish (select2 boxes drawn and named)."""
    page.evaluate("() => new Promise(done => setTimeout(done, 50))")


def sign_in(page: Page, base: str, username: str = "admin") -> None:
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def one_of_each(app):
    """One record per module, the sales user and its role; returns {module: primary key}."""
    with app.app_context():
        feedback = make_feedback()
        customer = feedback.customer
        license_ = make_license(make_product(customer))
        sales = db.session.scalars(db.select(CrmUser).filter_by(username="sales")).one()
        ids = {
            "customers": customer.id,
            "contacts": make_contact(customer).id,
            "contracts": make_contract(customer).id,
            "products": license_.product_id,
            "licenses": license_.id,
            "feedback": feedback.id,
            "reporters": feedback.reporter_id,
            "users": sales.id,
            "roles": sales.roles[0].id,
        }
        db.session.remove()
    return ids


def admin_pages(ids: dict) -> list[str]:
    pages = ["/"]
    for module in MODULES:
        pages += [
            f"/{module}/list/",
            f"/{module}/add",
            f"/{module}/edit/{ids[module]}",
            f"/{module}/show/{ids[module]}",
        ]
    for module in ("users", "roles"):
        pages += [f"/{module}/list/", f"/{module}/add", f"/{module}/edit/{ids[module]}"]
    # a list searched through FAB's filter rows (select2 condition boxes, value fields)
    pages += ["/customers/list/?_flt_0_code=C&_flt_0_category=retail_chain", "/reports/service/"]
    return pages


def test_sign_in_page_has_no_serious_violation(live_server, page):
    page.goto(f"{live_server}/login/")
    found = blocking_violations(page)
    assert not found, "\n".join(found)


def test_admin_pages_have_no_serious_violation(live_server, page, one_of_each):
    sign_in(page, live_server)
    found = []
    for url in admin_pages(one_of_each):
        response = page.goto(f"{live_server}{url}")
        assert response.status == 200, url
        settle(page)
        found += [f"{url}: {line}" for line in blocking_violations(page)]
    assert not found, "\n".join(found)


def focused(page: Page, selector: str) -> bool:
    return page.locator(selector).first.evaluate("element => element === document.activeElement")


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches ``selector``: it is reachable by keyboard."""
    for _ in range(limit):
        if focused(page, selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab")


def arrow_to(page: Page, selector: str, limit: int = 20) -> None:
    """Move through an open Bootstrap drop-down menu with the down arrow."""
    for _ in range(limit):
        page.keyboard.press("ArrowDown")
        if focused(page, selector):
            return
    raise AssertionError(f"{selector} not reached with the arrow keys")


def test_a_customer_is_added_with_the_keyboard_alone(live_server, page, app):
    page.goto(f"{live_server}/login/")
    tab_to(page, "#username")
    page.keyboard.type("admin")
    tab_to(page, "#password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page).to_have_url(f"{live_server}/")

    # the module through the top menu: its drop-down opens with Enter, arrows move inside
    tab_to(page, ".navbar a.dropdown-toggle:has-text('客户管理')")
    page.keyboard.press("Enter")
    arrow_to(page, '.navbar .dropdown-menu a[href="/customers/list/"]')
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/customers/list/")

    tab_to(page, 'a[href^="/customers/add"]')
    page.keyboard.press("Enter")
    expect(page.locator("h4.panel-title").first).to_have_text("添加客户")

    tab_to(page, "#code")
    page.keyboard.type("KB-0001")
    tab_to(page, "#name")
    page.keyboard.type("键盘录入客户")
    # the category's select2 box: Enter opens it, typing searches, Enter chooses
    tab_to(page, "#category + .select2 .select2-selection")
    page.keyboard.press("Enter")
    expect(page.locator(".select2-container--open .select2-search__field")).to_be_focused()
    page.keyboard.type("商超")
    expect(page.locator(".select2-results__option--highlighted")).to_have_text("商超")
    page.keyboard.press("Enter")
    tab_to(page, "form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    expect(page.locator(".alert-success")).to_contain_text("记录已添加")
    with app.app_context():
        customer = db.session.scalars(db.select(Customer).filter_by(code="KB-0001")).one()
        assert customer.name == "键盘录入客户"
        assert "商超" in str(customer.category)
        db.session.remove()
