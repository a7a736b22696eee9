"""A save either happens whole or not at all, and the user gets a message, not SQL.

Flask-AppBuilder's data interface commits each add, edit and delete; when
the commit fails it rolls back (database errors only) and the pages show the
exception's text, which may quote SQL. ``SafeWrites`` wraps those calls: any
failure, whatever raised it (the database, a history or notification hook),
rolls the whole transaction back, is logged with its traceback, and becomes
a ``SaveFailed`` whose text is a translated message safe to show.
"""

from __future__ import annotations

import logging

from flask_appbuilder.exceptions import DatabaseException
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from app.services.versioning import VersionConflict

log = logging.getLogger(__name__)


class SaveFailed(Exception):
    """Nothing was written; ``str()`` is the user's message, ``status`` the HTTP code."""

    def __init__(self, message: str, status: int = 500):
        super().__init__(message)
        self.status = status


def database_unavailable(error: BaseException) -> bool:
    """Is this the database being unreachable (as opposed to refusing a statement)?"""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def user_error(error: BaseException, deleting: bool = False) -> Exception:
    """The exception to show for a failed write (``VersionConflict`` or ``SaveFailed``)."""
    if isinstance(error, DatabaseException) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, (VersionConflict, SaveFailed)):
        return error
    if isinstance(error, StaleDataError):
        return VersionConflict(
            _(
                "Someone else changed or deleted this record while you were saving; "
                "nothing was saved. Open it again and reapply your changes."
            )
        )
    if database_unavailable(error):
        return SaveFailed(
            _(
                "The database cannot be reached right now; nothing was saved. "
                "Please try again in a moment."
            ),
            status=503,
        )
    if isinstance(error, IntegrityError):
        if deleting:
            return SaveFailed(
                _("The record was not deleted: other records still refer to it."), status=409
            )
        return SaveFailed(
            _(
                "Nothing was saved: a value is missing or conflicts with another record "
                "(another user may have just saved the same number or code)."
            ),
            status=409,
        )
    return SaveFailed(
        _(
            "Saving failed and nothing was saved. Try again, or tell the administrator "
            "what you were doing."
        )
    )


class SafeWrites:
    """Mixin for Flask-AppBuilder's ``SQLAInterface``: all-or-nothing writes."""

    def add(self, item, commit: bool = True):
        return self._all_or_nothing(super().add, item, commit)

    def edit(self, item, commit: bool = True):
        return self._all_or_nothing(super().edit, item, commit)

    def delete(self, item, commit: bool = True):
        return self._all_or_nothing(super().delete, item, commit, deleting=True)

    def delete_all(self, items):
        return self._all_or_nothing(super().delete_all, items, deleting=True)

    def _all_or_nothing(self, write, *args, deleting: bool = False):
        try:
            return write(*args)
        except Exception as error:
            try:
                self.session.rollback()
            except SQLAlchemyError:  # the connection itself is gone; the pool drops it
                log.warning("rollback after a failed write failed too", exc_info=True)
            log.error("write of %s failed", type(args[0]).__name__, exc_info=error)
            raise user_error(error, deleting=deleting) from error
