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
from werkzeug.exceptions import Forbidden, HTTPException, InternalServerError, NotFound

log = logging.getLogger(__name__)


def init_app(app) -> None:
    app.register_error_handler(Forbidden, forbidden)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(InternalServerError, server_error)


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


def server_error(error):
    from app.extensions import db

    db.session.rollback()
    message = _("Something went wrong on the server; nothing was saved. "
                "Try again, or tell the administrator what you were doing.")
    if _wants_json():
        return jsonify(message=message), 500
    try:
        locale = str(get_locale() or "zh")
    except Exception:  # noqa: BLE001 - the error page must not fail
        locale = "zh"
    return render_template("errors/500.html", message=message, locale=locale), 500
