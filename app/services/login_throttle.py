"""Failed sign-ins are throttled per account and per client address.

Per account the state is in ``ab_user`` (``fail_login_count``, which
Flask-AppBuilder resets on success, and ``locked_until``), so every worker
and host sees it. Per address only failures are counted, by the ``limits``
library (what Flask-Limiter uses) in ``RATELIMIT_STORAGE_URI``: memory:// is
per process, a shared store (redis://, memcached://) spans workers. Both the
login form and the JSON login go through ``auth_user_db`` and so through here.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from flask import current_app, request
from flask_babel import gettext as _
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import CrmUser
from app.services import audit

NAMESPACE = "crm-login-failures"


def _address_limiter():
    state = current_app.extensions.get(NAMESPACE)
    uri = current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    if state is None or state[0] != uri:
        state = (uri, MovingWindowRateLimiter(storage_from_string(uri)))
        current_app.extensions[NAMESPACE] = state
    return state[1]


def _address_limit():
    return parse(current_app.config.get("CRM_LOGIN_ADDRESS_LIMIT", "20 per 15 minute"))


def _address_throttled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED"))


def client_address() -> str:
    return request.remote_addr or "unknown"


def _find_user(username: str) -> CrmUser | None:
    return db.session.scalar(
        select(CrmUser).where((CrmUser.username == username) | (CrmUser.email == username))
    )


def refusal(username: str) -> str | None:
    """The message to show instead of checking the password, or None to go on."""
    now = datetime.now()
    waits = []
    if _address_throttled():
        limiter, limit = _address_limiter(), _address_limit()
        if not limiter.test(limit, client_address()):
            reset_at = limiter.get_window_stats(limit, client_address()).reset_time
            waits.append(max(reset_at - time.time(), 0))
    user = _find_user(username) if username else None
    if user is not None and user.locked_until is not None and user.locked_until > now:
        waits.append((user.locked_until - now).total_seconds())
    if not waits:
        return None
    minutes = max(1, math.ceil(max(waits) / 60))
    return _("Too many failed sign-ins. Try again in %(minutes)d minutes.", minutes=minutes)


def record_address_failure() -> None:
    if _address_throttled():
        _address_limiter().hit(_address_limit(), client_address())


def record_account_failure(user: CrmUser) -> None:
    """Count the failure in one UPDATE (workers race) and lock the account at the limit."""
    config = current_app.config
    table = CrmUser.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == user.id)
        .values(fail_login_count=func.coalesce(table.c.fail_login_count, 0) + 1)
    )
    count = db.session.scalar(select(table.c.fail_login_count).where(table.c.id == user.id))
    limit = config.get("CRM_LOGIN_MAX_FAILURES", 0)
    if limit and count >= limit:
        minutes = config.get("CRM_LOGIN_LOCK_MINUTES", 15)
        db.session.execute(
            update(table)
            .where(table.c.id == user.id)
            .values(locked_until=datetime.now() + timedelta(minutes=minutes))
        )
        audit.record(audit.LOCKOUT, user.username, commit=False, failures=count, minutes=minutes)
    db.session.commit()


def reset_account(user: CrmUser) -> None:
    user.fail_login_count = 0
    user.locked_until = None
