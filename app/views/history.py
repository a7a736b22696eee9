"""The change history pages: the admin's read-only list, and a tab on every show page.

The list lives in the Security (系统管理) menu under its own resource; only the
admin role holds its two permissions (list, show). Every other address of
the view (add, edit, delete, actions, FAB's old JSON API) answers 404, for
the admin too: history is written by ``app.services.history`` alone.

The tab on a record's show page comes from the ``crm_record_history``
template global, which ``appbuilder/general/model/show.html`` calls.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, current_app, request, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from jinja2 import Undefined
from wtforms import SelectField
from wtforms.validators import Optional

from app.models.history import ChangeAction, ChangeRecord
from app.services import history
from app.services.display import format_datetime
from app.services.querying import PlainInterface

from .fields import EnumSelectField
from .links import rendering_view
from .read_only import ReadOnlyPages

RESOURCE = "ChangeHistory"
RECENT_ON_SHOW_PAGE = 50


class HistoryView(ReadOnlyPages, ModelView):
    datamodel = PlainInterface(ChangeRecord)
    route_base = "/history"
    class_permission_name = RESOURCE
    base_permissions = ["can_list", "can_show"]
    page_size = 50

    list_title = _l("Change history")
    show_title = _l("Change")
    show_template = "history/show.html"
    list_columns = ["changed_at", "username", "action", "model", "row_id", "record", "remote_addr"]
    show_columns = list_columns
    search_columns = [
        "changed_at",
        "username",
        "model",
        "row_id",
        "action",
        "record",
        "remote_addr",
    ]
    order_columns = ["changed_at", "username", "model", "row_id", "action"]
    base_order = ("changed_at", "desc")
    label_columns = {
        "changed_at": _l("Time"),
        "username": _l("User"),
        "action": _l("Operation"),
        "model": _l("Module"),
        "row_id": _l("Record ID"),
        "record": _l("Record"),
        "remote_addr": _l("Address"),
    }
    formatters_columns = {
        "changed_at": format_datetime,
        "model": history.model_label,
        "username": lambda name: name or str(_l("System (command line)")),
    }
    search_form_extra_fields = {
        "model": SelectField(
            _l("Module"),
            choices=[(key, label) for key, label in history.MODEL_LABELS.items()],
            widget=Select2Widget(),
            validators=[Optional()],
        ),
        "action": EnumSelectField(ChangeAction, _l("Operation")),
    }

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        widgets = self._get_show_widget(pk, item)
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=widgets,
            related_views=[],
            item=item,
            changes=history.describe(item),
            record_url=_record_url(item),
        )


def _record_url(record: ChangeRecord) -> str | None:
    """The show page of the record a history row is about, while it exists."""
    if record.action == ChangeAction.delete:
        return None
    model = history.model_of(record.model)
    for view in current_app.appbuilder.baseviews:
        if getattr(getattr(view, "datamodel", None), "obj", None) is model and hasattr(
            view, "show"
        ):
            try:
                return url_for(f"{view.endpoint}.show", pk=record.row_id)
            except Exception:  # noqa: BLE001 - a view without a show page: no link
                return None
    return None


def history_list_url(model_key: str, row_id: int) -> str:
    """The history page filtered to one record (FAB filters: text "equal" is index 3)."""
    query = urlencode({"_flt_3_model": model_key, "_flt_0_row_id": row_id})
    return f"{url_for('HistoryView.list')}?{query}"


class RecordHistory:
    """What the show page's History tab shows."""

    def __init__(self, model_key: str, row_id: int):
        self.rows, self.total = history.records_of(model_key, row_id, RECENT_ON_SHOW_PAGE)
        self.model_key = model_key
        self.row_id = row_id

    def changes(self, record: ChangeRecord):
        return history.describe(record, masked=True)

    def who(self, record: ChangeRecord) -> str:
        return history.acting_label(record)

    def when(self, record: ChangeRecord) -> str:
        return format_datetime(record.changed_at)

    @property
    def list_url(self) -> str | None:
        if current_app.appbuilder.sm.has_access("can_list", RESOURCE):
            return history_list_url(self.model_key, self.row_id)
        return None


def record_history(pk=None):
    """The History tab of the show page being rendered, or None (no such page, not tracked)."""
    if pk is None or isinstance(pk, Undefined) or not request.blueprint:
        return None
    try:
        row_id = int(pk)
    except (TypeError, ValueError):
        return None
    view = rendering_view()
    key = history.current_app_tracks(view) if view is not None else None
    return RecordHistory(key, row_id) if key else None


def register(appbuilder) -> None:
    """The admin's history page under Security, and the show pages' template global."""
    appbuilder.add_view(
        HistoryView,
        "Change history",
        label=_l("Change history"),
        icon="fa-history",
        category="Security",
    )
    current_app.jinja_env.globals["crm_record_history"] = record_history
