from app.models import Contact

from .base import CrmModelApi


class ContactApi(CrmModelApi):
    model = Contact
    resource_name = "contacts"
    add_columns = edit_columns = [
        "customer",
        "name",
        "position",
        "birth_date",
        "national_id",
        "phone",
        "email",
        "address",
        "status",
    ]
    list_columns = show_columns = [
        "id",
        "customer.code",
        "customer.name",
        "name",
        "position",
        "birth_date",
        "national_id",
        "phone",
        "email",
        "address",
        "status",
        "created_on",
        "changed_on",
    ]
