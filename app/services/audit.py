"""The security log (安全日志): one function writes it, every channel calls it.

``record(kind, target=…, **details)`` inserts one ``audit_event`` row and
emits the same event on the standard logger ``crm.audit``, so that an admin
can ship the log off the machine (syslog, journald) where nobody using the
app can alter it: set ``CRM_AUDIT_SYSLOG`` (config.py) or configure the
logger with ``logging.config``. Rows cannot be changed or deleted through
the ORM; ``prune`` drops rows older than a number of days (never fewer than
``MIN_KEEP_DAYS``: the Cybersecurity Law keeps network logs six months).

By default ``record`` commits: the events of a request that writes nothing
(a sign-in, an export, a reveal) must be kept. Inside a change (a role's
save) pass ``commit=False`` so the entry commits, or rolls back, with it.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, event, insert
from sqlalchemy.orm import Session

from app.extensions import db
from app.models.audit import AuditEvent
from app.services.history import request_actor

LOGGER = logging.getLogger("crm.audit")
MIN_KEEP_DAYS = 180
MAX_DETAIL = 4000

SIGN_IN, SIGN_IN_FAILED, SIGN_IN_REFUSED = "sign_in", "sign_in_failed", "sign_in_refused"
LOCKOUT, PASSWORD_CHANGED = "lockout", "password_changed"
USER_ADDED, USER_CHANGED, USER_DELETED = "user_added", "user_changed", "user_deleted"
ROLE_ADDED, ROLE_CHANGED, ROLE_DELETED = "role_added", "role_changed", "role_deleted"
DATA_SCOPE_CHANGED = "data_scope_changed"
EXPORT, IMPORT, BULK_DELETE, BACKUP = "export", "import", "bulk_delete", "backup"
REVEAL, ANONYMISE, PERSONAL_DATA = "reveal", "anonymise", "personal_data"
PRUNED = "audit_pruned"
KEYS_ROTATED = "keys_rotated"

KIND_LABELS = {
    SIGN_IN: _l("Sign-in"),
    SIGN_IN_FAILED: _l("Failed sign-in"),
    SIGN_IN_REFUSED: _l("Sign-in refused (throttled)"),
    LOCKOUT: _l("Account locked"),
    PASSWORD_CHANGED: _l("Password changed"),
    USER_ADDED: _l("User added"),
    USER_CHANGED: _l("User changed"),
    USER_DELETED: _l("User deleted"),
    ROLE_ADDED: _l("Role added"),
    ROLE_CHANGED: _l("Role changed"),
    ROLE_DELETED: _l("Role deleted"),
    DATA_SCOPE_CHANGED: _l("Data scope changed"),
    EXPORT: _l("Export"),
    IMPORT: _l("Import"),
    BULK_DELETE: _l("Bulk delete"),
    BACKUP: _l("Backup"),
    REVEAL: _l("Personal data revealed"),
    ANONYMISE: _l("Personal data deleted"),
    PERSONAL_DATA: _l("Personal data downloaded"),
    PRUNED: _l("Security log pruned"),
    KEYS_ROTATED: _l("Data key rotated"),
}

_PRUNING = "crm_audit_prune"
_registered = False


class AuditLogIsAppendOnly(Exception):
    """Raised by the session when code tries to change or delete a security-log row."""


def kind_label(kind: str | None) -> str:
    return str(KIND_LABELS.get(kind, kind or ""))


def init_app(app) -> None:
    """The append-only guard (once per process) and the configured log handler."""
    global _registered
    if not _registered:
        event.listen(AuditEvent, "before_update", _refuse_change)
        event.listen(AuditEvent, "before_delete", _refuse_change)
        event.listen(Session, "do_orm_execute", _refuse_bulk_change)
        _registered = True
    _configure_logger(app.config.get("CRM_AUDIT_SYSLOG"))


def _refuse_change(_mapper, _connection, _target) -> None:
    raise AuditLogIsAppendOnly("the security log is append-only")


def _refuse_bulk_change(state) -> None:
    """ORM ``update(AuditEvent)`` / ``delete(AuditEvent)`` statements, unless pruning."""
    if not (state.is_update or state.is_delete) or state.execution_options.get(_PRUNING):
        return
    mappers = getattr(state, "all_mappers", ()) or ()
    if any(mapper.class_ is AuditEvent for mapper in mappers):
        raise AuditLogIsAppendOnly("the security log is append-only")


def _configure_logger(address: str | None) -> None:
    """``CRM_AUDIT_SYSLOG``: a socket path (/dev/log) or host:port (UDP) to send to."""
    for handler in list(LOGGER.handlers):
        if getattr(handler, "crm_audit", False):
            LOGGER.removeHandler(handler)
            handler.close()
    LOGGER.setLevel(logging.INFO)
    if not address:
        return
    if ":" in address and not address.startswith("/"):
        host, _, port = address.rpartition(":")
        target: Any = (host, int(port))
    else:
        target = address
    handler = logging.handlers.SysLogHandler(
        address=target, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV
    )
    handler.setFormatter(logging.Formatter("changyi-crm: %(message)s"))
    handler.crm_audit = True
    LOGGER.addHandler(handler)


def _json_safe(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(item) for item in value]
    return str(value)


def record(
    kind: str,
    target: Any = None,
    *,
    commit: bool = True,
    username: str | None = None,
    **details: Any,
) -> None:
    """Write one event (and log it on ``crm.audit``). ``username``: who, when no one is
    signed in yet (a failed sign-in names the account tried in ``target``)."""
    user_id, actor, address = request_actor()
    text = json.dumps(_json_safe(details), ensure_ascii=False, sort_keys=True)
    if len(text) > MAX_DETAIL:
        text = json.dumps({"truncated": text[: MAX_DETAIL - 40]}, ensure_ascii=False)
    row = {
        "at": datetime.now(),
        "user_id": user_id,
        "username": (actor or username or None) and str(actor or username)[:256],
        "address": (address or "")[:45] or None,
        "kind": kind,
        "target": None if target is None else str(target)[:300],
        "details": text,
    }
    db.session.execute(insert(AuditEvent.__table__).values(**row))
    if commit:
        db.session.commit()
    LOGGER.info(
        "%s",
        json.dumps(
            {**row, "at": row["at"].isoformat(timespec="seconds"), "details": json.loads(text)},
            ensure_ascii=False,
            sort_keys=True,
        ),
    )


def prune(days: int) -> int:
    """Drop the rows older than ``days`` days; refuse fewer than ``MIN_KEEP_DAYS``."""
    if days < MIN_KEEP_DAYS:
        raise ValueError(f"the security log is kept at least {MIN_KEEP_DAYS} days")
    cutoff = datetime.now() - timedelta(days=days)
    result = db.session.execute(
        delete(AuditEvent).where(AuditEvent.at < cutoff),
        execution_options={_PRUNING: True, "synchronize_session": False},
    )
    count = result.rowcount or 0
    record(PRUNED, days=days, rows=count, commit=False)
    db.session.commit()
    return count
