"""The role page's permissions as one grid: modules down, actions across.

FAB edits a role's permissions as a cloud of about 160 tags, where granting
查看：客户信息 without 菜单入口：客户信息 leaves the module unreachable. Here the
same ``permissions`` form field is drawn as check boxes: the business modules
(``MATRIX_RESOURCES`` of the one role table) as a grid, every other permission
in a list below. Menu entries are not offered: they follow 查看 when the role
is saved (``app.services.roles.with_menu_entries``).
"""

from __future__ import annotations

from flask import render_template
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.security.sqla.models import PermissionView
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from app.extensions import db
from app.localisation import permission_label, view_label
from app.permissions import MATRIX_RESOURCES, permission_name, resource_actions

MENU_ACCESS = "menu_access"


def matrix_columns() -> list[str]:
    """The grid's action columns: every action of a module, in the table's order."""
    columns: list[str] = []
    for resource in MATRIX_RESOURCES:
        for action in resource_actions(resource):
            if permission_name(action) not in columns:
                columns.append(permission_name(action))
    return columns


class PermissionMatrixWidget:
    """Draws a ``QuerySelectMultipleField`` of permission-views as the grid."""

    def __call__(self, field, **kwargs):
        chosen = {row.id for row in field.data or ()}
        cells: dict[tuple[str, str], PermissionView] = {}
        others: dict[str, list[PermissionView]] = {}
        for _pk, row in field._get_object_list():
            permission, resource = row.permission.name, row.view_menu.name
            if permission == MENU_ACCESS:
                continue
            if resource in MATRIX_RESOURCES:
                cells[(resource, permission)] = row
            else:
                others.setdefault(resource, []).append(row)
        columns = matrix_columns()
        return Markup(
            render_template(
                "crm/role_matrix.html",
                field=field,
                chosen=chosen,
                columns=[(name, permission_label(name)) for name in columns],
                rows=[
                    (view_label(resource), [cells.get((resource, name)) for name in columns])
                    for resource in MATRIX_RESOURCES
                ],
                others=sorted(
                    (
                        (
                            view_label(resource),
                            [(row, permission_label(row.permission.name)) for row in rows],
                        )
                        for resource, rows in others.items()
                    ),
                    key=lambda group: group[0],
                ),
            )
        )


def _permission_views():
    return (
        db.session.query(PermissionView)
        .join(PermissionView.permission)
        .join(PermissionView.view_menu)
        .all()
    )


def permissions_field() -> QuerySelectMultipleField:
    return QuerySelectMultipleField(
        _l("Permissions"),
        query_func=_permission_views,
        get_pk_func=lambda row: row.id,
        widget=PermissionMatrixWidget(),
    )
