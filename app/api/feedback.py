from app.models import Feedback

from .base import CrmModelApi


class FeedbackApi(CrmModelApi):
    model = Feedback
    resource_name = "feedback"
    add_columns = edit_columns = ["customer", "reporter", "product", "problem", "details", "level", "status", "engineer", "created_at", "resolved_at", "cause", "city", "store"]
    list_columns = show_columns = ["id", "customer.code", "customer.name", "reporter.name", "product.name", "problem", "details", "level", "status", "engineer.first_name", "created_at", "resolved_at", "cause", "city", "store", "created_on", "changed_on"]
