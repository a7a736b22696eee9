"""Customer owners and the pool (公海): who owns a new customer, claim, release,
transfer, and the sweep that returns idle customers to the pool.

Each use case checks, changes and commits, or raises ``PoolRefused`` with the
user's message and changes nothing; the pages and the command line call them.
Every owner change goes through the ORM, so the change history records it
(with its reason) and the record version stops two people claiming one
customer at the same moment: the second save fails and is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, g
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import Contract, CrmUser, Customer, Feedback
from app.services import history, scope
from app.services.querying import contains_pattern, keys_in

MAX_REASON_LENGTH = 200
MAX_TRANSFER = 100  # customers one transfer may move
POOL_PAGE_SIZE = 25


class PoolRefused(Exception):
    """Nothing changed; ``str()`` is the user's message."""


def now() -> datetime:
    return datetime.now()


# --- who owns a new customer ------------------------------------------------------


def default_owner(customer, user) -> None:
    """A customer added without an owner belongs to whoever adds it, unless they see
    all data (the admin): then it starts in the pool."""
    unowned = customer.owner is None and customer.owner_id is None
    if unowned and user is not None and not scope.current().everything:
        customer.owner = user  # the relationship: a form may have set it to None


class OwnerOnCreate:
    """Flask-AppBuilder's save hook for the customer page and its API: ``default_owner``."""

    def pre_add(self, item):
        super().pre_add(item)
        default_owner(item, getattr(g, "user", None))


# --- claim, release, transfer --------------------------------------------------------


def claim_limit() -> int:
    return int(current_app.config.get("CRM_POOL_CLAIM_LIMIT", 50))


def pool_page(term: str = "", page: int = 1) -> tuple[list[Customer], int]:
    """One page of the pool (customers without an owner) matching ``term``, and the count."""
    query = select(Customer).where(Customer.owner_id.is_(None))
    term = (term or "").strip()[:50]
    if term:
        pattern = contains_pattern(term)
        query = query.where(
            or_(
                Customer.code.ilike(pattern, escape="\\"), Customer.name.ilike(pattern, escape="\\")
            )
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page = max(1, page)
    rows = db.session.scalars(
        query.order_by(Customer.code).offset((page - 1) * POOL_PAGE_SIZE).limit(POOL_PAGE_SIZE)
    )
    return list(rows), total or 0


def claim(customer_id, user) -> Customer:
    """Make ``user`` the owner of the pool customer ``customer_id`` (领取)."""
    customer = db.session.get(Customer, customer_id) if customer_id else None
    if customer is None or customer.owner_id is not None:
        raise PoolRefused(
            _("This customer is no longer in the pool: someone else may have just claimed it.")
        )
    owned = db.session.scalar(
        select(func.count()).select_from(Customer).where(Customer.owner_id == user.id)
    )
    if owned >= claim_limit():
        raise PoolRefused(
            _(
                "You already own %(count)d customers, the most one person may hold; release "
                "one to the pool before claiming another.",
                count=owned,
            )
        )
    _change_owners([customer], user, _("Claimed from the pool"))
    return customer


def release(customer_id, user, reason: str) -> Customer:
    """Return the user's own customer ``customer_id`` to the pool (退回公海), saying why."""
    reason = _checked_reason(reason)
    customer = scope.get_visible(Customer, customer_id) if customer_id else None
    if customer is None:
        raise PoolRefused(_("The customer was not found, or you may not see it."))
    if customer.owner_id is None:
        raise PoolRefused(_("This customer is already in the pool."))
    if customer.owner_id != user.id and not scope.current().everything:
        raise PoolRefused(_("Only the customer's owner may return it to the pool."))
    _change_owners([customer], None, reason)
    return customer


def transfer(customer_ids, owner_id, reason: str) -> tuple[list[Customer], CrmUser]:
    """Give the customers ``customer_ids`` to the user ``owner_id`` (转移): all or none."""
    reason = _checked_reason(reason)
    keys = keys_in(customer_ids)[:MAX_TRANSFER]
    if not keys:
        raise PoolRefused(_("Choose at least one customer to transfer."))
    owner_key = keys_in([owner_id])
    owner = db.session.get(CrmUser, owner_key[0]) if owner_key else None
    if not scope.may_own(owner):
        raise PoolRefused(_("Choose an active user within your data scope as the new owner."))
    customers = list(
        db.session.scalars(scope.restrict(select(Customer).where(Customer.id.in_(keys)), Customer))
    )
    if len(customers) != len(keys):
        raise PoolRefused(
            _("Nothing was transferred: some of the chosen customers were not found.")
        )
    _change_owners(customers, owner, reason)
    return customers, owner


def visible_customers(ids) -> list[Customer]:
    """The customers ``ids`` the user may see, by code."""
    keys = keys_in(ids)[:MAX_TRANSFER]
    if not keys:
        return []
    query = select(Customer).where(Customer.id.in_(keys)).order_by(Customer.code)
    return list(db.session.scalars(scope.restrict(query, Customer)))


def possible_owners() -> list[CrmUser]:
    """The active users the signed-in user may give customers to (``scope.may_own``)."""
    query = select(CrmUser).where(CrmUser.active.is_(True))
    within = scope.owner_condition()
    if within is not None:
        query = query.where(within)
    return list(db.session.scalars(query.order_by(CrmUser.first_name, CrmUser.username)))


def _checked_reason(reason) -> str:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise PoolRefused(_("Say why (the reason is required)."))
    if len(reason) > MAX_REASON_LENGTH:
        raise PoolRefused(
            _("The reason may have at most %(count)d characters.", count=MAX_REASON_LENGTH)
        )
    return reason


def _change_owners(customers: list[Customer], owner: CrmUser | None, reason: str) -> None:
    """One transaction; a customer someone changed meanwhile refuses them all."""
    try:
        for customer in customers:
            customer.owner = owner
            history.note_reason(db.session, customer, reason)
        db.session.commit()
    except StaleDataError as error:
        db.session.rollback()
        raise PoolRefused(
            _(
                "Someone else changed this customer at the same moment; nothing was "
                "changed. Reload the page and try again."
            )
        ) from error
    except Exception:
        db.session.rollback()
        raise


# --- the sweep -------------------------------------------------------------------------


def idle_owned(days: int, at: datetime | None = None):
    """Owned customers with no change, contract, feedback or follow-up for ``days`` days."""
    cutoff = (at or now()) - timedelta(days=days)
    recent_contract = exists().where(
        and_(Contract.customer_id == Customer.id, Contract.created_on >= cutoff)
    )
    recent_feedback = exists().where(
        and_(Feedback.customer_id == Customer.id, Feedback.created_at >= cutoff)
    )
    return select(Customer).where(
        Customer.owner_id.is_not(None),
        Customer.changed_on < cutoff,
        or_(Customer.last_followup_at.is_(None), Customer.last_followup_at < cutoff),
        ~recent_contract,
        ~recent_feedback,
    )


def sweep(days: int | None = None, at: datetime | None = None) -> int:
    """Return idle customers to the pool; how many. A second run finds none of them."""
    days = days if days is not None else int(current_app.config.get("CRM_POOL_RETURN_DAYS", 90))
    customers = list(db.session.scalars(idle_owned(days, at).order_by(Customer.id)))
    if customers:
        reason = _("No activity for %(days)d days: returned to the pool", days=days)
        _change_owners(customers, None, reason)
    return len(customers)
