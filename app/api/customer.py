from app.models import Customer

from .base import CrmModelApi


class CustomerApi(CrmModelApi):
    model = Customer
    resource_name = "customers"
    add_columns = edit_columns = [
        "code",
        "name",
        "category",
        "status",
        "importance",
        "address",
        "phone",
        "email",
    ]
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
        "created_on",
        "changed_on",
    ]
