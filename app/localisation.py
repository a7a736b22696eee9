"""What templates need to speak the page's language: <html lang>, date picker
texts, and table cells (empty values, yes/no, Flask-AppBuilder's permission and
view names on the security pages, which it shows as Python identifiers)."""

from flask import Flask, g
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.services.display import format_bool

# Flask-AppBuilder's permission names (and the app's) as read on the role pages.
PERMISSION_LABELS = {
    "can_read": _l("Read"),
    "can_add": _l("Add"),
    "can_edit": _l("Edit"),
    "can_delete": _l("Delete"),
    "can_export": _l("Export"),
    "can_list": _l("List"),
    "can_show": _l("Show"),
    "can_download": _l("Download"),
    "can_get": _l("Read"),
    "can_userinfo": _l("Own profile"),
    "can_this_form_get": _l("Open the form"),
    "can_this_form_post": _l("Submit the form"),
    "menu_access": _l("Menu entry"),
    "deactivate": _l("Deactivate"),
    "resetmypassword": _l("Reset my password"),
    "resetpasswords": _l("Reset passwords"),
    "userinfoedit": _l("Edit own profile"),
    "copyrole": _l("Copy role"),
    "can_claim": _l("Claim from the pool"),
    "can_transfer": _l("Transfer customers"),
    "can_reveal": _l("See personal data"),
    "can_personal_data": _l("Personal-data requests"),
}
# Views and resources that are not menu entries, by their internal names.
VIEW_LABELS = {
    "Customer": _l("Customers"),
    "Contact": _l("Contacts"),
    "Contract": _l("Contracts"),
    "Product": _l("Products"),
    "License": _l("Licenses"),
    "Feedback": _l("Customer feedback"),
    "Reporter": _l("Reporters"),
    "FollowUp": _l("Follow-ups"),
    "ServiceReport": _l("Service report"),
    "PaymentPlan": _l("Payment plans"),
    "Payment": _l("Payments received"),
    "ReceivablesReport": _l("Receivables report"),
    "Department": _l("Departments"),
    "GlobalSearchView": _l("Global search"),
    "ChangeHistory": _l("Change history"),
    "SecurityLog": _l("Security log"),
    "CrmUserView": _l("Users"),
    "RoleModelView": _l("Roles"),
    "UserGroupModelView": _l("Groups"),
    "PermissionModelView": _l("Base Permissions"),
    "ViewMenuModelView": _l("Views/Menus"),
    "PermissionViewModelView": _l("Permission on Views/Menus"),
    "UserInfoEditView": _l("Edit own profile"),
    "ResetPasswordView": _l("Reset passwords"),
    "ResetMyPasswordView": _l("Reset my password"),
    "CrmAuthDBView": _l("Sign in"),
    "CrmSecurityApi": _l("Sign-in API"),
    "IndexView": _l("Home"),
    "UtilView": _l("Navigation"),
    "LocaleView": _l("Language switch"),
    "MenuApi": _l("Menu API"),
    "OpenApi": _l("API description"),
}


# Labels Flask-AppBuilder makes from its own models' column names; listed here so
# extraction keeps them in the catalogs (_translate_framework_labels looks them up).
FRAMEWORK_LABELS = (
    _l("Description"),
    _l("Groups"),
    _l("Id"),
    _l("Label"),
    _l("Name"),
    _l("Permission Id"),
    _l("Role"),
    _l("Roles"),
    _l("User"),
    _l("Users"),
    _l("View Menu Id"),
)


def permission_label(name: str) -> str:
    return str(PERMISSION_LABELS.get(name, name))


def view_label(name: str) -> str:
    """Internal names from the table above; menu entries are catalog msgids already."""
    return str(VIEW_LABELS[name]) if name in VIEW_LABELS else _(name)


def cell(value, column: str = "", view_name: str = ""):
    """A list or show cell: nothing for None, 是/否 for booleans, a link for a
    record (app/views/links.py), and readable names for Flask-AppBuilder's
    permission records."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, (list, tuple, set)):
        return Markup(escape(_(", "))).join(cell(item) for item in value)
    from app.views.links import is_record, record_link  # app.views imports this module

    if is_record(value):
        return record_link(value)
    if column == "name" and view_name == "PermissionModelView":
        return permission_label(value)
    if column == "name" and view_name == "ViewMenuModelView":
        return view_label(value)
    return value


def label(text):
    """A column label: FAB makes English ones from column names ("Name") when a
    view sets none, so look those up in the catalog too (the page's: a customer's
    page has 60 headers)."""
    return _page_catalog().ugettext(str(text)) if text else text


def _ui_locale() -> dict:
    locale = get_locale()
    months = locale.months["stand-alone"]
    days = locale.days["stand-alone"]
    order = [6, 0, 1, 2, 3, 4, 5]  # Babel counts from Monday; the picker from Sunday
    return {
        "html_lang": "zh-CN" if locale.language == "zh" else locale.language,
        "datepicker": {
            "days": [days["wide"][i] for i in order],
            "daysShort": [days["abbreviated"][i] for i in order],
            "daysMin": [days["narrow"][i] for i in order],
            "months": [months["wide"][i] for i in range(1, 13)],
            "monthsShort": [months["abbreviated"][i] for i in range(1, 13)],
            "today": _("Today"),
            "clear": _("Clear"),
            "format": "yyyy-mm-dd",
            "titleFormat": _("MM yyyy"),
            "weekStart": 1,
        },
    }


def _name_permission_records() -> None:
    """FAB's permission records print as identifiers ("can_edit on CrmUserView") in
    lists, show pages and filter choices; give them ``__str__`` in the page's language."""
    from flask_appbuilder.security.sqla.models import Permission, PermissionView, ViewMenu

    Permission.__str__ = lambda self: permission_label(self.name)
    ViewMenu.__str__ = lambda self: view_label(self.name)
    PermissionView.__str__ = lambda self: _(
        "%(permission)s: %(view)s", permission=str(self.permission), view=str(self.view_menu)
    )


def _translate_framework_labels(appbuilder) -> None:
    """Flask-AppBuilder's own views (roles, groups, permissions) leave labels it makes
    from column names ("Name", "Label") as plain English strings, also in their forms'
    labels and placeholders: make them catalog lookups and rebuild those forms."""
    from flask_appbuilder.baseviews import BaseModelView

    for view in appbuilder.baseviews:
        if not isinstance(view, BaseModelView) or not type(view).__module__.startswith(
            "flask_appbuilder"
        ):
            continue
        plain = {key: text for key, text in view.label_columns.items() if isinstance(text, str)}
        if not plain:
            continue
        view.label_columns.update({key: _l(text) for key, text in plain.items()})
        for form in ("search_form", "add_form", "edit_form"):
            if hasattr(view, form) and getattr(type(view), form, None) is None:
                setattr(view, form, None)
        view._init_forms()


def _label_blank_choices() -> None:
    """WTForms prints a choice's value when its label is empty, so FAB's optional
    relation selects offered "__None": give the empty choice a label."""
    from flask_appbuilder.fields import QuerySelectField

    if getattr(QuerySelectField, "_crm_blank_label", False):
        return
    original = QuerySelectField.__init__

    def __init__(self, *args, blank_text="", **kwargs):
        original(self, *args, blank_text=blank_text or _l("(none)"), **kwargs)

    QuerySelectField.__init__ = __init__
    QuerySelectField._crm_blank_label = True


def _page_catalog():
    """The page's catalog, found once per request and locale.

    Flask-Babel's template gettext finds the locale and its catalog again for
    every string, through half a dozen context look-ups; a list page has about
    250 strings. ``force_locale`` swaps the locale object, so it is the key.
    """
    if not g:
        return get_translations()
    locale = get_locale()
    cached = g.get("_crm_catalog")
    if cached is None or cached[0] is not locale:
        cached = g._crm_catalog = (locale, get_translations())
    return cached[1]


def _install_template_gettext(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _page_catalog().ugettext(s),
        ngettext=lambda s, p, n: _page_catalog().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _page_catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: _page_catalog().unpgettext(c, s, p, n),
    )


def init_app(app: Flask) -> None:
    _install_template_gettext(app)
    _name_permission_records()
    _label_blank_choices()
    _translate_framework_labels(app.appbuilder)
    app.jinja_env.globals["crm_locale"] = _ui_locale
    app.jinja_env.globals["crm_cell"] = cell
    from app.views.links import related_list_url

    app.jinja_env.globals["crm_related_list_url"] = related_list_url
    app.jinja_env.globals["crm_label"] = label
    app.jinja_env.globals["crm_labels"] = lambda labels: {
        key: label(text) for key, text in labels.items()
    }
