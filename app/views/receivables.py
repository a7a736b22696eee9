"""The receivables report pages (回款报表): a form, and the workbook it downloads."""

from __future__ import annotations

from datetime import date, datetime

from flask import request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.permissions import EXPORT, READ, RECEIVABLES_REPORT, permission_name
from app.reports.receivables_report import receivables_workbook, report_filename
from app.reports.xlsx import send_workbook
from app.services import payments
from app.services.receivables import receivables
from app.services.statistics import QueryInvalid, _parse_date

MAX_YEARS = 10  # a longer period is a typo, not a report


def period_from_args(args) -> tuple[date, date]:
    """``from`` and ``to`` (YYYY-MM-DD); raise QueryInvalid with Chinese messages."""
    errors: dict[str, str] = {}
    start = _parse_date(args.get("from"), "from", errors)
    end = _parse_date(args.get("to"), "to", errors)
    if start and end and start > end:
        errors["to"] = _("The end date must not be before the start date.")
    elif start and end and (end - start).days > 366 * MAX_YEARS:
        errors["to"] = _("The period may be at most %(years)d years.", years=MAX_YEARS)
    if errors:
        raise QueryInvalid(errors)
    return start, end


class ReceivablesReportView(BaseView):
    route_base = "/reports/receivables"
    default_view = "form"
    class_permission_name = RECEIVABLES_REPORT
    method_permission_name = {"form": READ, "xlsx": EXPORT}
    base_permissions = [permission_name(READ), permission_name(EXPORT)]
    page_title = _l("Receivables report")

    @expose("/")
    @has_access
    def form(self):
        today = payments.today()
        values = {"from": date(today.year, 1, 1).isoformat(), "to": date(today.year, 12, 31)}
        return self._render_form({k: str(v) for k, v in values.items()}, {})

    @expose("/xlsx")
    @has_access
    def xlsx(self):
        try:
            start, end = period_from_args(request.args)
        except QueryInvalid as invalid:
            return self._render_form(request.args, invalid.errors), 400
        data = receivables(start, end, payments.today())
        user = current_user.first_name or current_user.username
        workbook = receivables_workbook(data, user, datetime.now())
        return send_workbook(workbook, *report_filename(start, end))

    def _render_form(self, values, errors):
        return self.render_template(
            "crm/receivables_report.html", title=self.page_title, values=values, errors=errors
        )
