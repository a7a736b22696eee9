from urllib.parse import urlencode

from flask import url_for
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import lazy_gettext as _l

from app.models import Customer
from app.permissions import FEEDBACK, READ, permission_name
from app.services import feedback as desk

from .base import CrmModelView, audit_fieldset
from .contact import ContactView
from .contract import ContractView
from .feedback import FeedbackView
from .license import LicenseView
from .license_stats import CustomerLicenseStatsMixin
from .product import ProductView
from .reporter import ReporterView


class OpenFeedbackCountsWidget(RenderTemplateWidget):
    template = "feedback/open_counts.html"


class CustomerView(CustomerLicenseStatsMixin, CrmModelView):
    model = Customer
    noun = _l("Customer")
    route_base = "/customers"

    list_columns = ["code", "name", "category", "status", "importance", "phone"]
    search_columns = ["code", "name", "status", "importance", "category", "phone", "email"]
    order_columns = ["code", "name", "category", "status", "importance"]
    base_order = ("code", "asc")
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
    show_fieldsets = [
        (_l("Customer"), {"fields": add_columns}),
        audit_fieldset(),
    ]
    related_views = [
        ContactView,
        ContractView,
        ProductView,
        LicenseView,
        FeedbackView,
        ReporterView,
    ]

    def _get_show_widget(self, pk, item, *args, **kwargs):
        """Plus the customer's open feedback by level, for those who read feedback."""
        widgets = super()._get_show_widget(pk, item, *args, **kwargs)
        if self.appbuilder.sm.has_access(permission_name(READ), FEEDBACK):
            widgets["feedback_counts"] = OpenFeedbackCountsWidget(
                counts=desk.open_counts_by_level(desk.now(), customer_id=item.id),
                list_url=url_for("FeedbackView.list")
                + "?"
                + urlencode(
                    [("_flt_0_customer", item.id), ("_flt_0_queue", desk.FeedbackQueue.open.name)]
                ),
            )
        return widgets
