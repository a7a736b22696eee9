from app.models import Reporter

from .base import CrmModelApi


class ReporterApi(CrmModelApi):
    model = Reporter
    resource_name = "reporters"
    add_columns = edit_columns = ["customer", "name", "store", "phone", "email", "address"]
    list_columns = show_columns = [
        "id",
        "customer.code",
        "customer.name",
        "name",
        "store",
        "phone",
        "email",
        "address",
        "created_on",
        "changed_on",
    ]
