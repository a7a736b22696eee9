"""Record every change of a tracked record, whatever wrote it: pages, API, imports, CLI.

One pair of listeners on the app's SQLAlchemy session does it. ``before_flush``
notes the database values of changed and deleted rows (and who acts);
``after_flush``, once new rows have their ids, compares and inserts the
``change_record`` rows on the same connection, so the history commits or
rolls back with the change it describes. Bulk Core statements (demo data,
``session.execute(update(...))``) do not pass through the flush and are not
recorded. Values are stored as JSON-safe strings: dates in ISO format,
decimals as written, enumerations by code; passwords only as "changed";
encrypted fields (身份证号) encrypted like their column (``encryption.seal``),
which ``ChangeRecord.change_items`` opens for the readers.
"""

from __future__ import annotations

import enum
import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask import g, has_request_context, request
from flask_appbuilder.security.sqla.models import Role
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, DateTime, Enum, Numeric, event, func, insert, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NO_VALUE

from app.extensions import db
from app.models import BUSINESS_MODELS, CrmUser
from app.models.history import ChangeAction, ChangeRecord
from app.models.labels import labels_for
from app.services import encryption, masking
from app.services.display import format_datetime, format_money

MASK = "******"
MAX_TEXT = 2000  # one value's stored length; longer text is cut with an ellipsis

# Fields whose changes say nothing about the record (bookkeeping, sign-in counters).
IGNORED = {
    "id",
    "created_on",
    "changed_on",
    "created_by_fk",
    "changed_by_fk",
    "last_login",
    "login_count",
    "fail_login_count",
    "last_seen_at",
    "locked_until",
    "resolution_seconds",  # derived from created_at and resolved_at, recorded there
    "last_followup_at",  # derived from the follow-ups, recorded there
    "next_followup_at",
    "national_id_hash",  # the keyed hash of an encrypted field, recorded through that field
}
SECRET = {"password"}
# Many-to-many collections recorded as sorted names.
COLLECTIONS = {"User": ("roles",), "Role": ("permissions",)}

REASON = "reason"  # a pseudo field of an update row: why it was made
MODEL_LABELS = {
    "Customer": _l("Customer"),
    "Contact": _l("Contact"),
    "Contract": _l("Contract"),
    "Product": _l("Product"),
    "License": _l("License"),
    "Reporter": _l("Reporter"),
    "Feedback": _l("Customer feedback"),
    "FollowUp": _l("Follow-up"),
    "User": _l("User"),
    "Role": _l("Role"),
}
EXTRA_LABELS = {
    REASON: _l("Reason"),
    "password": _l("Password"),
    "permissions": _l("Permissions"),
    "roles": _l("Roles"),
}

_registered = False
# session.info key: {(model, row id): why} for the next flush's update rows
REASONS = "crm_history_reasons"
# session.info key: {(model, row id): (history row id, its changes)} written in this
# transaction, so that several flushes of one save make one history row.
WRITTEN = "crm_history_written"


def note_reason(session: Session, obj, reason: str) -> None:
    """Record ``reason`` with ``obj``'s next change (an owner change: 退回公海, 转移)."""
    key = _tracked_key(obj)
    if key:
        session.info.setdefault(REASONS, {})[(key, obj.id)] = reason


def tracked_models() -> dict[type, str]:
    """Model class -> the name stored in ``change_record.model``."""
    models = {model: model.__name__ for model in BUSINESS_MODELS}
    models[CrmUser] = "User"
    models[Role] = "Role"
    return models


def model_of(key: str) -> type | None:
    for model, name in tracked_models().items():
        if name == key:
            return model
    return None


def init_app(app) -> None:
    """Listen on the shared session class once, however many apps are created."""
    global _registered
    if _registered:
        return
    event.listen(db.session, "before_flush", _before_flush)
    event.listen(db.session, "after_flush", _after_flush)
    event.listen(db.session, "after_commit", _forget_transaction)
    event.listen(db.session, "after_rollback", _forget_transaction)
    _registered = True


def _forget_transaction(session: Session) -> None:
    session.info.pop(WRITTEN, None)
    session.info.pop(REASONS, None)


# --- listeners -------------------------------------------------------------


def _tracked_key(obj) -> str | None:
    return tracked_models().get(type(obj))


def _before_flush(session: Session, flush_context, _instances) -> None:
    updates, deletes = [], []
    for obj in session.dirty:
        key = _tracked_key(obj)
        if key and session.is_modified(obj):
            updates.append((obj, key, _database_values(session, obj), _collections(obj, key)))
    for obj in session.deleted:
        key = _tracked_key(obj)
        if key:
            deletes.append((obj, key, _database_values(session, obj), _title(obj)))
    flush_context.attributes["crm_history"] = (updates, deletes, request_actor())


def _after_flush(session: Session, flush_context) -> None:
    updates, deletes, actor = flush_context.attributes.pop("crm_history", ([], [], None))
    if actor is None:
        actor = request_actor()
    rows = []
    with session.no_autoflush:
        for obj in session.new:
            key = _tracked_key(obj)
            if not key:
                continue
            new = _values(session, obj, _current_values(obj))
            changes = {
                field: {"old": None, "new": value}
                for field, value in new.items()
                if value is not None
            }
            for name, (_old, items) in _collections(obj, key).items():
                if items:
                    changes[name] = {"old": None, "new": _names(items)}
            rows.append(_row(actor, key, obj, ChangeAction.create, changes))
        for obj, key, before, collections in updates:
            changes = _diff(session, obj, before)
            for name, (old_items, new_items) in collections.items():
                old_names, new_names = _names(old_items), _names(new_items)
                if old_names != new_names:
                    changes[name] = {"old": old_names, "new": new_names}
            reason = session.info.get(REASONS, {}).pop((key, obj.id), None)
            if changes and reason:
                changes[REASON] = {"old": None, "new": reason}
            if changes:
                rows.append(_row(actor, key, obj, ChangeAction.update, changes))
        for obj, key, before, title in deletes:
            old = _values(session, obj, before)
            changes = {
                field: {"old": value, "new": None}
                for field, value in old.items()
                if value is not None
            }
            rows.append(_row(actor, key, obj, ChangeAction.delete, changes, title))
    if rows:
        _write(session, rows)


def _write(session: Session, rows: list[dict]) -> None:
    """Insert the rows; an update of a row already recorded in this transaction is merged."""
    written = session.info.setdefault(WRITTEN, {})
    table = ChangeRecord.__table__
    fresh = []
    for row in rows:
        earlier = written.get((row["model"], row["row_id"]))
        if row["action"] is ChangeAction.update and earlier is not None:
            record_id, changes = earlier
            merged = _merge(changes, json.loads(row["changes"]))
            written[(row["model"], row["row_id"])] = (record_id, merged)
            session.connection().execute(
                table.update()
                .where(table.c.id == record_id)
                .values(changes=json.dumps(merged, ensure_ascii=False, sort_keys=True))
            )
        else:
            fresh.append(row)
    if not fresh:
        return
    ids = (
        session.connection()
        .execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), fresh)
        .scalars()
        .all()
    )
    for record_id, row in zip(ids, fresh, strict=False):
        if row["action"] is not ChangeAction.delete:
            written[(row["model"], row["row_id"])] = (record_id, json.loads(row["changes"]))


def _merge(earlier: dict, later: dict) -> dict:
    """One transaction's changes of a field: the first old value, the last new one."""
    merged = dict(earlier)
    for name, change in later.items():
        old = earlier[name]["old"] if name in earlier else change["old"]
        same = encryption.unseal(old) == encryption.unseal(change["new"])
        if same and name not in SECRET:
            merged.pop(name, None)
        else:
            merged[name] = {"old": old, "new": change["new"]}
    return merged


# --- values ----------------------------------------------------------------


def _columns(obj):
    """(attribute key, column) of the fields worth recording."""
    mapper = inspect(type(obj))
    version = mapper.version_id_col
    return [
        (attr.key, attr.columns[0])
        for attr in mapper.column_attrs
        if attr.key not in IGNORED and attr.columns[0] is not version
    ]


def _database_values(session: Session, obj) -> dict[str, Any]:
    """The row's values as the database holds them now, before this flush."""
    state = inspect(obj)
    values, missing = {}, []
    for key, _column in _columns(obj):
        if key in state.committed_state:
            value = state.committed_state[key]
            if value is NO_VALUE:
                missing.append(key)
            else:
                values[key] = value
        elif key in state.dict:
            values[key] = state.dict[key]
        else:
            missing.append(key)
    if missing and state.identity:
        mapper = state.mapper
        columns = {key: mapper.get_property(key).columns[0] for key in missing}
        pk_criteria = [
            col == ident for col, ident in zip(mapper.primary_key, state.identity, strict=True)
        ]
        row = session.connection().execute(select(*columns.values()).where(*pk_criteria)).first()
        if row is not None:
            values.update(dict(zip(columns, row, strict=False)))
    return values


def _current_values(obj) -> dict[str, Any]:
    state = inspect(obj)
    values = {}
    for key, _column in _columns(obj):
        values[key] = state.dict[key] if key in state.dict else getattr(obj, key, None)
    return values


def _diff(session: Session, obj, before: dict[str, Any]) -> dict[str, dict]:
    after = _current_values(obj)
    changed = {}
    for key, new in after.items():
        if key not in before:
            continue
        old = before[key]
        if old == new and type(old) is type(new):
            continue
        changed[key] = (old, new)
    if not changed:
        return {}
    old_values = _values(session, obj, {key: old for key, (old, _new) in changed.items()})
    new_values = _values(session, obj, {key: new for key, (_old, new) in changed.items()})
    return {
        field: {"old": old_values.get(field), "new": new_values.get(field)}
        for field in new_values
        if old_values.get(field) != new_values.get(field) or field in SECRET
    }


def _values(session: Session, obj, raw: dict[str, Any]) -> dict[str, Any]:
    """Raw column values as stored strings, foreign keys named after their relation."""
    foreign = _foreign_keys(type(obj))
    encrypted = encryption.encrypted_columns(type(obj))
    values = {}
    for key, value in raw.items():
        if key in SECRET:
            values[key] = MASK if value else None
        elif key in encrypted:
            values[key] = encryption.seal(render(value))
        elif key in foreign:
            relation, target = foreign[key]
            values[relation] = _related_text(session, target, value)
        else:
            values[key] = render(value)
    return values


def _foreign_keys(model) -> dict[str, tuple[str, type]]:
    """Foreign-key column key -> (many-to-one relation name, target class)."""
    mapper = inspect(model)
    found = {}
    for relation in mapper.relationships:
        if relation.direction.name != "MANYTOONE" or len(relation.local_columns) != 1:
            continue
        (column,) = relation.local_columns
        attr = mapper.get_property_by_column(column)
        found.setdefault(attr.key, (relation.key, relation.mapper.class_))
    return found


def _related_text(session: Session, target: type, value) -> str | None:
    if value is None:
        return None
    related = session.get(target, value)
    if related is None:
        return f"#{value}"
    return _cut(f"{related} [#{value}]")


def render(value: Any) -> str | None:
    """A column value as a JSON-safe string."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return _cut(str(value))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _collections(obj, key: str) -> dict[str, tuple[list, list]]:
    """Changed many-to-many collections: (before, after) item lists."""
    state = inspect(obj)
    found = {}
    for name in COLLECTIONS.get(key, ()):
        history = state.attrs[name].history
        if history.added or history.deleted:
            unchanged = list(history.unchanged or ())
            found[name] = (unchanged + list(history.deleted), unchanged + list(history.added))
    return found


def _names(items) -> str | None:
    names = sorted({str(item) for item in items})
    return _cut(", ".join(names)) if names else None


def _title(obj) -> str | None:
    try:
        return _cut(str(obj))[:300]
    except Exception:  # noqa: BLE001 - a name that cannot be built must not stop the save
        return None


def request_actor() -> tuple[int | None, str | None, str | None]:
    """(user id, login name, address) of whoever makes the request; all None on the CLI.
    The change history and the security log both name people this way."""
    if not has_request_context():
        return None, None, None
    user = getattr(g, "user", None)
    user_id = username = None
    if user is not None and getattr(user, "is_authenticated", False):
        user_id = getattr(user, "id", None)
        username = getattr(user, "username", None)
    return user_id, username, (request.remote_addr or None)


def _row(actor, key: str, obj, action: ChangeAction, changes: dict, title: str | None = None):
    user_id, username, address = actor
    return {
        "changed_at": datetime.now(),
        "user_id": user_id,
        "username": username,
        "remote_addr": (address or "")[:45] or None,
        "model": key,
        "row_id": inspect(obj).identity[0] if inspect(obj).identity else getattr(obj, "id", 0),
        "record": title if title is not None else _title(obj),
        "action": action,
        "changes": json.dumps(changes, ensure_ascii=False, sort_keys=True),
    }


# --- reading ---------------------------------------------------------------


def records_of(model_key: str, row_id: int, limit: int = 50) -> tuple[list[ChangeRecord], int]:
    """A record's latest history rows and how many there are in all: one statement,
    the count riding along with the rows (no rows: none in all)."""
    where = (ChangeRecord.model == model_key, ChangeRecord.row_id == row_id)
    total = select(func.count()).select_from(ChangeRecord).where(*where).correlate(None)
    total = total.scalar_subquery()
    rows = db.session.execute(
        select(ChangeRecord, total)
        .where(*where)
        .order_by(ChangeRecord.changed_at.desc(), ChangeRecord.id.desc())
        .limit(limit)
    ).all()
    return [row[0] for row in rows], (rows[0][1] if rows else 0)


def field_label(model_key: str, field: str) -> str:
    model = model_of(model_key)
    labels = {**EXTRA_LABELS, **(labels_for(model) if model is not None else {})}
    return str(labels.get(field, field))


def display_value(model_key: str, field: str, value: str | None, masked: bool = False) -> str:
    """A stored value as the pages show it: labels for codes, yes/no, 2026-11-25 14:03, ¥1,200.00."""
    if value is None:
        return ""
    if field in masking.fields_of(model_key):
        return masking.shown(model_key, field, value, always=masked)
    model = model_of(model_key)
    column = getattr(getattr(model, "__table__", None), "columns", {}).get(field) if model else None
    if column is not None:
        if isinstance(column.type, Enum) and column.type.enum_class is not None:
            member = column.type.enum_class.__members__.get(value)
            if member is not None:
                return str(member)
        if value in ("true", "false") and isinstance(column.type, Boolean):
            return str(_l("Yes")) if value == "true" else str(_l("No"))
        try:
            if isinstance(column.type, DateTime):
                return format_datetime(datetime.fromisoformat(value))
            if isinstance(column.type, Numeric):
                return format_money(Decimal(value))
        except (ValueError, ArithmeticError):
            pass  # written by an older release in another form: shown as stored
    return value


def describe(record: ChangeRecord, masked: bool = False) -> list[tuple[str, str, str]]:
    """(field label, old, new) of a history row, as shown on pages; ``masked``: personal
    values masked whoever reads (the record's show page, where 显示 reveals them)."""
    return [
        (
            field_label(record.model, field),
            display_value(record.model, field, old, masked),
            display_value(record.model, field, new, masked),
        )
        for field, old, new in record.change_items()
    ]


def model_label(key: str | None) -> str:
    return str(MODEL_LABELS.get(key, key or ""))


def acting_label(record: ChangeRecord) -> str:
    return record.username or str(_l("System (command line)"))


def current_app_tracks(view) -> str | None:
    """The history key of a page's model, or None when its model is not tracked."""
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    return tracked_models().get(model) if model is not None else None
