"""Error pages in the user's language: HTML for the panel, JSON for /api/.

Policy: a signed-in user who opens a URL their role may not use gets a 403
page saying so (Flask-AppBuilder aborts with 403 for them); a visitor who is
not signed in is sent to the sign-in page instead.
"""

from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, InterfaceError
from werkzeug.exceptions import Forbidden, HTTPException, InternalServerError, NotFound

log = logging.getLogger(__name__)


def init_app(app) -> None:
    app.register_error_handler(Forbidden, forbidden)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(InternalServerError, server_error)
    # The database gone (stopped, network down, file unreadable): 503, not a 500.
    app.register_error_handler(DBAPIError, database_error)


def _custom_description(error: HTTPException) -> str | None:
    """The message a view passed to ``abort``, if any (not werkzeug's English default)."""
    if error.description and error.description != type(error).description:
        return str(error.description)
    return None


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _page(template: str, code: int, message: str):
    if _wants_json():
        return jsonify(message=message), code
    appbuilder = current_app.appbuilder
    return render_template(
        template, message=message, appbuilder=appbuilder,
        base_template=appbuilder.base_template,
    ), code


def forbidden(error):
    message = _custom_description(error) or _(
        "Your role does not allow you to open this page or do this operation."
    )
    return _page("errors/403.html", 403, message)


def not_found(error):
    message = _custom_description(error) or _(
        "The page or record does not exist. It may have been deleted."
    )
    return _page("errors/404.html", 404, message)


def _rollback() -> None:
    """Drop the failed transaction; with the database gone, rollback itself may fail."""
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the pool discards the dead connection
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
    message = _("The database cannot be reached right now. Nothing is lost: "
                "please try again in a moment. If this lasts, tell the administrator.")
    if _wants_json():
        return jsonify(message=message), 503
    # Not render_template: its context processors load the signed-in user from the database.
    page = current_app.jinja_env.get_template("errors/503.html")
    return page.render(message=message, locale=_locale()), 503, {"Retry-After": "30"}


def server_error(error):
    _rollback()
    message = _("Something went wrong on the server; nothing was saved. "
                "Try again, or tell the administrator what you were doing.")
    if _wants_json():
        return jsonify(message=message), 500
    return render_template("errors/500.html", message=message, locale=_locale()), 500
