"""The service report pages: a form, and the workbook it downloads."""

from __future__ import annotations

from datetime import date, timedelta

from flask import render_template, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from app.permissions import EXPORT, READ, SERVICE_REPORT, permission_name
from app.reports.service_report import report_filename, service_report_workbook
from app.reports.xlsx import send_workbook
from app.services.statistics import QueryInvalid, ReportQuery


class ServiceReportView(BaseView):
    route_base = "/reports/service"
    default_view = "form"
    class_permission_name = SERVICE_REPORT
    method_permission_name = {"form": READ, "xlsx": EXPORT}
    base_permissions = [permission_name(READ), permission_name(EXPORT)]
    page_title = _l("Service report")

    @expose("/")
    @has_access
    def form(self):
        today = date.today()
        values = {"from": (today - timedelta(days=90)).isoformat(), "to": today.isoformat(),
                  "customer_id": ""}
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
        return send_workbook(workbook, *report_filename(query))

    def _render_form(self, values, errors):
        customers = db.session.execute(
            select(Customer.id, Customer.code, Customer.name).order_by(Customer.code)
        ).all()
        return self.render_template(
            "crm/service_report.html",
            title=self.page_title,
            values=values,
            errors=errors,
            customers=customers,
        )
