"""Phones: at 390 x 844 CSS pixels the top bar folds into its menu button, wide lists
scroll inside their own box (the page itself never scrolls sideways) and forms put
each label above its field.

Screenshots of every page checked land in pytest's tmp_path (see the test's output
for the folder), to look at by eye.
"""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from playwright.sync_api import Page, expect

from factories import make_feedback, make_license, make_product

PHONE = {"width": 390, "height": 844}
PAGE_WIDTH = """() => ({
  page: document.scrollingElement.scrollWidth,
  window: window.innerWidth,
  widest: [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .filter(e => !e.closest(".table-responsive, .crm-scroll"))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className),
})"""


@pytest.fixture
def phone(browser):
    context = browser.new_context(locale="zh-CN", viewport=PHONE, device_scale_factor=1)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def records(app):
    with app.app_context():
        feedback = make_feedback(
            problem="收银机无法打印小票，门店已重启两次仍然无效，请尽快派工程师到场处理"
        )
        make_license(make_product(feedback.customer))  # a row on the home page
        return {"customers": feedback.customer_id, "feedback": feedback.id}


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def assert_no_sideways_scroll(page: Page, shot) -> None:
    width = page.evaluate(PAGE_WIDTH)
    page.screenshot(path=shot, full_page=True)
    assert width["page"] <= width["window"], width


def test_pages_fit_a_phone(live_server, phone, records, tmp_path):
    print(f"screenshots: {tmp_path}")
    phone.goto(f"{live_server}/login/")
    assert_no_sideways_scroll(phone, tmp_path / "login.png")
    sign_in(phone, live_server)

    toggle = phone.locator(".navbar-toggle")
    expect(toggle).to_be_visible()
    expect(phone.locator("#crm-navbar")).to_be_hidden()
    assert_no_sideways_scroll(phone, tmp_path / "home.png")
    toggle.click()
    expect(phone.locator("#crm-navbar.in")).to_be_visible()  # opened, animation over
    expect(phone.locator(".navbar a.dropdown-toggle", has_text="admin user")).to_be_visible()
    expect(phone.locator(".navbar a.dropdown-toggle", has_text="客户管理")).to_be_visible()
    phone.screenshot(path=tmp_path / "menu-open.png")

    for name, url in [
        ("customers-list", "/customers/list/"),
        ("feedback-list", "/feedback/list/"),
        ("licenses-list", "/licenses/list/"),
        ("users-list", "/users/list/"),
        ("customer-show", f"/customers/show/{records['customers']}"),
        ("feedback-show", f"/feedback/show/{records['feedback']}"),
        ("report", "/reports/service/"),
    ]:
        phone.goto(f"{live_server}{url}")
        assert_no_sideways_scroll(phone, tmp_path / f"{name}.png")

    # the list's table is wider than the phone: it scrolls inside its box
    phone.goto(f"{live_server}/customers/list/")
    box = phone.locator(".table-responsive", has=phone.locator("table.table-hover"))
    assert box.evaluate("e => e.scrollWidth > e.clientWidth"), "the table fits: nothing to test"
    assert box.evaluate("e => getComputedStyle(e).overflowX") in ("auto", "scroll")

    # forms: each label sits above its field, both as wide as the form
    for name, url in [
        ("customer-add", "/customers/add"),
        ("feedback-edit", f"/feedback/edit/{records['feedback']}"),
    ]:
        phone.goto(f"{live_server}{url}")
        assert_no_sideways_scroll(phone, tmp_path / f"{name}.png")
    phone.goto(f"{live_server}/customers/add")
    label = phone.locator("label[for=name]").bounding_box()
    field = phone.locator("#name").bounding_box()
    assert field["y"] >= label["y"] + label["height"] - 1, (label, field)
    assert field["width"] >= PHONE["width"] * 0.7, field
