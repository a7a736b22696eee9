"""License statistics: a page over every customer, and a panel on each customer.

Both read ``app.services.licenses`` and are guarded by the License resource's
read permission, like the license pages themselves.
"""

from __future__ import annotations

from flask import request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import lazy_gettext as _l

from app.permissions import LICENSE, READ, base_permissions_of, permission_name
from app.services.licenses import (
    customer_license_stats,
    license_stats_by_customer,
    license_totals,
    today,
    warning_days,
)

PAGE_SIZE = 50


class LicenseStatsView(BaseView):
    route_base = "/license-stats"
    default_view = "index"
    class_permission_name = LICENSE
    method_permission_name = {"index": READ}
    # The license pages' whole list: FAB prunes a resource's permissions to the last list seen.
    base_permissions = base_permissions_of(LICENSE)

    @expose("/")
    @has_access
    def index(self):
        page = _page_arg()
        on = today()
        count, rows = license_stats_by_customer(on, page=page, page_size=PAGE_SIZE)
        return self.render_template(
            "licenses/stats.html",
            title=_l("License statistics"),
            rows=rows,
            totals=license_totals(on),
            on=on,
            warning_days=warning_days(),
            page=page,
            pages=max(1, -(-count // PAGE_SIZE)),
            count=count,
        )


def _page_arg() -> int:
    try:
        return max(0, int(request.args.get("page", 0)))
    except (TypeError, ValueError):
        return 0


class LicenseStatsWidget(RenderTemplateWidget):
    template = "licenses/customer_stats.html"


class CustomerLicenseStatsMixin:
    """Adds the customer's license statistics to its show page (for License readers)."""

    show_template = "licenses/customer_show.html"

    def _get_show_widget(self, pk, item, *args, **kwargs):
        widgets = super()._get_show_widget(pk, item, *args, **kwargs)
        if self.appbuilder.sm.has_access(permission_name(READ), LICENSE):
            widgets["license_stats"] = LicenseStatsWidget(
                stats=customer_license_stats(item), warning_days=warning_days()
            )
        return widgets
