from flask import g

from app.models import Feedback
from app.services import feedback as desk
from app.services.record_rules import RecordForbidden, check_feedback_editable

from .base import CrmModelApi


class FeedbackApi(desk.LifeCycleHooks, CrmModelApi):
    model = Feedback
    resource_name = "feedback"
    add_columns = edit_columns = [
        "customer",
        "reporter",
        "product",
        "problem",
        "details",
        "level",
        "status",
        "engineer",
        "created_at",
        "resolved_at",
        "cause",
        "city",
        "store",
    ]
    list_columns = show_columns = [
        "id",
        "customer.code",
        "customer.name",
        "reporter.name",
        "product.name",
        "problem",
        "details",
        "level",
        "status",
        "engineer.first_name",
        "created_at",
        "resolved_at",
        "cause",
        "city",
        "store",
        "created_on",
        "changed_on",
    ]

    def put_headless(self, pk):
        """An engineer changes only the feedback assigned to them, judged on the stored row."""
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None:
            try:
                check_feedback_editable(g.user, item)
            except RecordForbidden as refusal:
                return self.response(403, message=str(refusal))
        return super().put_headless(pk)
