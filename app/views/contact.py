from flask_babel import lazy_gettext as _l

from app.models import Contact

from .base import CrmModelView, audit_fieldset
from .followup import FollowUpView
from .personal_data import PersonalDataMixin


class ContactView(PersonalDataMixin, CrmModelView):
    model = Contact
    noun = _l("Contact")
    route_base = "/contacts"
    show_template = "crm/contact_show.html"

    list_columns = ["name", "customer", "position", "phone", "email", "status"]
    search_columns = ["name", "customer", "position", "phone", "email", "national_id", "status"]
    order_columns = ["name", "position", "status"]
    base_order = ("id", "desc")
    add_columns = edit_columns = [
        "customer",
        "name",
        "position",
        "birth_date",
        "national_id",
        "phone",
        "email",
        "address",
        "status",
    ]
    show_fieldsets = [(_l("Contact"), {"fields": add_columns}), audit_fieldset()]
    related_views = [FollowUpView]
