from flask_babel import lazy_gettext as _l

from app.models import Contract

from .base import CrmModelView, audit_fieldset


class ContractView(CrmModelView):
    model = Contract
    noun = _l("Contract")
    route_base = "/contracts"

    list_columns = ["number", "customer", "sign_date", "end_date", "payment_date", "amount"]
    search_columns = [
        "number",
        "customer",
        "sign_date",
        "end_date",
        "payment_date",
        "amount",
        "party_a",
        "party_b",
    ]
    order_columns = ["number", "sign_date", "end_date", "payment_date", "amount"]
    base_order = ("sign_date", "desc")
    add_columns = edit_columns = [
        "customer",
        "number",
        "sign_date",
        "end_date",
        "payment_date",
        "amount",
        "party_a",
        "party_b",
    ]
    show_fieldsets = [(_l("Contract"), {"fields": add_columns}), audit_fieldset()]
