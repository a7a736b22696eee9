"""Every page and menu entry, registered in one place."""

from flask_babel import lazy_gettext as _l

from app.api import register_apis

from . import audit, history, importing
from .contact import ContactView
from .contract import ContractView
from .customer import CustomerView
from .dashboard import DashboardIndexView
from .department import DepartmentView
from .feedback import FeedbackView
from .followup import FollowUpView
from .global_search import GlobalSearchView
from .license import LicenseView
from .license_stats import LicenseStatsView
from .payment import PaymentPlanView, PaymentView
from .product import ProductView
from .receivables import ReceivablesReportView
from .reporter import ReporterView
from .reports import ServiceReportView


class IndexView(DashboardIndexView):
    """The home page after sign-in: each role's dashboard (app/views/dashboard.py)."""


# (category, category label, icon, [(view, menu name, label, icon)])
MENU = [
    (
        "Customer management",
        _l("Customer management"),
        "fa-building",
        [
            (CustomerView, "Customers", _l("Customers"), "fa-building"),
            (ContactView, "Contacts", _l("Contacts"), "fa-address-book"),
            (ContractView, "Contracts", _l("Contracts"), "fa-file-contract"),
            (FollowUpView, "Follow-ups", _l("Follow-ups"), "fa-comment-dots"),
        ],
    ),
    (
        "Payments",
        _l("Payments"),
        "fa-yen-sign",
        [
            (PaymentPlanView, "Payment plans", _l("Payment plans"), "fa-calendar-alt"),
            (PaymentView, "Payments received", _l("Payments received"), "fa-money-bill"),
            (
                ReceivablesReportView,
                "Receivables report",
                _l("Receivables report"),
                "fa-file-excel",
            ),
        ],
    ),
    (
        "Products and licenses",
        _l("Products and licenses"),
        "fa-box",
        [
            (ProductView, "Products", _l("Products"), "fa-box"),
            (LicenseView, "Licenses", _l("Licenses"), "fa-key"),
            (LicenseStatsView, "License statistics", _l("License statistics"), "fa-chart-bar"),
        ],
    ),
    (
        "Service and support",
        _l("Service and support"),
        "fa-headset",
        [
            (FeedbackView, "Customer feedback", _l("Customer feedback"), "fa-comments"),
            (ReporterView, "Reporters", _l("Reporters"), "fa-user-tag"),
            (ServiceReportView, "Service report", _l("Service report"), "fa-file-excel"),
        ],
    ),
]


def register_views(appbuilder) -> None:
    for category, category_label, category_icon, items in MENU:
        for view, name, label, icon in items:
            appbuilder.add_view(
                view,
                name,
                label=label,
                icon=icon,
                category=category,
                category_label=category_label,
                category_icon=category_icon,
            )
    register_apis(appbuilder)
    appbuilder.add_view(
        DepartmentView,
        "Departments",
        label=_l("Departments"),
        icon="fa-sitemap",
        category="Security",
    )
    appbuilder.add_link(
        "Customer pool",
        href="/customers/pool/",
        label=_l("Customer pool"),
        icon="fa-water",
        category="Customer management",
    )
    history.register(appbuilder)  # the admin's history page, under Security
    audit.register(appbuilder)  # the security log (安全日志), under Security
    importing.register(appbuilder)  # the .xlsx import pages of four modules
    appbuilder.add_view_no_menu(GlobalSearchView())  # /search/, the top bar's box
    _system_menu_last(appbuilder.menu)


# FAB's menu entries left out: user groups (permissions come from roles only) and
# the raw permission tables, which the role page's grid replaces (an admin may
# still open them by address).
HIDDEN_SECURITY_MENU = (
    "List Groups",
    "Base Permissions",
    "Views/Menus",
    "Permission on Views/Menus",
)


def _system_menu_last(menu) -> None:
    """Administration (FAB's Security category, 系统管理) after the business menus."""
    security = menu.find("Security")
    if security is None:
        return
    items = [item for item in security.childs if item.name not in HIDDEN_SECURITY_MENU]
    while items and items[-1].name == "-":  # no separator left trailing
        items.pop()
    security.childs = items
    menu.menu.remove(security)
    menu.menu.append(security)
