"""The security log page (安全日志): the admin's read-only list, search, show and export.

Only the admin role holds its permissions (list, show, export); every other
address of the view (add, edit, delete, actions, FAB's old JSON API)
answers 404, for the admin too: the log is written by
``app.services.audit`` alone.
"""

from __future__ import annotations

import json

from flask import abort, request
from flask_appbuilder import ModelView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from app.models.audit import AuditEvent
from app.services import audit
from app.services.display import format_datetime
from app.services.querying import clamp_paging, refuse_bad_paging

from .export import ExportMixin

RESOURCE = "SecurityLog"
READ_ONLY_ENDPOINTS = ("list", "show", "export")


def details_text(details: str | None) -> str:
    """The stored JSON object as ``key: value; …`` for the list, the page and the export."""
    try:
        data = json.loads(details or "{}")
    except ValueError:
        return details or ""
    if not isinstance(data, dict):
        return str(data)
    return "; ".join(
        f"{key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value}"
        for key, value in sorted(data.items())
    )


class AuditView(ExportMixin, ModelView):
    datamodel = SQLAInterface(AuditEvent)
    route_base = "/audit"
    class_permission_name = RESOURCE
    base_permissions = ["can_list", "can_show", "can_export"]
    page_size = 50

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
    }
    export_expressions = {
        "kind": lambda: (AuditEvent.kind, audit.kind_label),
        "details": lambda: (AuditEvent.details, details_text),
    }
    search_form_extra_fields = {
        "kind": SelectField(
            _l("Event"),
            choices=[(key, label) for key, label in audit.KIND_LABELS.items()],
            widget=Select2Widget(),
            validators=[Optional()],
        ),
    }

    def create_blueprint(self, appbuilder, *args, **kwargs):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.before_request(self._only_reading)
        blueprint.before_request(refuse_bad_paging)
        return blueprint

    def _get_list_widget(
        self,
        filters,
        actions=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        **kwargs,
    ):
        page, page_size = clamp_paging(page, page_size, self.page_size)
        if order_column not in self.order_columns or order_direction not in ("asc", "desc"):
            order_column, order_direction = "", ""
        return super()._get_list_widget(
            filters,
            actions=actions,
            order_column=order_column,
            order_direction=order_direction,
            page=page,
            page_size=page_size,
            **kwargs,
        )

    def _only_reading(self):
        """No address but list, show and export exists, whatever the role or method."""
        endpoint = (request.endpoint or "").rpartition(".")[2]
        if endpoint not in READ_ONLY_ENDPOINTS or request.method not in ("GET", "HEAD"):
            abort(404)
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:  # PostgreSQL refuses NUL in text
                abort(400, description=_("The search contains a character that is not allowed."))


def register(appbuilder) -> None:
    appbuilder.add_view(
        AuditView,
        "Security log",
        label=_l("Security log"),
        icon="fa-shield-alt",
        category="Security",
    )
