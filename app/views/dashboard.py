"""The home page after sign-in: the user's dashboard, drawn as inline SVG.

Which sections appear follows the user's read permissions on the resources
of ``app.permissions``; the figures come from ``app.services.dashboard``.
Nothing is loaded from outside the app: the charts are SVG drawn by the
macros in ``templates/dashboard/charts.html``.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

from babel.dates import format_skeleton
from flask import g, redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from app.permissions import PAYMENT, READ, permission_name
from app.services import dashboard, licenses, payments, receivables
from app.services import feedback as desk
from app.services.display import format_money

from .feedback import QUEUE_ARG
from .license import format_state


def axis_max(value) -> int:
    """A round axis end at least ``value`` whose quarters are whole: 4, 8, 20, 40, 80, 200…"""
    value = max(int(math.ceil(value or 0)), 1)
    power = 1
    while True:
        for step in (4, 8, 20):
            if value <= step * power:
                return step * power
        power *= 10


def feedback_queue_url(*queues: str) -> str:
    """The feedback list narrowed to the desk's queues (``mine``, ``overdue``, ``open``…)."""
    known = [queue for queue in queues if desk.parse_queue(queue) is not None]
    return url_for("FeedbackView.list") + (
        "?" + urlencode([(QUEUE_ARG, queue) for queue in known]) if known else ""
    )


def month_label(month, long: bool = False, year_only: bool = False) -> str:
    """A month on a chart axis in the page's language: 3月, 2026年3月, 2026年."""
    skeleton = "y" if year_only else ("yMMM" if long else "MMM")
    return format_skeleton(skeleton, month, locale=get_locale())


def payment_cards(sm):
    """The payments cards for those who read payments, else None (dashboard/payment_cards.html)."""
    if not sm.has_access(permission_name(READ), PAYMENT):
        return None
    return receivables.payment_cards(payments.today())


class DashboardIndexView(IndexView):
    index_template = "index.html"

    @expose("/")
    def index(self):
        user = getattr(g, "user", None)
        if user is None or not user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        self.update_redirect()
        sm = self.appbuilder.sm
        board = dashboard.build(
            lambda resource: sm.has_access(permission_name(READ), resource),
            user.id,
            dashboard.now(),
            licenses.today(),
        )
        return self.render_template(
            self.index_template,
            title=_l("Home"),
            board=board,
            axis_max=axis_max,
            month_label=month_label,
            license_badge=lambda item: format_state(licenses.license_state(item, board.on)),
            money=format_money,
            queue_url=feedback_queue_url,
            payment_cards=payment_cards(sm),
        )
