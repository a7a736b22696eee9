"""The receivables report's numbers (回款报表): plans, payments, what is owed and late.

For a period (``from``..``to``, inclusive) and a day ``as_of`` (today):

* per month of the period: the instalments planned in it and the money received in it;
* per customer and per owner (负责人): contract amounts, received, outstanding
  (未回款 = amount - received, as on the contract page) and overdue, as of ``as_of``;
* the aging of overdue amounts: each instalment's part not yet covered, by days
  past its date on ``as_of`` (未到期, 1–30, 31–90, 91–180, 180 天以上);
* the detail: the instalments planned in the period, and the payments received in it.

Money received pays a contract's instalments in date order, as on the contract
page (``app.services.payments.allocate``). Every query is narrowed to the
reader's data scope. Amounts are Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Contract, CrmUser, Customer, Payment, PaymentPlan
from app.services import scope
from app.services.payments import ZERO

# (label, lowest days overdue, highest) ; None: not yet due
AGING_BUCKETS = (
    (_l("Not yet due"), None, None),
    (_l("1–30 days"), 1, 30),
    (_l("31–90 days"), 31, 90),
    (_l("91–180 days"), 91, 180),
    (_l("Over 180 days"), 181, None),
)


@dataclass
class MonthRow:
    month: date  # the first day
    planned: Decimal = ZERO
    received: Decimal = ZERO


@dataclass
class BalanceRow:
    """One customer's or owner's contracts: amount, received, outstanding, overdue."""

    label: str
    amount: Decimal = ZERO
    received: Decimal = ZERO
    overdue: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.received


@dataclass
class AgingRow:
    label: str
    amount: Decimal = ZERO
    count: int = 0


@dataclass
class PlanRow:
    contract: str
    customer: str
    owner: str
    instalment: int
    planned_date: date
    planned_amount: Decimal
    covered: Decimal
    days_overdue: int | None  # None when not overdue

    @property
    def open_amount(self) -> Decimal:
        return self.planned_amount - self.covered


@dataclass
class Receivables:
    start: date
    end: date
    as_of: date
    months: list[MonthRow] = field(default_factory=list)
    customers: list[BalanceRow] = field(default_factory=list)
    owners: list[BalanceRow] = field(default_factory=list)
    aging: list[AgingRow] = field(default_factory=list)
    plans: list[PlanRow] = field(default_factory=list)  # planned in the period
    payments: list[tuple] = field(default_factory=list)  # received in the period

    @property
    def planned_total(self) -> Decimal:
        return sum((row.planned for row in self.months), ZERO)

    @property
    def received_total(self) -> Decimal:
        return sum((row.received for row in self.months), ZERO)

    @property
    def outstanding_total(self) -> Decimal:
        return sum((row.outstanding for row in self.customers), ZERO)

    @property
    def overdue_total(self) -> Decimal:
        return sum((row.amount for row in self.aging[1:]), ZERO)


def month_starts(start: date, end: date) -> list[date]:
    months, current = [], date(start.year, start.month, 1)
    while current <= end:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def aging_index(days_overdue: int | None) -> int:
    """The ``AGING_BUCKETS`` index of an open amount ``days_overdue`` days late."""
    if days_overdue is None or days_overdue <= 0:
        return 0
    for index, (_label, low, high) in enumerate(AGING_BUCKETS[1:], 1):
        if days_overdue >= low and (high is None or days_overdue <= high):
            return index
    return len(AGING_BUCKETS) - 1


def _owner_label(first_name, username) -> str:
    """The owner's name and login (names repeat, logins do not)."""
    if username is None:
        return str(_l("Pool (no owner)"))
    return f"{first_name} ({username})" if first_name else username


def receivables(start: date, end: date, as_of: date) -> Receivables:
    """Everything the report shows, from four queries."""
    result = Receivables(start, end, as_of)
    months = {month: MonthRow(month) for month in month_starts(start, end)}

    received_by_contract = dict(
        db.session.execute(
            scope.restrict(
                select(Payment.contract_id, func.sum(Payment.amount))
                .where(Payment.paid_on <= as_of)
                .group_by(Payment.contract_id),
                Payment,
            )
        ).all()
    )
    contracts = db.session.execute(
        scope.restrict(
            select(
                Contract.id,
                Contract.number,
                Contract.amount,
                Customer.code,
                Customer.name,
                CrmUser.first_name,
                CrmUser.username,
            )
            .join(Customer, Contract.customer_id == Customer.id)
            .outerjoin(CrmUser, Customer.owner_id == CrmUser.id),
            Contract,
        )
    ).all()
    info = {}
    by_customer: dict[str, BalanceRow] = {}
    by_owner: dict[str, BalanceRow] = {}
    for contract_id, number, amount, code, name, first_name, username in contracts:
        customer, owner = f"{code} {name}", _owner_label(first_name, username)
        info[contract_id] = (number, customer, owner)
        received = Decimal(received_by_contract.get(contract_id) or 0)
        for rows, key in ((by_customer, customer), (by_owner, owner)):
            row = rows.setdefault(key, BalanceRow(key))
            row.amount += Decimal(amount or 0)
            row.received += received

    aging = [AgingRow(str(label)) for label, _low, _high in AGING_BUCKETS]
    plans = db.session.execute(
        scope.restrict(
            select(
                PaymentPlan.contract_id,
                PaymentPlan.instalment,
                PaymentPlan.planned_date,
                PaymentPlan.planned_amount,
            ).order_by(PaymentPlan.contract_id, PaymentPlan.planned_date, PaymentPlan.instalment),
            PaymentPlan,
        )
    ).all()
    left: dict[int, Decimal] = {}
    for contract_id, instalment, planned_date, planned_amount in plans:
        if contract_id not in info:
            continue
        amount = Decimal(planned_amount)
        remaining = left.setdefault(
            contract_id, Decimal(received_by_contract.get(contract_id) or 0)
        )
        covered = min(amount, max(remaining, ZERO))
        left[contract_id] = remaining - covered
        open_amount = amount - covered
        days = (as_of - planned_date).days if planned_date < as_of else None
        number, customer, owner = info[contract_id]
        if open_amount > 0:
            bucket = aging[aging_index(days)]
            bucket.amount += open_amount
            bucket.count += 1
            if days is not None:
                by_customer[customer].overdue += open_amount
                by_owner[owner].overdue += open_amount
        if start <= planned_date <= end:
            months[date(planned_date.year, planned_date.month, 1)].planned += amount
            result.plans.append(
                PlanRow(
                    number,
                    customer,
                    owner,
                    instalment,
                    planned_date,
                    amount,
                    covered,
                    days if open_amount > 0 else None,
                )
            )

    payments = db.session.execute(
        scope.restrict(
            select(
                Payment.contract_id,
                Payment.paid_on,
                Payment.amount,
                Payment.method,
                Payment.invoice_number,
            )
            .where(Payment.paid_on >= start, Payment.paid_on <= end)
            .order_by(Payment.paid_on, Payment.id),
            Payment,
        )
    ).all()
    for contract_id, paid_on, amount, method, invoice in payments:
        months[date(paid_on.year, paid_on.month, 1)].received += Decimal(amount)
        number, customer, owner = info.get(contract_id, ("", "", ""))
        result.payments.append(
            (number, customer, owner, paid_on, Decimal(amount), str(method), invoice)
        )

    result.plans.sort(key=lambda row: (row.planned_date, row.contract, row.instalment))
    result.months = list(months.values())
    result.customers = sorted(
        (row for row in by_customer.values() if row.outstanding or row.overdue),
        key=lambda row: (-row.overdue, -row.outstanding, row.label),
    )
    result.owners = sorted(by_owner.values(), key=lambda row: (-row.overdue, row.label))
    result.aging = aging
    return result


# --- the dashboard's cards -------------------------------------------------------------


@dataclass
class PaymentCards:
    """This month's planned and received amounts, and what is overdue today."""

    planned: Decimal
    received: Decimal
    overdue: Decimal


def overdue_total(on: date) -> Decimal:
    """What is overdue on ``on``: per contract, the instalments due before it less what
    was received, when more (the same first-due-first-paid rule as everywhere)."""
    due = (
        select(
            PaymentPlan.contract_id.label("contract_id"),
            func.sum(PaymentPlan.planned_amount).label("due"),
        )
        .where(PaymentPlan.planned_date < on, *scope.conditions(PaymentPlan))
        .group_by(PaymentPlan.contract_id)
        .subquery()
    )
    paid = (
        select(Payment.contract_id.label("contract_id"), func.sum(Payment.amount).label("paid"))
        .where(Payment.paid_on <= on)
        .group_by(Payment.contract_id)
        .subquery()
    )
    late = due.c.due - func.coalesce(paid.c.paid, 0)
    query = select(func.coalesce(func.sum(case((late > 0, late), else_=0)), 0)).select_from(
        due.outerjoin(paid, paid.c.contract_id == due.c.contract_id)
    )
    return Decimal(db.session.scalar(query) or 0)


def payment_cards(on: date) -> PaymentCards:
    """Three queries, within the reader's data scope."""
    first = date(on.year, on.month, 1)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    planned = db.session.scalar(
        select(func.coalesce(func.sum(PaymentPlan.planned_amount), 0)).where(
            PaymentPlan.planned_date >= first,
            PaymentPlan.planned_date < after,
            *scope.conditions(PaymentPlan),
        )
    )
    received = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.paid_on >= first, Payment.paid_on < after, *scope.conditions(Payment)
        )
    )
    return PaymentCards(Decimal(planned or 0), Decimal(received or 0), overdue_total(on))


# --- ``crm alerts`` ----------------------------------------------------------------------

DUE_SOON_DAYS = 7


@dataclass
class InstalmentAlert:
    contract: str
    customer_code: str
    customer_name: str
    instalment: int
    planned_date: date
    open_amount: Decimal


def instalment_alerts(
    on: date, days: int = DUE_SOON_DAYS
) -> tuple[list[InstalmentAlert], list[InstalmentAlert]]:
    """(due within ``days`` from ``on``, overdue): instalments not yet covered."""
    horizon = date.fromordinal(on.toordinal() + days)
    plans = db.session.execute(
        select(
            PaymentPlan.contract_id,
            PaymentPlan.instalment,
            PaymentPlan.planned_date,
            PaymentPlan.planned_amount,
            Contract.number,
            Customer.code,
            Customer.name,
        )
        .join(Contract, PaymentPlan.contract_id == Contract.id)
        .join(Customer, PaymentPlan.customer_id == Customer.id)
        .where(PaymentPlan.planned_date <= horizon)
        .order_by(PaymentPlan.contract_id, PaymentPlan.planned_date, PaymentPlan.instalment)
    ).all()
    contract_ids = {row[0] for row in plans}
    received = (
        dict(
            db.session.execute(
                select(Payment.contract_id, func.sum(Payment.amount))
                .where(Payment.contract_id.in_(contract_ids))
                .group_by(Payment.contract_id)
            ).all()
        )
        if contract_ids
        else {}
    )
    left: dict[int, Decimal] = {}
    soon, overdue = [], []
    for contract_id, instalment, planned_date, amount, number, code, name in plans:
        remaining = left.setdefault(contract_id, Decimal(received.get(contract_id) or 0))
        covered = min(Decimal(amount), max(remaining, ZERO))
        left[contract_id] = remaining - covered
        if covered < amount:
            alert = InstalmentAlert(
                number, code, name, instalment, planned_date, Decimal(amount) - covered
            )
            (overdue if planned_date < on else soon).append(alert)
    overdue.sort(key=lambda alert: (alert.planned_date, alert.contract))
    soon.sort(key=lambda alert: (alert.planned_date, alert.contract))
    return soon, overdue
