"""The service report pages: a form, and the workbook it downloads.

The form's customer drop-down holds only the chosen customer; select2 asks
``/reports/service/customers?q=…`` for a page of matches as the user types,
so the page stays small however many customers there are.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import jsonify, request
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.models import Customer
from app.permissions import EXPORT, READ, SERVICE_REPORT, permission_name
from app.reports.service_report import report_filename, service_report_workbook
from app.reports.xlsx import send_workbook
from app.services import audit, scope
from app.services.querying import is_key
from app.services.statistics import QueryInvalid, ReportQuery


class ServiceReportView(BaseView):
    route_base = "/reports/service"
    default_view = "form"
    class_permission_name = SERVICE_REPORT
    method_permission_name = {"form": READ, "customers": READ, "xlsx": EXPORT}
    base_permissions = [permission_name(READ), permission_name(EXPORT)]
    page_title = _l("Service report")

    @expose("/")
    @has_access
    def form(self):
        today = date.today()
        values = {
            "from": (today - timedelta(days=90)).isoformat(),
            "to": today.isoformat(),
            "customer_id": "",
        }
        return self._render_form(values, {})

    @expose("/xlsx")
    @has_access
    def xlsx(self):
        try:
            query = ReportQuery.from_args(request.args)
        except QueryInvalid as invalid:
            return self._render_form(request.args, invalid.errors), 400
        user = current_user.first_name or current_user.username
        workbook = service_report_workbook(query, generated_by=user)
        audit.record(
            audit.EXPORT, SERVICE_REPORT, list=str(self.page_title), filters=dict(request.args)
        )
        return send_workbook(workbook, *report_filename(query))

    @expose("/customers")
    @has_access_api
    def customers(self):
        """Select2's JSON: a page of customers matching ``q`` (code or name)."""
        from app.views.ajax_select import MAX_PAGE, search_related

        raw_page = (request.args.get("page") or "").strip()
        page = min(int(raw_page), MAX_PAGE) if raw_page.isdigit() and len(raw_page) < 10 else 1
        rows, more = search_related(Customer, request.args.get("q", ""), max(page, 1))
        return jsonify(
            results=[{"id": pk, "text": label} for pk, label in rows], pagination={"more": more}
        )

    def _render_form(self, values, errors):
        raw = str(values.get("customer_id") or "").strip()
        chosen = None
        if is_key(raw) and not errors.get("customer_id"):
            chosen = scope.get_visible(Customer, int(raw))
        return self.render_template(
            "crm/service_report.html",
            title=self.page_title,
            values=values,
            errors=errors,
            chosen_customer=chosen,
        )
