"""The top bar's menu, rendered once per set of grants, language and address prefix.

FAB's ``navbar_menu.html`` asks ``has_access``, ``url_for`` and the catalog once
per entry, about 33 times a page. What it shows depends only on what the
signed-in user may open (``CrmSecurityManager.access_key``), the language and
the prefix the app is served under, so its HTML is kept per those: a role the
admin edits changes the key, and the next page renders the menu anew. The
entries themselves are fixed when the app starts.
"""

from flask import current_app, render_template, request
from flask_babel import get_locale
from markupsafe import Markup

CACHE_KEY = "crm_menu_html"
MAX_KEPT = 256  # distinct role sets × languages; beyond that, start again


def menu_html() -> Markup:
    appbuilder = current_app.appbuilder
    kept = current_app.extensions.setdefault(CACHE_KEY, {})
    key = (str(get_locale()), request.script_root, appbuilder.sm.access_key())
    html = kept.get(key)
    if html is None:
        if len(kept) >= MAX_KEPT:
            kept.clear()
        html = kept[key] = Markup(
            render_template("appbuilder/navbar_menu.html", menu=appbuilder.menu)
        )
    return html


def init_app(app) -> None:
    app.jinja_env.globals["crm_menu"] = menu_html
