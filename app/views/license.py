from flask_babel import lazy_gettext as _l

from app.models import License

from .base import CrmModelView, audit_fieldset


class LicenseView(CrmModelView):
    model = License
    noun = _l("License")
    route_base = "/licenses"

    list_columns = ["serial", "customer", "product", "seats", "valid_from", "valid_to", "is_trial"]
    search_columns = ["serial", "customer", "product", "seats", "valid_from", "valid_to", "is_trial"]
    order_columns = ["serial", "seats", "valid_from", "valid_to", "is_trial"]
    base_order = ("valid_to", "asc")
    add_columns = edit_columns = [
        "customer", "product", "serial", "seats", "valid_from", "valid_to",
        "is_trial", "machine_info",
    ]
    show_fieldsets = [(_l("License"), {"fields": add_columns}), audit_fieldset()]
