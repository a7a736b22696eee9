"""The security log page (安全日志): the admin's read-only list, search, show and export.

Only the admin role holds its permissions (list, show, export); every other
address of the view (add, edit, delete, actions, FAB's old JSON API)
answers 404, for the admin too: the log is written by
``app.services.audit`` alone.
"""

from __future__ import annotations

import json
import re

from flask_appbuilder import ModelView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from app.localisation import VIEW_LABELS, permission_label, view_label
from app.models.audit import AuditEvent
from app.models.choices import DataScope
from app.models.labels import BY_TABLE, COMMON
from app.services import audit
from app.services.display import format_bool, format_datetime
from app.services.querying import PlainInterface

from .export import ExportMixin
from .read_only import ReadOnlyPages

RESOURCE = "SecurityLog"


# The keys ``audit.record`` stores in ``details``, as read on the page and in the export.
DETAIL_LABELS = {
    "field": _l("Field"),
    "record": _l("Record"),
    "roles": _l("Roles"),
    "active": _l("Active"),
    "department": _l("Department"),
    "list": _l("List"),
    "filters": _l("Filters"),
    "rows": _l("Rows"),
    "ids": _l("Record IDs"),
    "created": _l("Added"),
    "updated": _l("Updated"),
    "permissions": _l("Permissions"),
    "permissions_added": _l("Permissions granted"),
    "permissions_removed": _l("Permissions revoked"),
    "data_scope": _l("Data scope"),
    "old": _l("Before"),
    "new": _l("After"),
    "failures": _l("Failed attempts"),
    "minutes": _l("Minutes locked"),
    "bytes": _l("Bytes"),
    "database": _l("Database"),
    "username": _l("User"),
    "days": _l("Days"),
    "deleted": _l("Deleted"),
    "kind": _l("Event"),
    "reason": _l("Reason"),
    "fields": _l("Personal fields cleared"),
    "history_rows": _l("Change history rows"),
    "keys": _l("Keys"),
    "new_key": _l("New key"),
    "retired": _l("Keys retired"),
}


# Kept for the log's readers of the raw rows (and syslog), not worth a column on the page.
UNSHOWN_DETAILS = ("database",)


def _field_label(name: str) -> str:
    """A model field's label from the one label table (``national_id`` -> 身份证号)."""
    for labels in (*BY_TABLE.values(), COMMON):
        if name in labels:
            return str(labels[name])
    return name


def _detail_value(key: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return format_bool(value)
    if key == "field":
        return _field_label(str(value))
    if key == "fields" and not isinstance(value, list):  # a contact's or reporter's
        name = str(value)
        return str({**COMMON, **BY_TABLE["contact"]}.get(name, _field_label(name)))
    if key == "filters" and isinstance(value, dict):
        return _filters_text(value)
    if key in ("old", "new", "data_scope") and value in DataScope.__members__:
        return str(DataScope[value])
    if key.startswith("permissions") and isinstance(value, str):
        permission, _sep, resource = value.partition(" ")
        return f"{permission_label(permission)} {view_label(resource)}"
    if isinstance(value, list):
        return _(", ").join(_detail_value(key, item) for item in value)
    if key == "rows" and isinstance(value, dict):  # personal-data sheets, by msgid
        value = {_(name): count for name, count in value.items()}
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


FILTER_ARG = re.compile(r"_flt_\d+_(\w+)")


def _filters_text(arguments: dict) -> str:
    """A list's query string as ``label = value`` per filter; paging and sorting left out."""
    shown = []
    for name, value in arguments.items():
        match = FILTER_ARG.fullmatch(name)
        if match:
            values = value if isinstance(value, list) else [value]
            if match.group(1) == "kind":
                values = [audit.kind_label(code) for code in values]
            label = DETAIL_LABELS.get(match.group(1)) or _field_label(match.group(1))
            shown.append(f"{label} = {_('、').join(map(str, values))}")
    return _(", ").join(shown)


def details_text(details: str | None) -> str:
    """The stored JSON object as ``label: value; …`` for the list, the page and the export."""
    try:
        data = json.loads(details or "{}")
    except ValueError:
        return details or ""
    if not isinstance(data, dict):
        return str(data)
    return " | ".join(
        f"{DETAIL_LABELS.get(key, key)}: {_detail_value(key, value)}"
        for key, value in sorted(data.items())
        if key not in UNSHOWN_DETAILS
    )


def target_text(target: str | None) -> str:
    """A module's internal name (``Contact``, ``Contact #3``) as its Chinese name; an
    account or file name as it is."""
    if not target:
        return ""
    name, _sep, number = target.partition(" #")
    if name in VIEW_LABELS:
        return f"{view_label(name)} #{number}" if number else view_label(name)
    return target


class AuditView(ReadOnlyPages, ExportMixin, ModelView):
    datamodel = PlainInterface(AuditEvent)
    route_base = "/audit"
    class_permission_name = RESOURCE
    base_permissions = ["can_list", "can_show", "can_export"]
    page_size = 50
    read_only_endpoints = ("list", "show", "export")

    list_title = _l("Security log")
    show_title = _l("Security event")
    list_columns = ["at", "username", "address", "kind", "target", "details"]
    show_columns = list_columns
    search_columns = ["at", "username", "address", "kind", "target", "details"]
    order_columns = ["at", "username", "address", "kind", "target"]
    base_order = ("at", "desc")
    label_columns = {
        "at": _l("Time"),
        "username": _l("User"),
        "address": _l("Address"),
        "kind": _l("Event"),
        "target": _l("Target"),
        "details": _l("Details"),
    }
    formatters_columns = {
        "at": format_datetime,
        "kind": audit.kind_label,
        "username": lambda name: name or str(_l("System (command line)")),
        "details": details_text,
        "target": target_text,
    }
    export_expressions = {
        "kind": lambda: (AuditEvent.kind, audit.kind_label),
        "details": lambda: (AuditEvent.details, details_text),
        "target": lambda: (AuditEvent.target, target_text),
    }
    search_form_extra_fields = {
        "kind": SelectField(
            _l("Event"),
            choices=[(key, label) for key, label in audit.KIND_LABELS.items()],
            widget=Select2Widget(),
            validators=[Optional()],
        ),
    }


def register(appbuilder) -> None:
    appbuilder.add_view(
        AuditView,
        "Security log",
        label=_l("Security log"),
        icon="fa-shield-alt",
        category="Security",
    )
