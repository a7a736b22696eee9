from app.models import Customer
from app.services.pool import OwnerOnCreate

from .base import CrmModelApi

EDITABLE = ["code", "name", "category", "status", "importance", "address", "phone", "email"]


class CustomerApi(OwnerOnCreate, CrmModelApi):
    model = Customer
    resource_name = "customers"
    # The owner is chosen when the customer is added; it changes by claim, release
    # and transfer (the pages), which record why.
    add_columns = [*EDITABLE, "owner"]
    edit_columns = EDITABLE
    list_columns = show_columns = [
        "id",
        "code",
        "name",
        "category",
        "status",
        "importance",
        "address",
        "phone",
        "email",
        "owner_id",
        "owner.first_name",
        "created_on",
        "changed_on",
    ]
