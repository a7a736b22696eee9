from flask_babel import lazy_gettext as _l

from app.models import Payment, PaymentPlan
from app.models.labels import page_titles

from .base import CrmModelApi


class PaymentPlanApi(CrmModelApi):
    model = PaymentPlan
    resource_name = "payment-plans"
    locals().update(page_titles(_l("Payment plan")))  # the pages' titles, not "PaymentPlan"
    add_columns = edit_columns = ["contract", "instalment", "planned_date", "planned_amount"]
    list_columns = show_columns = [
        "id",
        "contract.number",
        "customer.code",
        "customer.name",
        "instalment",
        "planned_date",
        "planned_amount",
        "created_on",
        "changed_on",
    ]


class PaymentApi(CrmModelApi):
    model = Payment
    resource_name = "payments"
    add_columns = edit_columns = [
        "contract",
        "plan",
        "paid_on",
        "amount",
        "method",
        "invoice_number",
    ]
    list_columns = show_columns = [
        "id",
        "contract.number",
        "customer.code",
        "customer.name",
        "plan.instalment",
        "paid_on",
        "amount",
        "method",
        "invoice_number",
        "recorded_by.username",
        "created_on",
        "changed_on",
    ]
