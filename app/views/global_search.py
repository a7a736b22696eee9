"""The global search page, ``/search/?q=…``, behind the top bar's box.

Any signed-in user may open it; each module's group appears only for readers
of that module (``app.services.search.global_search`` asks before querying).
"""

from __future__ import annotations

from flask import g, redirect, request
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.permissions import READ, permission_name
from app.services import search

GROUP_TITLES = {
    "customers": _l("Customers"),
    "contacts": _l("Contacts"),
    "contracts": _l("Contracts"),
    "licenses": _l("Licenses"),
    "feedback": _l("Customer feedback"),
    "reporters": _l("Reporters"),
}


class GlobalSearchView(BaseView):
    route_base = "/search"
    default_view = "results"

    @expose("/")
    def results(self):
        user = getattr(g, "user", None)
        if user is None or not user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        term = (request.args.get("q") or "").strip()[: search.MAX_QUERY]
        sm = self.appbuilder.sm
        groups = search.global_search(
            db.session, term, lambda resource: sm.has_access(permission_name(READ), resource)
        )
        return self.render_template(
            "crm/global_search.html",
            title=_l("Search"),
            term=term,
            groups=groups,
            group_titles=GROUP_TITLES,
            limit=search.GROUP_LIMIT,
        )
