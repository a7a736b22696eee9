from app.models import Contract

from .base import CrmModelApi


class ContractApi(CrmModelApi):
    model = Contract
    resource_name = "contracts"
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
    list_columns = show_columns = [
        "id",
        "customer.code",
        "customer.name",
        "number",
        "sign_date",
        "end_date",
        "payment_date",
        "amount",
        "party_a",
        "party_b",
        "created_on",
        "changed_on",
    ]
