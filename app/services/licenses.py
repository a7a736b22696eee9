"""License state, per-customer license statistics and what ends soon.

The state of a license is decided here and nowhere else: ``state_of`` for one
license in Python, ``state_expression`` for the same rule as SQL, so that
pages, statistics, the API and the command line agree. "Today" is always a
parameter; ``today()`` gives the date in the configured time zone.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, false, func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Contract, Customer, License
from app.models.base import LabeledEnum
from app.services import scope

DEFAULT_WARNING_DAYS = 30
DEFAULT_TRIAL_MONTHS = 1


class LicenseState(LabeledEnum):
    """Declared in the order lists sort by: what needs attention first."""

    expiring = _l("Expiring soon")
    expired = _l("Expired")
    trial = _l("Trial")
    valid = _l("Valid")
    pending = _l("Not yet valid")


STATE_RANK = {state: rank for rank, state in enumerate(LicenseState)}
IN_FORCE = (LicenseState.valid, LicenseState.expiring, LicenseState.trial)


def today() -> date:
    """The current date where the business is (``BABEL_DEFAULT_TIMEZONE``)."""
    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    try:
        return datetime.now(ZoneInfo(name)).date() if name else date.today()
    except ZoneInfoNotFoundError:
        return date.today()


def warning_days() -> int:
    if has_app_context():
        return int(current_app.config.get("LICENSE_EXPIRY_WARNING_DAYS", DEFAULT_WARNING_DAYS))
    return DEFAULT_WARNING_DAYS


def trial_months() -> int:
    if has_app_context():
        return int(current_app.config.get("LICENSE_TRIAL_MONTHS", DEFAULT_TRIAL_MONTHS))
    return DEFAULT_TRIAL_MONTHS


def default_trial_end(valid_from: date, months: int | None = None) -> date:
    """The last day of a trial starting ``valid_from``: one calendar month by default.

    Both dates are days in force, so the trial ends the day before the same
    day ``months`` later (06-01 → 06-30); when that month has no such day, on
    its last day (01-31 → 02-28), as the civil code counts months.
    """
    months = trial_months() if months is None else months
    year, month = divmod(valid_from.year * 12 + valid_from.month - 1 + months, 12)
    days_in_month = monthrange(year, month + 1)[1]
    if valid_from.day > days_in_month:
        return date(year, month + 1, days_in_month)
    return date(year, month + 1, valid_from.day) - timedelta(days=1)


def end_or_trial_default(valid_from: date | None, valid_to: date | None, is_trial) -> date | None:
    """The end date to store: as given, else a trial's default end (pages and API alike)."""
    if valid_to is None and is_trial and valid_from is not None:
        return default_trial_end(valid_from)
    return valid_to


# --- state -----------------------------------------------------------------


def state_of(
    valid_from: date, valid_to: date, is_trial: bool, on: date, warn_days: int | None = None
) -> LicenseState:
    """The state on day ``on``; both end dates are days the license is in force.

    Expired wins over everything; a trial is shown as a trial while in force
    (a one-month trial would otherwise always read "expiring soon").
    Keep in step with ``_state_cases``.
    """
    warn_days = warning_days() if warn_days is None else warn_days
    if valid_to < on:
        return LicenseState.expired
    if valid_from > on:
        return LicenseState.pending
    if is_trial:
        return LicenseState.trial
    if valid_to <= on + timedelta(days=warn_days):
        return LicenseState.expiring
    return LicenseState.valid


def license_state(license: License, on: date, warn_days: int | None = None) -> LicenseState:
    return state_of(license.valid_from, license.valid_to, bool(license.is_trial), on, warn_days)


def _state_cases(on: date, warn_days: int | None):
    """``state_of`` as (SQL condition, state) pairs, first match wins."""
    warn_days = warning_days() if warn_days is None else warn_days
    return [
        (License.valid_to < on, LicenseState.expired),
        (License.valid_from > on, LicenseState.pending),
        (License.is_trial.is_(True), LicenseState.trial),
        (License.valid_to <= on + timedelta(days=warn_days), LicenseState.expiring),
    ], LicenseState.valid


def state_expression(on: date, warn_days: int | None = None):
    """SQL CASE giving the state code of each license row, for WHERE and GROUP BY."""
    cases, default = _state_cases(on, warn_days)
    return case(*[(condition, state.name) for condition, state in cases], else_=default.name)


def state_rank_expression(on: date, warn_days: int | None = None):
    """SQL CASE giving each row's position in ``LicenseState``, for ORDER BY."""
    cases, default = _state_cases(on, warn_days)
    return case(
        *[(condition, STATE_RANK[state]) for condition, state in cases],
        else_=STATE_RANK[default],
    )


def parse_state(code) -> LicenseState | None:
    """A state from its code as typed in a URL; ``None`` when unknown."""
    try:
        return LicenseState[str(code).strip()]
    except KeyError:
        return None


def filter_by_state(query, code, on: date):
    """``query`` narrowed to licenses in state ``code``; an unknown code matches none."""
    if code is None or str(code).strip() == "":
        return query
    state = parse_state(code)
    if state is None:
        return query.filter(false())
    return query.filter(state_expression(on) == state.name)


# --- statistics -------------------------------------------------------------


@dataclass(frozen=True)
class LicenseStats:
    """One customer's licenses (or everyone's when ``customer_id`` is None).

    ``seats_bought`` counts the seats of every non-trial license ever issued;
    ``seats_in_force`` the seats of licenses valid today, trials included.
    """

    customer_id: int | None
    customer_code: str
    customer_name: str
    licenses: int = 0
    trials: int = 0
    seats_bought: int = 0
    seats_in_force: int = 0
    expiring: int = 0
    expired: int = 0


def _aggregates(on: date):
    state = state_expression(on)

    def count_where(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    def seats_where(condition):
        return func.coalesce(func.sum(case((condition, License.seats), else_=0)), 0)

    return [
        func.count(License.id).label("licenses"),
        count_where(License.is_trial.is_(True)).label("trials"),
        seats_where(License.is_trial.is_(False)).label("seats_bought"),
        seats_where(state.in_([s.name for s in IN_FORCE])).label("seats_in_force"),
        count_where(state == LicenseState.expiring.name).label("expiring"),
        count_where(state == LicenseState.expired.name).label("expired"),
    ]


def _stats_from(row, customer_id=None, code="", name="") -> LicenseStats:
    return LicenseStats(
        customer_id=customer_id,
        customer_code=code,
        customer_name=name,
        licenses=int(row.licenses),
        trials=int(row.trials),
        seats_bought=int(row.seats_bought),
        seats_in_force=int(row.seats_in_force),
        expiring=int(row.expiring),
        expired=int(row.expired),
    )


def customer_license_stats(customer: Customer, on: date | None = None) -> LicenseStats:
    """One customer's statistics; zeros when it has no license."""
    on = on or today()
    row = db.session.execute(
        select(*_aggregates(on)).where(License.customer_id == customer.id)
    ).one()
    return _stats_from(row, customer.id, customer.code, customer.name)


def license_totals(on: date | None = None) -> LicenseStats:
    """The same figures over every license."""
    on = on or today()
    row = db.session.execute(
        select(*_aggregates(on)).select_from(License).where(*scope.conditions(License))
    ).one()
    return _stats_from(row)


def license_stats_by_customer(
    on: date | None = None, page: int = 0, page_size: int | None = None
) -> tuple[int, list[LicenseStats]]:
    """Customers that hold licenses, by code, one GROUP BY query; (count, page rows)."""
    on = on or today()
    query = (
        select(Customer.id, Customer.code, Customer.name, *_aggregates(on))
        .join(License, License.customer_id == Customer.id)
        .where(*scope.conditions(Customer))
        .group_by(Customer.id, Customer.code, Customer.name)
        .order_by(Customer.code)
    )
    count = db.session.scalar(
        select(func.count(func.distinct(License.customer_id))).where(*scope.conditions(License))
    )
    if page_size:
        query = query.offset(page * page_size).limit(page_size)
    rows = [_stats_from(row, row.id, row.code, row.name) for row in db.session.execute(query)]
    return int(count or 0), rows


def count_expiring(on: date | None = None) -> int:
    """Licenses in the "expiring soon" state, for KPI cards."""
    on = on or today()
    return int(
        db.session.scalar(
            select(func.count(License.id)).where(
                state_expression(on) == LicenseState.expiring.name, *scope.conditions(License)
            )
        )
    )


# --- alerts -----------------------------------------------------------------


def _window(on: date, days: int | None) -> tuple[date, date]:
    days = warning_days() if days is None else days
    return on, on + timedelta(days=days)


def _licenses_ending_condition(on: date | None, days: int | None):
    start, end = _window(on or today(), days)
    return and_(License.valid_to >= start, License.valid_to <= end, *scope.conditions(License))


def _contracts_ending_condition(on: date | None, days: int | None):
    start, end = _window(on or today(), days)
    return and_(Contract.end_date >= start, Contract.end_date <= end, *scope.conditions(Contract))


def licenses_ending(
    on: date | None = None, days: int | None = None, limit: int | None = None
) -> list[License]:
    """Licenses (trials too) whose last day falls between today and ``days`` later."""
    query = (
        select(License)
        .where(_licenses_ending_condition(on, days))
        .options(joinedload(License.customer), joinedload(License.product))
        .order_by(License.valid_to, License.serial)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def count_licenses_ending(on: date | None = None, days: int | None = None) -> int:
    return int(
        db.session.scalar(
            select(func.count(License.id)).where(_licenses_ending_condition(on, days))
        )
        or 0
    )


def contracts_ending(
    on: date | None = None, days: int | None = None, limit: int | None = None
) -> list[Contract]:
    """Contracts whose end date falls between today and ``days`` later."""
    query = (
        select(Contract)
        .where(_contracts_ending_condition(on, days))
        .options(joinedload(Contract.customer))
        .order_by(Contract.end_date, Contract.number)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def count_contracts_ending(on: date | None = None, days: int | None = None) -> int:
    return int(
        db.session.scalar(
            select(func.count(Contract.id)).where(_contracts_ending_condition(on, days))
        )
        or 0
    )
