from decimal import Decimal, InvalidOperation

from flask_appbuilder.models.sqla.filters import SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.models import Contract

from .base import CrmModelView, audit_fieldset


def _as_decimal(value):
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _decimal_filter(fab_filter):
    """``fab_filter`` comparing a NUMERIC column with a Decimal, not the typed text.

    FAB converts what is typed into a filter for integer, float and date columns
    but not for NUMERIC ones: PostgreSQL then refuses ``numeric > varchar`` (a 500).
    Text that is not a number leaves the list unfiltered, as FAB does for integers.
    """

    class DecimalFilter(fab_filter):
        def apply(self, query, value):
            if isinstance(value, (list, tuple)):
                numbers = [_as_decimal(item) for item in value]
                return query if None in numbers else super().apply(query, numbers)
            number = _as_decimal(value)
            return query if number is None else super().apply(query, number)

    DecimalFilter.__name__ = f"Decimal{fab_filter.__name__}"
    return DecimalFilter


class DecimalFilterConverter(SQLAFilterConverter):
    conversion_table = tuple(
        (test, [_decimal_filter(f) for f in fab_filters] if test == "is_numeric" else fab_filters)
        for test, fab_filters in SQLAFilterConverter.conversion_table
    )


class DecimalFilterInterface(SQLAInterface):
    filter_converter_class = DecimalFilterConverter


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

    def __init__(self, **kwargs):
        self.datamodel = DecimalFilterInterface(Contract)  # the amount filters
        super().__init__(**kwargs)
