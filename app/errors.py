"""Error pages in the user's language: HTML for the panel, JSON for /api/.

Policy: a signed-in user who opens a URL their role may not use gets a 403
page saying so (Flask-AppBuilder aborts with 403 for them); a visitor who is
not signed in is sent to the sign-in page instead.
"""

from __future__ import annotations

import logging

from flask import current_app, g, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError
from werkzeug.exceptions import Forbidden, HTTPException, InternalServerError, NotFound

log = logging.getLogger(__name__)

NOT_FOUND = _l("The page or record does not exist. It may have been deleted.")

# Other client errors: (title, message); a code not listed gets the ``None`` pair.
CLIENT_ERRORS = {
    400: (
        _l("Bad request (400)"),
        _l("The request could not be understood. Go back, reload the page and try again."),
    ),
    405: (
        _l("Operation not allowed (405)"),
        _l("This address does not accept %(method)s requests."),
    ),
    413: (_l("Too much data (413)"), _l("What was sent is too large to be accepted.")),
    429: (
        _l("Too many requests (429)"),
        _l("Too many requests in a short time. Wait a moment and try again."),
    ),
    None: (
        _l("Request refused (%(code)s)"),
        _l(
            "The request cannot be carried out. Go back and try again; "
            "if this keeps happening, tell the administrator."
        ),
    ),
}


def init_app(app) -> None:
    app.register_error_handler(Forbidden, forbidden)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(InternalServerError, server_error)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, client_error)  # the most specific handler wins
    # The database gone (stopped, network down, file unreadable): 503, not a 500.
    app.register_error_handler(DBAPIError, database_error)


# What Flask-AppBuilder passes to abort() untranslated, as the pages say it.
FRAMEWORK_DESCRIPTIONS = {
    "Locale not supported.": _l("This language is not available."),  # /lang/<code>
}


def _custom_description(error: HTTPException) -> str | None:
    """The message a view passed to ``abort``, if any (not werkzeug's English default)."""
    if error.description and error.description != type(error).description:
        description = str(error.description)
        return str(FRAMEWORK_DESCRIPTIONS.get(description, description))
    return None


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _page(template: str, code: int, message: str, headers=None, **context):
    if _wants_json():
        return jsonify(message=message), code, headers or {}
    appbuilder = current_app.appbuilder
    if "user" not in g:  # refused before FAB's hook ran (CSRFProtect's comes first)
        appbuilder.sm.before_request()
    return (
        render_template(
            template,
            message=message,
            appbuilder=appbuilder,
            base_template=appbuilder.base_template,
            **context,
        ),
        code,
        headers or {},
    )


def forbidden(error):
    message = _custom_description(error) or _(
        "Your role does not allow you to open this page or do this operation."
    )
    return _page("errors/403.html", 403, message)


def not_found(error):
    message = _custom_description(error) or str(NOT_FOUND)
    return _page("errors/404.html", 404, message)


def csrf_error(error):
    """A form without its token, or with one that has expired (Flask-WTF's English reason)."""
    return _page(
        "errors/4xx.html",
        400,
        _(
            "The form has expired or did not come from this page, so nothing was saved. "
            "Reload the page and try again."
        ),
        title=_("Form expired (400)"),
    )


def client_error(error):
    """Any other HTTP error werkzeug would show in English (400, 405, 413, 429…)."""
    if error.code is None or error.code >= 500 or error.response is not None:
        return error  # a response of its own; 500 has its handler, the app raises no other 5xx
    title, template = CLIENT_ERRORS.get(error.code, CLIENT_ERRORS[None])
    # Flask-Limiter's 429 description is its limit, in English.
    message = (_custom_description(error) if error.code != 429 else None) or (
        str(template) % {"method": request.method}
    )
    # werkzeug's headers but its Content-Type: Allow (405), Retry-After (429)…
    headers = {key: value for key, value in error.get_headers() if key.lower() != "content-type"}
    return _page(
        "errors/4xx.html", error.code, message, headers, title=str(title) % {"code": error.code}
    )


def _rollback() -> None:
    """Drop the failed transaction; with the database gone, rollback itself may fail."""
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:
        log.warning("rollback after an error failed", exc_info=True)


def _locale() -> str:
    try:
        return str(get_locale() or "zh")
    except Exception:  # noqa: BLE001 - the error page must not fail
        return "zh"


def database_error(error):
    """503 while the database cannot be reached; other database errors are 500s.

    The session is rolled back and the pool re-checks connections
    (``pool_pre_ping``), so the next request after the database returns works
    without restarting the app.
    """
    from app.services.saving import database_unavailable

    if not (database_unavailable(error) or isinstance(error, InterfaceError)):
        raise error  # a refused statement is a bug: Flask's 500 handling (server_error)
    log.error("database unavailable: %s", type(error.orig or error).__name__)
    _rollback()
    message = _(
        "The database cannot be reached right now. Nothing is lost: "
        "please try again in a moment. If this lasts, tell the administrator."
    )
    if _wants_json():
        return jsonify(message=message), 503
    # Not render_template: its context processors load the signed-in user from the database.
    page = current_app.jinja_env.get_template("errors/503.html")
    return page.render(message=message, locale=_locale()), 503, {"Retry-After": "30"}


def server_error(error):
    _rollback()
    message = _(
        "Something went wrong on the server; nothing was saved. "
        "Try again, or tell the administrator what you were doing."
    )
    if _wants_json():
        return jsonify(message=message), 500
    return render_template("errors/500.html", message=message, locale=_locale()), 500
