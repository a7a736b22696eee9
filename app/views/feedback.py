from flask import abort, g
from flask_babel import lazy_gettext as _l

from app.models import Feedback
from app.services.record_rules import RecordForbidden, check_feedback_editable

from .base import CrmModelView, audit_fieldset


class FeedbackView(CrmModelView):
    model = Feedback
    noun = _l("Feedback")
    route_base = "/feedback"

    list_columns = [
        "id", "problem", "customer", "level", "status", "engineer", "created_at", "city", "store",
    ]
    search_columns = [
        "problem", "customer", "reporter", "product", "status", "level", "engineer",
        "city", "store", "created_at", "resolved_at",
    ]
    order_columns = ["id", "level", "status", "created_at", "city", "store"]
    base_order = ("created_at", "desc")
    add_columns = edit_columns = [
        "customer", "reporter", "product", "problem", "details", "level", "status",
        "engineer", "created_at", "resolved_at", "cause", "city", "store",
    ]
    show_fieldsets = [(_l("Feedback"), {"fields": add_columns}), audit_fieldset()]

    def _edit(self, pk):
        """An engineer edits only the feedback assigned to them (app.services.record_rules)."""
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None:
            try:
                check_feedback_editable(g.user, item)
            except RecordForbidden as refusal:
                abort(403, description=str(refusal))
        return super()._edit(pk)
