"""The extended security manager: the seed's user fields on FAB's user pages."""

from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import lazy_gettext as _l

from app.models import CrmUser
from app.views.base import rule_checked

PROFILE_COLUMNS = [
    "first_name", "phone", "email", "age", "position", "years_of_work", "home_address",
]


class CrmUserView(UserDBModelView):
    """Users as the seed describes them: one name field, phone required."""

    list_title = _l("List Users")
    label_columns = {
        **UserDBModelView.label_columns,
        "first_name": _l("Person name"),
        "username": _l("Login name"),
        "age": _l("Age"),
        "position": _l("Position"),
        "phone": _l("Phone"),
        "home_address": _l("Home address"),
        "years_of_work": _l("Years of work"),
        "roles": _l("Roles"),
        "active": _l("Enabled"),
    }
    description_columns = {}
    list_columns = ["username", "first_name", "position", "phone", "email", "active", "roles"]
    search_columns = ["username", "first_name", "phone", "email", "position", "active", "roles"]
    add_columns = ["username", *PROFILE_COLUMNS, "active", "roles", "password", "conf_password"]
    edit_columns = ["username", *PROFILE_COLUMNS, "active", "roles"]
    show_fieldsets = [
        (_l("User info"), {"fields": ["username", "active", "roles", "login_count"]}),
        (_l("Personal Info"), {"fields": PROFILE_COLUMNS, "expanded": True}),
        (
            _l("Audit Info"),
            {
                "fields": ["last_login", "fail_login_count", "created_on", "changed_on"],
                "expanded": False,
            },
        ),
    ]
    user_show_fieldsets = show_fieldsets[:2]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_form = rule_checked(self.add_form, CrmUser)
        self.edit_form = rule_checked(self.edit_form, CrmUser)

    def pre_add(self, item):
        item.last_name = ""


class CrmSecurityManager(SecurityManager):
    user_model = CrmUser
    userdbmodelview = CrmUserView
    userstatschartview = None  # its charts load from the internet
