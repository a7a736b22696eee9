"""Permission and menu look-ups: a constant number of SQL statements per request.

Stock Flask-AppBuilder asks the database once per access check, and a page
checks every menu entry it may show (the navbar) besides the view itself:
adding menu entries made every page slower. ``CrmSecurityManager`` reads the
user's (permission, view) pairs once per request.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from flask import render_template
from flask_appbuilder.security.sqla.manager import SecurityManager
from markupsafe import Markup

from app.extensions import db
from app.permissions import CUSTOMER, READ, SALES, permission_name
from helpers import counting_statements

EXTRA_MENU = "Perf test category"
PAGES = ["/customers/list/", "/contacts/list/", "/customers/add"]


def _permission_statements(statements) -> list[str]:
    return [s for s in statements if "ab_permission" in s]


def _statements(app, client, url, **kwargs) -> list[str]:
    client.get(url, **kwargs)  # warm caches (translations, templates) out of the count
    with counting_statements(app) as statements:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return list(statements)


@contextmanager
def extra_menu_entries(app, number: int, role_names):
    """``number`` more menu links, visible to ``role_names``; all removed afterwards."""
    appbuilder = app.appbuilder
    sm = appbuilder.sm
    names = [EXTRA_MENU] + [f"Perf entry {n}" for n in range(number)]
    with app.app_context():
        for name in names[1:]:
            appbuilder.menu.add_link(name, href="/customers/list/", category=EXTRA_MENU)
        roles = [sm.find_role(role) for role in role_names]
        for name in names:
            view = sm.add_permission_view_menu("menu_access", name)
            for role in roles:
                sm.add_permission_role(role, view)
        db.session.remove()
    try:
        yield names
    finally:
        with app.app_context():
            appbuilder.menu.menu[:] = [
                item for item in appbuilder.menu.menu if item.name != EXTRA_MENU
            ]
            roles = [sm.find_role(role) for role in role_names]
            for name in names:
                view = sm.find_permission_view_menu("menu_access", name)
                for role in roles:  # FAB keeps a permission a role still holds
                    sm.del_permission_role(role, view)
                sm.del_permission_view_menu("menu_access", name, cascade=True)
                sm.del_view_menu(name)
            db.session.remove()


def _role_names(app, *keys):
    names = app.config["CRM_ROLE_NAMES"]
    return [names[key] for key in keys]


@pytest.mark.parametrize("username", ["admin", "sales"])
@pytest.mark.parametrize("url", PAGES)
def test_pages_cost_the_same_with_more_menu_entries(app, login_as, username, url):
    visitor = login_as(username)
    before = _statements(app, visitor, url)
    with extra_menu_entries(app, 30, _role_names(app, "admin", "sales")):
        page = visitor.get(url).get_data(as_text=True)
        assert "Perf entry 29" in page  # the entries are there and visible
        after = _statements(app, visitor, url)
    assert len(after) == len(before), f"{url}: {len(before)} statements, then {len(after)}"
    assert len(_permission_statements(after)) == 1


def test_the_count_sees_one_query_per_check(app, login_as, monkeypatch):
    """With FAB's own check back, and the menu rendered for every page as FAB does,
    30 more menu entries cost 30 more queries: it can fail."""
    monkeypatch.setattr(
        "app.security.CrmSecurityManager._has_view_access", SecurityManager._has_view_access
    )
    monkeypatch.setitem(
        app.jinja_env.globals,
        "crm_menu",
        lambda: Markup(render_template("appbuilder/navbar_menu.html", menu=app.appbuilder.menu)),
    )
    visitor = login_as("sales")
    before = _statements(app, visitor, "/customers/list/")
    with extra_menu_entries(app, 30, _role_names(app, "sales")):
        after = _statements(app, visitor, "/customers/list/")
    assert len(after) >= len(before) + 30


def test_a_visitor_not_signed_in_costs_one_permission_query(app, visitor):
    statements = _statements(app, visitor, "/login/")
    assert len(_permission_statements(statements)) <= 1
    assert visitor.get("/customers/list/").status_code == 302  # to the sign-in page


def test_the_rest_api_costs_one_or_two_permission_queries(app, jwt_headers):
    client = app.test_client()
    headers = jwt_headers("sales")
    statements = _statements(app, client, "/api/v1/customers/", headers=headers)
    assert len(_permission_statements(statements)) <= 2  # the public role's, the user's
    assert client.get("/api/v1/feedback/", headers=headers).status_code == 403


def test_a_role_change_takes_effect_on_the_next_request(app, login_as):
    sales = login_as("sales")
    assert sales.get("/customers/list/").status_code == 200
    sm = app.appbuilder.sm
    # reading customers, and its menu entry (the role page takes both away together)
    pairs = [(permission_name(READ), CUSTOMER), ("menu_access", "Customers")]
    with app.app_context():
        role = sm.find_role(_role_names(app, SALES)[0])
        for pair in pairs:
            sm.del_permission_role(role, sm.find_permission_view_menu(*pair))
        db.session.remove()
    try:
        assert sales.get("/customers/list/").status_code == 403
        # the menu, rendered once per set of grants (app/views/menu.py), follows too
        page = sales.get("/contacts/list/").get_data(as_text=True)
        assert 'href="/contacts/list/"' in page and 'href="/customers/list/"' not in page
    finally:
        with app.app_context():
            role = sm.find_role(role.name)
            for pair in pairs:
                sm.add_permission_role(role, sm.find_permission_view_menu(*pair))
            db.session.remove()
    assert sales.get("/customers/list/").status_code == 200
    assert 'href="/customers/list/"' in sales.get("/contacts/list/").get_data(as_text=True)


def test_the_menu_shows_what_the_role_may_open(app, login_as):
    """The cached answers are FAB's: sales sees its modules' entries and not the others."""
    page = login_as("sales").get("/customers/list/").get_data(as_text=True)
    assert 'href="/contracts/list/"' in page and 'href="/products/list/"' in page
    assert 'href="/feedback/list/"' not in page and 'href="/users/list/"' not in page
    admin_page = login_as("admin").get("/customers/list/").get_data(as_text=True)
    assert 'href="/feedback/list/"' in admin_page and 'href="/users/list/"' in admin_page
