"""Follow-up pages (跟进记录): list, search, show, add, edit, delete, export.

Added from a customer's or a contact's page (their related list's add button,
``?_flt_0_customer=<id>`` or ``?_flt_0_contact=<id>``), the form starts with
that customer filled in. 跟进人 is set by the model to whoever adds the record.
"""

from flask import request
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Contact, Customer, FollowUp
from app.services import scope
from app.services.querying import is_key

from .base import CrmModelView, audit_fieldset


class FollowUpView(CrmModelView):
    model = FollowUp
    noun = _l("Follow-up")
    route_base = "/followups"

    list_columns = ["followed_at", "customer", "contact", "method", "content", "next_at", "user"]
    search_columns = [
        "customer",
        "contact",
        "method",
        "content",
        "followed_at",
        "next_at",
        "next_step",
        "user",
    ]
    order_columns = ["followed_at", "method", "next_at"]
    base_order = ("followed_at", "desc")
    add_columns = edit_columns = [
        "customer",
        "contact",
        "method",
        "followed_at",
        "content",
        "next_at",
        "next_step",
    ]
    show_fieldsets = [
        (_l("Follow-up"), {"fields": [*add_columns, "user"]}),
        audit_fieldset(),
    ]
    description_columns = {
        "followed_at": _l("When you followed up; not in the future."),
        "next_at": _l("When to follow up next; after the follow-up time."),
    }

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        """The customer the form was opened from, when it names one."""
        if request.method == "GET" and "customer" in form and form.customer.data is None:
            form.customer.data = _customer_from_args()
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)


def _customer_from_args():
    """The customer (or the contact's customer) of ``?customer=`` / the related list's filter."""
    for name in ("customer", "_flt_0_customer"):
        value = request.args.get(name)
        if is_key(value):
            return scope.get_visible(Customer, int(value))
    value = request.args.get("_flt_0_contact")
    if is_key(value):
        contact = scope.get_visible(Contact, int(value))
        if contact is not None:
            return db.session.get(Customer, contact.customer_id)
    return None
