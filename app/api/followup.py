from app.models import FollowUp

from .base import CrmModelApi


class FollowUpApi(CrmModelApi):
    """跟进人 (user) is read-only: the model sets it to whoever posts the record."""

    model = FollowUp
    resource_name = "followups"
    add_columns = edit_columns = [
        "customer",
        "contact",
        "method",
        "content",
        "followed_at",
        "next_at",
        "next_step",
    ]
    list_columns = show_columns = [
        "id",
        "customer.code",
        "customer.name",
        "contact.name",
        "method",
        "content",
        "followed_at",
        "next_at",
        "next_step",
        "user.username",
        "user.first_name",
        "created_on",
        "changed_on",
    ]
