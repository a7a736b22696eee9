from flask_babel import lazy_gettext as _l

from app.models import Customer

from .base import CrmModelView, audit_fieldset
from .contact import ContactView
from .contract import ContractView
from .feedback import FeedbackView
from .license import LicenseView
from .license_stats import CustomerLicenseStatsMixin
from .product import ProductView
from .reporter import ReporterView


class CustomerView(CustomerLicenseStatsMixin, CrmModelView):
    model = Customer
    noun = _l("Customer")
    route_base = "/customers"

    list_columns = ["code", "name", "category", "status", "importance", "phone"]
    search_columns = ["code", "name", "status", "importance", "category", "phone", "email"]
    order_columns = ["code", "name", "category", "status", "importance"]
    base_order = ("code", "asc")
    add_columns = edit_columns = [
        "code", "name", "category", "status", "importance", "address", "phone", "email",
    ]
    show_fieldsets = [
        (_l("Customer"), {"fields": add_columns}),
        audit_fieldset(),
    ]
    related_views = [
        ContactView, ContractView, ProductView, LicenseView, FeedbackView, ReporterView,
    ]
