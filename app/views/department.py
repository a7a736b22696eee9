from flask_babel import lazy_gettext as _l

from app.models import Department

from .base import CrmModelView, audit_fieldset


class DepartmentView(CrmModelView):
    """The company's departments (部门), a tree; the admin's, like users and roles."""

    model = Department
    noun = _l("Department")
    route_base = "/departments"

    list_columns = ["name", "parent"]
    search_columns = ["name", "parent"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    add_columns = edit_columns = ["name", "parent"]
    show_fieldsets = [(_l("Department"), {"fields": add_columns}), audit_fieldset()]
