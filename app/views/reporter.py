"""Reporter pages: the reporter's feedback history (a tab) and open problems (a panel)."""

from urllib.parse import urlencode

from flask import url_for
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import lazy_gettext as _l

from app.models import Reporter
from app.permissions import FEEDBACK, READ, permission_name
from app.services import feedback as desk

from .base import CrmModelView, audit_fieldset
from .feedback import FeedbackView, due_state, format_due, format_engineer
from .personal_data import PersonalDataMixin


class ReporterOpenFeedbackWidget(RenderTemplateWidget):
    template = "feedback/reporter_open.html"


class ReporterView(PersonalDataMixin, CrmModelView):
    model = Reporter
    noun = _l("Reporter")
    route_base = "/reporters"
    show_template = "feedback/reporter_show.html"

    list_columns = ["name", "customer", "store", "phone", "email"]
    search_columns = ["name", "customer", "store", "phone", "email"]
    order_columns = ["name", "store"]
    base_order = ("id", "desc")
    add_columns = edit_columns = ["customer", "name", "store", "phone", "email", "address"]
    show_fieldsets = [(_l("Reporter"), {"fields": add_columns}), audit_fieldset()]
    related_views = [FeedbackView]

    def _get_show_widget(self, pk, item, *args, **kwargs):
        widgets = super()._get_show_widget(pk, item, *args, **kwargs)
        if self.appbuilder.sm.has_access(permission_name(READ), FEEDBACK):
            now = desk.now()
            list_url = (
                url_for("FeedbackView.list")
                + "?"
                + urlencode(
                    [("_flt_0_reporter", item.id), ("_flt_0_queue", desk.FeedbackQueue.open.name)]
                )
            )
            widgets["open_feedback"] = ReporterOpenFeedbackWidget(
                counts=desk.open_counts_by_level(now, reporter_id=item.id),
                problems=desk.open_problems(item.id),
                list_url=list_url,
                due_of=lambda feedback: due_state(feedback, now),
                format_due=format_due,
                format_engineer=format_engineer,
            )
        return widgets
