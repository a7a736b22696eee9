from flask_babel import lazy_gettext as _l

from app.models import Product

from .base import CrmModelView, audit_fieldset


class ProductView(CrmModelView):
    model = Product
    noun = _l("Product")
    route_base = "/products"

    list_columns = ["name", "version", "customer", "created_date", "authorization_code"]
    search_columns = ["name", "customer", "version", "created_date", "authorization_code"]
    order_columns = ["name", "version", "created_date"]
    base_order = ("created_date", "desc")
    add_columns = edit_columns = [
        "customer",
        "name",
        "version",
        "description",
        "customization",
        "backup_path",
        "manual_path",
        "created_date",
        "authorization_code",
    ]
    show_fieldsets = [(_l("Product"), {"fields": add_columns}), audit_fieldset()]
