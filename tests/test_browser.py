"""A real browser (Debian's chromium via playwright) against the app served over HTTP.

The ``page`` fixture saves a full-page screenshot in test-artifacts/ when a test fails.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from helpers import PASSWORD

# (menu category, list URL, the list page's heading)
MODULE_PAGES = [
    ("客户管理", "/customers/list/", "客户列表"),
    ("客户管理", "/contacts/list/", "客户联系人列表"),
    ("客户管理", "/contracts/list/", "合同列表"),
    ("产品与授权", "/products/list/", "产品列表"),
    ("产品与授权", "/licenses/list/", "产品授权列表"),
    ("服务支持", "/feedback/list/", "客户反馈列表"),
    ("服务支持", "/reporters/list/", "反馈人员列表"),
]


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def heading(page: Page):
    return page.locator("h4.panel-title").first


def test_admin_opens_every_module_and_adds_a_customer(live_server, page):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server, "admin", PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/login/"))

    for category, url, title in MODULE_PAGES:
        page.locator(".navbar a.dropdown-toggle", has_text=category).click()
        page.locator(f'.navbar .dropdown-menu a[href="{url}"]').click()
        expect(page).to_have_url(f"{live_server}{url}")
        expect(heading(page)).to_have_text(title)

    page.goto(f"{live_server}/customers/list/")
    page.locator('a[href^="/customers/add"]').first.click()
    expect(heading(page)).to_have_text("添加客户")
    page.fill("#code", "BR-0001")
    page.fill("#name", "浏览器测试客户")
    # category through the select2 drop-down, as a user does: open, type, choose
    page.locator("#category + .select2 .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill("商超")
    page.locator(".select2-results__option", has_text="商超").click()
    page.select_option("#importance", "B")
    page.fill("#phone", "13812345678")
    page.fill("#email", "browser@example.com")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()

    expect(page.locator(".alert-success")).to_contain_text("记录已添加")
    page.goto(f"{live_server}/customers/list/?_flt_0_code=BR-0001")
    row = page.locator("table tr", has_text="BR-0001")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("浏览器测试客户")
    expect(row).to_contain_text("商超")
    expect(row).to_contain_text("B 级")
    assert not errors, errors


def test_invalid_customer_form_shows_the_message_in_the_browser(live_server, page):
    sign_in(page, live_server, "admin", PASSWORD)
    page.goto(f"{live_server}/customers/add")
    page.fill("#code", "BR-0002")
    page.fill("#name", "坏电话客户")
    page.fill("#phone", "12345")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(".alert-danger", has_text="电话须为大陆手机号")).to_be_visible()
    expect(page.locator("#code")).to_have_value("BR-0002")
    expect(page.locator("#phone")).to_have_value("12345")


def test_wrong_password_shows_chinese_login_failed(live_server, page):
    sign_in(page, live_server, "admin", "not-the-password")
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.locator(".alert")).to_contain_text("登录失败")
    page.goto(f"{live_server}/customers/list/")
    expect(page).to_have_url(re.compile(r"/login/"))


WATCH_NOTE = """id => {
  window.noteShown = false;
  const note = document.getElementById(id);
  new MutationObserver(() => { if (!note.classList.contains('hidden')) window.noteShown = true; })
    .observe(note, {attributes: true});
}"""


def test_the_report_download_shows_a_progress_note_until_the_file_arrives(live_server, page):
    sign_in(page, live_server, "support", PASSWORD)
    page.goto(f"{live_server}/reports/service/")
    page.fill("#report-from", "2026-01-01")
    page.fill("#report-to", "2026-12-31")
    page.evaluate(WATCH_NOTE, "report-progress")
    with page.expect_download() as download:
        page.locator("#service-report-form button[type=submit]").click()
    assert download.value.suggested_filename == "服务报表_2026-01-01_2026-12-31.xlsx"
    assert page.evaluate("window.noteShown")  # shown while the workbook was made …
    expect(page.locator("#report-progress")).to_be_hidden()  # … and gone once it came
    expect(page.locator("#service-report-form button[type=submit]")).to_be_enabled()
    expect(page.locator("#report-progress")).to_contain_text("正在生成报表")


def test_a_list_export_shows_a_progress_note_until_the_file_arrives(live_server, page):
    sign_in(page, live_server, "admin", PASSWORD)
    page.goto(f"{live_server}/customers/list/")
    page.evaluate(WATCH_NOTE, "export-progress")
    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    assert download.value.suggested_filename.startswith("客户列表_")
    assert page.evaluate("window.noteShown")
    expect(page.locator("#export-progress")).to_be_hidden()
