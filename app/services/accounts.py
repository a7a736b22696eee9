"""Account rules: who counts as signed in, and when a user may be deleted or deactivated.

"Signed in now" must be known to every worker and host, so it lives in the
database: ``ab_user.last_seen_at`` is set at sign-in, refreshed by requests
at most once a minute (``touch_last_seen``) and cleared at sign-out. A user
seen within ``CRM_SIGNED_IN_WINDOW`` counts as signed in; a browser closed
without signing out stops counting once the window has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_appbuilder import Model
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import CrmUser

TOUCH_INTERVAL = timedelta(minutes=1)
# Rows that go with the user and never block a delete.
OWNED_TABLES = {"ab_user_role", "ab_user_group", "ab_api_key"}


class AccountRuleBroken(Exception):
    """An account change is refused; ``str()`` is the user's message."""

    def __init__(self, message: str, can_deactivate: bool = False):
        super().__init__(message)
        self.can_deactivate = can_deactivate


def _now() -> datetime:
    return datetime.now()


def signed_in_window() -> timedelta:
    return current_app.config.get("CRM_SIGNED_IN_WINDOW", timedelta(minutes=30))


def is_signed_in(user: CrmUser, now: datetime | None = None) -> bool:
    seen = user.last_seen_at
    return seen is not None and seen > (now or _now()) - signed_in_window()


def mark_signed_in(user_id: int) -> None:
    _set_last_seen(user_id, _now())


def mark_signed_out(user_id: int) -> None:
    _set_last_seen(user_id, None)


def touch_last_seen(user: CrmUser) -> None:
    """Called per request; writes at most once a minute per user."""
    now = _now()
    if user.last_seen_at is None or now - user.last_seen_at >= TOUCH_INTERVAL:
        _set_last_seen(user.id, now)


def _set_last_seen(user_id: int, value: datetime | None) -> None:
    db.session.execute(update(CrmUser).where(CrmUser.id == user_id).values(last_seen_at=value))
    db.session.commit()


def admin_role_name() -> str:
    return current_app.config["AUTH_ROLE_ADMIN"]


def is_admin(user: CrmUser) -> bool:
    return any(role.name == admin_role_name() for role in user.roles)


def active_admin_ids() -> set[int]:
    return {
        user.id for user in db.session.scalars(select(CrmUser)) if user.is_active and is_admin(user)
    }


def references_to(user: CrmUser) -> int:
    """How many rows point at the user (feedback engineer, created/changed by, …).

    Walks every foreign key to ``ab_user.id`` on the metadata, so a new table
    with an audit column is covered without changing this function.
    """
    total = 0
    user_table = CrmUser.__table__
    for table in Model.metadata.sorted_tables:
        if table.name in OWNED_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column is not user_table.c.id:
                continue
            query = select(func.count()).select_from(table).where(fk.parent == user.id)
            if table is user_table:
                query = query.where(user_table.c.id != user.id)
            total += db.session.scalar(query) or 0
    return total


def check_deletable(user: CrmUser, acting_user_id: int | None) -> None:
    """Refuse deleting the acting admin's own account, the last admin, or an account in use."""
    name = str(user)
    if acting_user_id is not None and user.id == acting_user_id:
        raise AccountRuleBroken(
            _("Cannot delete user %(name)s: it is your own account.", name=name)
        )
    if is_admin(user) and active_admin_ids() <= {user.id}:
        raise AccountRuleBroken(
            _("Cannot delete user %(name)s: it is the last administrator.", name=name)
        )
    if is_signed_in(user):
        raise AccountRuleBroken(
            _(
                "Cannot delete user %(name)s: the account is signed in now. Deactivate it instead.",
                name=name,
            ),
            can_deactivate=user.is_active,
        )
    count = references_to(user)
    if count:
        raise AccountRuleBroken(
            _(
                "Cannot delete user %(name)s: %(count)d records refer to it "
                "(feedback engineer, created or changed by). Deactivate it instead.",
                name=name,
                count=count,
            ),
            can_deactivate=user.is_active,
        )


def check_change(user: CrmUser, acting_user_id: int | None, active: bool, admin: bool) -> None:
    """Refuse an edit that would leave no active administrator or lock out the editor.

    ``active`` and ``admin`` are the values the edit would store.
    """
    name = str(user)
    if acting_user_id is not None and user.id == acting_user_id and not active:
        raise AccountRuleBroken(
            _("Cannot deactivate user %(name)s: it is your own account.", name=name)
        )
    if (not active or not admin) and active_admin_ids() <= {user.id}:
        raise AccountRuleBroken(
            _(
                "User %(name)s is the last active administrator: it must stay active "
                "and keep the administrator role.",
                name=name,
            )
        )


def deactivate(user: CrmUser, acting_user_id: int | None) -> None:
    check_change(user, acting_user_id, active=False, admin=is_admin(user))
    user.active = False
    user.last_seen_at = None  # the session is refused from the next request on
    db.session.commit()
