"""Signing in, as a person does it in a real browser: failures, throttling, each role's menu.

Uses the ``live_server`` and ``page`` fixtures (chromium through playwright).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from test_permissions import MENU_LINKS, ROLES, SPEC_GRANTS, allowed

from app.permissions import ADMIN, READ, SERVICE_REPORT
from helpers import PASSWORD, make_user

FAILED = "登录失败：用户名或密码错误，请重新输入。"


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_a_wrong_password_says_so_in_chinese_and_the_user_tries_again(live_server, page):
    sign_in(page, live_server, "sales", "not-the-password")
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.locator(".alert")).to_contain_text(FAILED)
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^zh"))
    expect(page.locator("body")).not_to_contain_text("Invalid login")
    # not signed in: a module page sends the user back to the sign-in page
    page.goto(f"{live_server}/customers/list/")
    expect(page).to_have_url(re.compile(r"/login/"))

    # the form is there to try again, and the right password gets in
    sign_in(page, live_server, "sales", PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/login/"))
    page.goto(f"{live_server}/customers/list/")
    expect(page).to_have_url(f"{live_server}/customers/list/")


def test_an_unknown_login_name_gets_the_same_message(live_server, page):
    """The message does not tell a guesser which login names exist."""
    sign_in(page, live_server, "no-such-user", PASSWORD)
    expect(page.locator(".alert")).to_contain_text(FAILED)


def test_repeated_failures_lock_the_account_with_a_chinese_message(
    app, db_session, live_server, page
):
    make_user(app, username="lockme")
    for _ in range(app.config["CRM_LOGIN_MAX_FAILURES"]):
        sign_in(page, live_server, "lockme", "wrong-password")
        expect(page.locator(".alert")).to_contain_text("登录失败")
    sign_in(page, live_server, "lockme", PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/"))
    minutes = app.config["CRM_LOGIN_LOCK_MINUTES"]
    expect(page.locator(".alert")).to_contain_text(f"登录失败次数过多，请 {minutes} 分钟后再试")


def test_a_deactivated_user_cannot_sign_in(app, db_session, live_server, page):
    make_user(app, username="gone", active=False)
    sign_in(page, live_server, "gone", PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.locator(".alert")).to_contain_text("登录失败")


@pytest.mark.parametrize("role", ROLES)
def test_a_newcomer_of_each_role_sees_only_that_roles_modules(app, live_server, page, role):
    sign_in(page, live_server, role, PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/login/"))
    links = set(
        page.locator(".navbar a[href^='/']").evaluate_all(
            "links => links.map(link => link.getAttribute('href'))"
        )
    )
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    for resource, link in MENU_LINKS.items():
        if link not in routes:
            continue
        if resource == SERVICE_REPORT:
            readable = role == ADMIN or READ in SPEC_GRANTS[role].get(SERVICE_REPORT, ())
        else:
            readable = allowed(role, resource, "list")
        assert (link in links) == readable, f"{role}: {link}"
    assert ("/users/list/" in links) == (role == ADMIN)
    # what is not in the menu is refused by URL too, with the Chinese 403 page
    for link in MENU_LINKS.values():
        if link in routes and link not in links:
            response = page.goto(f"{live_server}{link}")
            assert response.status == 403, link
            expect(page.locator("body")).to_contain_text("无权访问（403）")
            break
