"""No lost update: a save made over a newer version of a record is refused.

Every business row carries ``row_version`` (``AuditMixin``), which SQLAlchemy
bumps on each UPDATE and checks in its WHERE clause. The edit form and the
API say which version the user started from; when that is no longer the
stored one, the save is refused with a message naming who changed what since
(read from the change history), so the user can reload and reapply.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.extensions import db
from app.models.history import ChangeAction, ChangeRecord
from app.services import history

VERSION_FIELD = "row_version"
MAX_LISTED_CHANGES = 10  # fields named in one message; the rest are counted
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


class VersionInvalid(ValueError):
    """The version the client sent is not a version number."""


class VersionConflict(Exception):
    """The record changed (or vanished) since the user loaded it; ``str()`` is the message."""

    def __init__(self, message: str, current: int | None = None, changes: dict | None = None):
        super().__init__(message)
        self.current = current
        self.changes = changes or {}


def is_versioned(model) -> bool:
    return getattr(model.__mapper__, "version_id_col", None) is not None


def parse_version(value) -> int | None:
    """A version from a form, a JSON body or an ``If-Match`` header; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise VersionInvalid(value)
    if isinstance(value, int):
        if value < 0:
            raise VersionInvalid(value)
        return value
    match = _ETAG.match(str(value))
    if not match:
        raise VersionInvalid(value)
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


def check_version(item, expected: int | None, advice: str | None = None) -> None:
    """Raise ``VersionConflict`` unless ``item`` (as loaded) is at version ``expected``.

    ``None`` means the client did not say which version it edited: nothing to check
    (the version column still stops two saves racing each other at the database).
    """
    if expected is None:
        return
    current = getattr(item, VERSION_FIELD)
    if current != expected:
        raise conflict(type(item), item.id, expected, current, advice)


def conflict(
    model, pk, loaded: int | None, current: int | None, advice: str | None = None
) -> VersionConflict:
    """The refusal for a save based on version ``loaded`` when ``current`` is stored.

    ``advice`` says how to reapply (the pages and the API differ).
    """
    if current is None:
        return VersionConflict(
            _(
                "This record was deleted by someone else after you opened it; "
                "your changes were not saved."
            )
        )
    changes, who = changes_since(model, pk, loaded, current)
    if changes:
        listed = [
            _(
                "%(field)s: %(old)s → %(new)s",
                field=label,
                old=old or _("(empty)"),
                new=new or _("(empty)"),
            )
            for label, old, new in changes[:MAX_LISTED_CHANGES]
        ]
        if len(changes) > MAX_LISTED_CHANGES:
            listed.append(_("and %(count)d more fields", count=len(changes) - MAX_LISTED_CHANGES))
        what = _("; ").join(listed)
    else:
        what = _("(the change history does not say which fields)")
    message = _(
        "%(who)s saved this record after you opened it (version %(loaded)s, now %(current)s), "
        "so your changes were not saved. Their changes: %(changes)s.",
        who=who or _("Someone else"),
        loaded=loaded,
        current=current,
        changes=what,
    )
    if advice:
        message = f"{message} {advice}"
    return VersionConflict(
        message,
        current=current,
        changes={label: {"old": old, "new": new} for label, old, new in changes},
    )


def changes_since(model, pk, loaded: int | None, current: int) -> tuple[list, str | None]:
    """``[(field label, old, new)]`` of the saves after version ``loaded``, and who made them.

    One history row per save: the latest ``current - loaded`` update rows,
    merged (a field's first old value, its last new one).
    """
    key = history.tracked_models().get(model)
    if key is None or loaded is None or current <= loaded:
        return [], None
    this_row = (ChangeRecord.model == key, ChangeRecord.row_id == pk)
    # Ids can be reused after a delete: only rows since this record was created.
    created = (
        select(func.coalesce(func.max(ChangeRecord.id), 0))
        .where(*this_row, ChangeRecord.action == ChangeAction.create)
        .scalar_subquery()
    )
    rows = db.session.scalars(
        select(ChangeRecord)
        .where(*this_row, ChangeRecord.action == ChangeAction.update, ChangeRecord.id > created)
        .order_by(ChangeRecord.id.desc())
        .limit(min(current - loaded, 50))
    ).all()
    merged: dict[str, list] = {}
    for row in reversed(rows):
        for field, old, new in row.change_items():
            if field in merged:
                merged[field][1] = new
            else:
                merged[field] = [old, new]
    names = sorted({row.username for row in rows if row.username})
    result = []
    for field, (old, new) in sorted(merged.items()):
        old_text = history.display_value(key, field, old)
        new_text = history.display_value(key, field, new)
        if old_text != new_text:  # None and "" look the same to the user
            result.append((history.field_label(key, field), old_text, new_text))
    return result, ", ".join(names) or None
