"""Import pages: ``/customers/import/``, ``/contacts/import/``, ``/reporters/import/``,
``/followups/import/``, ``/payment-plans/import/``, ``/payments/import/``.

Each page belongs to its module's resource and needs the module's ADD
permission (FAB's ``has_access`` with the methods mapped to "add");
updating records that exist already needs EDIT as well. The rules and the
transaction are in ``app.services.importing``; the lists show an import
button through the ``crm_import_url`` template global.
"""

from __future__ import annotations

from datetime import date

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.permissions import (
    ADD,
    CONTACT,
    CUSTOMER,
    EDIT,
    FOLLOWUP,
    PAYMENT,
    PAYMENT_PLAN,
    REPORTER,
    base_permissions_of,
    permission_name,
)
from app.reports.xlsx import send_workbook
from app.services import importing

# Multipart overhead allowed on top of the file itself.
UPLOAD_SLACK = 64 * 1024


class ImportView(BaseView):
    """Upload form, template download and the row-by-row report of one module."""

    spec_key: str = ""
    default_view = "form"
    page_title = None
    list_endpoint = ""
    method_permission_name = {"form": ADD, "upload": ADD, "template": ADD}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.class_permission_name:  # the module's full list (resource_actions)
            cls.base_permissions = base_permissions_of(cls.class_permission_name)

    @property
    def spec(self) -> importing.ImportSpec:
        return importing.SPECS[self.spec_key]

    def create_blueprint(self, appbuilder, *args, **kwargs):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.register_error_handler(RequestEntityTooLarge, self._too_large)
        _limit_upload_size(current_app)
        return blueprint

    @expose("/", methods=["GET"])
    @has_access
    def form(self):
        return self._render()

    @expose("/", methods=["POST"])
    @has_access
    def upload(self):
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._render(refusal=_("Choose an .xlsx file to import.")), 400
        if not upload.filename.lower().endswith(".xlsx"):
            return self._render(
                refusal=_(
                    "Only Excel .xlsx workbooks can be imported (not .xls, .csv or other files)."
                )
            ), 400
        may_update = self.appbuilder.sm.has_access(
            permission_name(EDIT), self.class_permission_name
        )
        try:
            result = importing.import_workbook(upload.stream, self.spec, may_update=may_update)
        except importing.ImportRefused as refusal:
            return self._render(refusal=str(refusal)), 400
        if not result.ok:
            return self._render(result=result), 422
        flash(
            _(
                "Import finished: %(created)d created, %(updated)d updated.",
                created=result.created,
                updated=result.updated,
            ),
            "success",
        )
        return redirect(url_for(self.list_endpoint))

    @expose("/template.xlsx")
    @has_access
    def template(self):
        name = str(self.spec.sheet)
        return send_workbook(
            importing.template_workbook(self.spec),
            _("%(name)s import template.xlsx", name=name),
            f"{self.spec_key}-import-template.xlsx",
        )

    def _too_large(self, _error):
        # Refused before Flask-AppBuilder's own before-request set the user for the page.
        g.user = current_user
        size = importing.MAX_UPLOAD_BYTES // (1024 * 1024)
        return self._render(refusal=_("The file is larger than %(size)d MB.", size=size)), 413

    def _render(self, refusal: str | None = None, result=None):
        return self.render_template(
            "importing/form.html",
            title=self.page_title,
            spec=self.spec,
            refusal=refusal,
            result=result,
            max_rows=importing.MAX_ROWS,
            max_megabytes=importing.MAX_UPLOAD_BYTES // (1024 * 1024),
            list_url=url_for(self.list_endpoint),
            today=date.today(),
        )


class CustomerImportView(ImportView):
    route_base = "/customers/import"
    class_permission_name = CUSTOMER
    spec_key = "customer"
    list_endpoint = "CustomerView.list"
    page_title = _l("Import customers")


class ContactImportView(ImportView):
    route_base = "/contacts/import"
    class_permission_name = CONTACT
    spec_key = "contact"
    list_endpoint = "ContactView.list"
    page_title = _l("Import contacts")


class ReporterImportView(ImportView):
    route_base = "/reporters/import"
    class_permission_name = REPORTER
    spec_key = "reporter"
    list_endpoint = "ReporterView.list"
    page_title = _l("Import reporters")


class FollowUpImportView(ImportView):
    route_base = "/followups/import"
    class_permission_name = FOLLOWUP
    spec_key = "followup"
    list_endpoint = "FollowUpView.list"
    page_title = _l("Import follow-ups")


class PaymentPlanImportView(ImportView):
    route_base = "/payment-plans/import"
    class_permission_name = PAYMENT_PLAN
    spec_key = "payment_plan"
    list_endpoint = "PaymentPlanView.list"
    page_title = _l("Import payment plans")


class PaymentImportView(ImportView):
    route_base = "/payments/import"
    class_permission_name = PAYMENT
    spec_key = "payment"
    list_endpoint = "PaymentView.list"
    page_title = _l("Import payments")


IMPORT_VIEWS = (
    CustomerImportView,
    ContactImportView,
    ReporterImportView,
    FollowUpImportView,
    PaymentPlanImportView,
    PaymentImportView,
)


def _limit_upload_size(app) -> None:
    """Cap the body of import uploads before anything (the CSRF check) parses it.

    Registered first among the app's before-request functions; werkzeug then
    refuses a larger body with 413, which the import blueprint answers.
    """
    functions = app.before_request_funcs.setdefault(None, [])
    if _cap_import_body not in functions:
        functions.insert(0, _cap_import_body)


def _cap_import_body():
    if request.method == "POST" and request.blueprint in {view.__name__ for view in IMPORT_VIEWS}:
        request.max_content_length = importing.MAX_UPLOAD_BYTES + UPLOAD_SLACK


def import_url():
    """The current list page's import page, when there is one and the user may add."""
    if not request.blueprint:
        return None
    sm = current_app.appbuilder.sm
    for view in current_app.appbuilder.baseviews:
        if view.endpoint != request.blueprint:
            continue
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        for import_view in IMPORT_VIEWS:
            if importing.SPECS[import_view.spec_key].model is model and sm.has_access(
                permission_name(ADD), import_view.class_permission_name
            ):
                return url_for(f"{import_view.__name__}.form")
    return None


def register(appbuilder) -> None:
    for view in IMPORT_VIEWS:
        appbuilder.add_view_no_menu(view)
    current_app.jinja_env.globals["crm_import_url"] = import_url
