"""Apply the role table in ``app.permissions`` to the security tables."""

from __future__ import annotations

from flask import current_app

from app.permissions import MENU_LINKS, READ, ROLE_GRANTS, ROLE_SCOPES, permission_name
from app.services.scope import set_scope

# The permissions that open a page: the app's modules use read, FAB's own pages list.
READABLE = (permission_name(READ), "can_list")
# Every signed-in user may see and edit their own profile and password.
SELF_SERVICE = (
    ("can_userinfo", "CrmUserView"),
    ("userinfoedit", "CrmUserView"),
    ("resetmypassword", "CrmUserView"),
    ("can_this_form_get", "UserInfoEditView"),
    ("can_this_form_post", "UserInfoEditView"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    # The OpenAPI description of the REST API (no data in it).
    ("can_get", "OpenApi"),
)


def apply_roles(appbuilder, reset: bool = False) -> dict[str, str]:
    """Create missing roles from the table; leave existing ones alone unless ``reset``.

    The admin may edit a seeded role in the role pages; running ``crm init``
    again keeps those edits. Returns what happened to each role.
    """
    sm = appbuilder.sm
    config = current_app.config
    sm.add_role(config["AUTH_ROLE_ADMIN"])
    sm.add_role(config["AUTH_ROLE_PUBLIC"])
    # Registers every view's and menu's permissions; the admin role gets them all.
    appbuilder.add_permissions(update_perms=True)

    report = {}
    for key, grants in ROLE_GRANTS.items():
        name = config["CRM_ROLE_NAMES"][key]
        role = sm.find_role(name)
        if role is not None and not reset:
            report[name] = "kept"
            if role.data_scope_row is None:  # a database from before data scopes
                set_scope(role, ROLE_SCOPES[key])
                sm.session.commit()
            continue
        wanted = granted_permission_views(appbuilder, grants)
        if role is None:
            role = sm.add_role(name, wanted)
            report[name] = "created"
        else:
            role.permissions = wanted
            report[name] = "reset"
        set_scope(role, ROLE_SCOPES[key])
        sm.session.commit()
    return report


def granted_permission_views(appbuilder, grants: dict[str, tuple[str, ...]]) -> list:
    """The permission-view rows for ``grants``, with the menu entries they need."""
    wanted = [
        (permission_name(action), resource)
        for resource, actions in grants.items()
        for action in actions
    ]
    return _rows(appbuilder.sm, [*wanted, *menu_entries(appbuilder, wanted), *SELF_SERVICE])


def with_menu_entries(appbuilder, rows) -> list:
    """``rows`` (permission-views picked on the role page) without their menu entries,
    plus the menu entries they need: a menu entry follows the read permission."""
    granted = [
        (row.permission.name, row.view_menu.name)
        for row in rows
        if row.permission.name != "menu_access"
    ]
    kept = [row for row in rows if row.permission.name != "menu_access"]
    return kept + _rows(appbuilder.sm, menu_entries(appbuilder, granted))


def menu_entries(appbuilder, granted) -> list[tuple[str, str]]:
    """The ``menu_access`` pairs that ``granted`` (permission, resource) pairs need:
    each menu entry whose view they may read, each link whose action they hold,
    and the categories holding those."""
    granted = set(granted)
    readable = {resource for permission, resource in granted if permission in READABLE}
    links = [
        name
        for name, (resource, action) in MENU_LINKS.items()
        if (permission_name(action), resource) in granted
    ]
    wanted = []
    for category in appbuilder.menu.get_list():
        visible = [
            item.name
            for item in category.childs
            if (item.baseview is not None and item.baseview.class_permission_name in readable)
            or item.name in links
        ]
        if visible:
            wanted.append(("menu_access", category.name))
            wanted.extend(("menu_access", name) for name in visible)
    return wanted


def _rows(sm, pairs) -> list:
    rows = []
    for permission, view_menu in dict.fromkeys(pairs):
        row = sm.find_permission_view_menu(permission, view_menu)
        if row is None:
            raise LookupError(f"permission {permission} on {view_menu} is not registered")
        rows.append(row)
    return rows
