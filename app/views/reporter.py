from flask_babel import lazy_gettext as _l

from app.models import Reporter

from .base import CrmModelView, audit_fieldset


class ReporterView(CrmModelView):
    model = Reporter
    noun = _l("Reporter")
    route_base = "/reporters"

    list_columns = ["name", "customer", "store", "phone", "email"]
    search_columns = ["name", "customer", "store", "phone", "email"]
    order_columns = ["name", "store"]
    base_order = ("id", "desc")
    add_columns = edit_columns = ["customer", "name", "store", "phone", "email", "address"]
    show_fieldsets = [(_l("Reporter"), {"fields": add_columns}), audit_fieldset()]
