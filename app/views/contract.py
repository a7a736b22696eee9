"""Contract pages, with what was received on each (已回款, 未回款) and its instalments.

The money columns are SQL loaded with the list's rows (one statement, whatever
the page size: ``ContractInterface``); the quick filter 有逾期回款 is a list
filter; the show page lists the plan and the payments (app/services/payments.py).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request, url_for
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models import Contract
from app.models.base import LabeledEnum
from app.permissions import PAYMENT, PAYMENT_PLAN, READ, permission_name
from app.services import payments
from app.services.display import format_money
from app.services.querying import CrmInterface

from .base import CrmModelView, audit_fieldset
from .fields import EnumSelectField

RECEIVED, OUTSTANDING, OVERDUE = "received", "outstanding", "overdue"
OVERDUE_ARG = f"_flt_0_{OVERDUE}"


class OverdueChoice(LabeledEnum):
    yes = _l("Has overdue payments")


class OverdueFilter(BaseFilter):
    """有逾期回款: an instalment's date has passed and it is not yet covered."""

    name = _l("Is")
    arg_name = "eq"

    def apply(self, query, value):
        if str(value or "").strip() != OverdueChoice.yes.name:
            return query
        return query.filter(payments.overdue_condition(payments.today()))


class ContractInterface(CrmInterface):
    """The modules' interface plus 已回款 / 未回款 loaded with the rows, and the filter."""

    def apply_all(self, query, *args, **kwargs):
        return payments.with_money(super().apply_all(query, *args, **kwargs))

    def get_filters(self, search_columns=None, search_filters=None):
        search_columns = list(search_columns or [])
        filters = super().get_filters(
            [col for col in search_columns if col != OVERDUE], search_filters
        )
        if OVERDUE in search_columns:
            overdue = [OverdueFilter(OVERDUE, self)]
            filters._search_filters = {**filters._search_filters, OVERDUE: overdue}
            filters._all_filters = {**filters._all_filters, OVERDUE: overdue}
        return filters


class ContractMoneyWidget(RenderTemplateWidget):
    template = "crm/contract_money.html"


def overdue_links() -> list[dict]:
    """The list's quick filter 有逾期回款, toggled, keeping the other filters."""
    active = request.args.get(OVERDUE_ARG) == OverdueChoice.yes.name
    kept = [
        (key, value)
        for key, values in request.args.lists()
        for value in values
        if key != OVERDUE_ARG and not key.startswith("page_")
    ]

    def url(on: bool) -> str:
        pairs = kept + ([(OVERDUE_ARG, OverdueChoice.yes.name)] if on else [])
        return url_for("ContractView.list") + ("?" + urlencode(pairs) if pairs else "")

    return [
        {"code": "all", "label": _("All"), "url": url(False), "active": not active},
        {
            "code": OVERDUE,
            "label": str(OverdueChoice.yes),
            "url": url(not active),
            "active": active,
        },
    ]


class ContractView(CrmModelView):
    model = Contract
    interface = ContractInterface
    noun = _l("Contract")
    route_base = "/contracts"
    list_template = "crm/contract_list.html"
    show_template = "crm/contract_show.html"

    list_columns = [
        "number",
        "customer",
        "sign_date",
        "end_date",
        "payment_date",
        "amount",
        RECEIVED,
        OUTSTANDING,
    ]
    search_columns = [
        "number",
        "customer",
        "sign_date",
        "end_date",
        "payment_date",
        "amount",
        "party_a",
        "party_b",
        OVERDUE,
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
    label_columns = {
        RECEIVED: _l("Received"),
        OUTSTANDING: _l("Outstanding"),
        OVERDUE: _l("Overdue payments"),
    }
    formatters_columns = {RECEIVED: format_money, OUTSTANDING: format_money}
    search_form_extra_fields = {OVERDUE: EnumSelectField(OverdueChoice, _l("Overdue payments"))}
    export_expressions = {
        RECEIVED: lambda: (payments.received_sql(), None),
        OUTSTANDING: lambda: (Contract.amount - payments.received_sql(), None),
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.extra_args = {**self.extra_args, "contract_overdue_links": overdue_links}

    def _get_show_widget(self, pk, item, *args, **kwargs):
        """Plus its money: received, outstanding, progress, the plan and the payments."""
        widgets = super()._get_show_widget(pk, item, *args, **kwargs)
        sm = self.appbuilder.sm
        may_plans = sm.has_access(permission_name(READ), PAYMENT_PLAN)
        may_payments = sm.has_access(permission_name(READ), PAYMENT)
        if may_plans or may_payments:
            widgets["money"] = ContractMoneyWidget(
                money=payments.contract_money(item, payments.today()),
                may_plans=may_plans,
                may_payments=may_payments,
                contract=item,
            )
        return widgets
