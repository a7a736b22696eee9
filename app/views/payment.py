from flask_babel import lazy_gettext as _l

from app.models import Payment, PaymentPlan

from .base import CrmModelView, audit_fieldset


class PaymentPlanView(CrmModelView):
    """A contract's instalments (回款计划); the money rules: app/services/payments.py."""

    model = PaymentPlan
    noun = _l("Payment plan")
    route_base = "/payment-plans"

    list_columns = ["contract", "customer", "instalment", "planned_date", "planned_amount"]
    search_columns = ["contract", "customer", "instalment", "planned_date", "planned_amount"]
    order_columns = ["instalment", "planned_date", "planned_amount"]
    base_order = ("planned_date", "desc")
    add_columns = edit_columns = ["contract", "instalment", "planned_date", "planned_amount"]
    show_fieldsets = [
        (_l("Payment plan"), {"fields": ["customer", *add_columns]}),
        audit_fieldset(),
    ]


class PaymentView(CrmModelView):
    """Payments received (回款记录); who records one is its 经办人."""

    model = Payment
    noun = _l("Payment")
    route_base = "/payments"

    list_columns = ["contract", "customer", "paid_on", "amount", "method", "invoice_number"]
    search_columns = [
        "contract",
        "customer",
        "plan",
        "paid_on",
        "amount",
        "method",
        "invoice_number",
    ]
    order_columns = ["paid_on", "amount", "method", "invoice_number"]
    base_order = ("paid_on", "desc")
    add_columns = edit_columns = [
        "contract",
        "plan",
        "paid_on",
        "amount",
        "method",
        "invoice_number",
    ]
    show_fieldsets = [
        (_l("Payment"), {"fields": ["customer", *add_columns, "recorded_by"]}),
        audit_fieldset(),
    ]
