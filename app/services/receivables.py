"""The receivables report's numbers (回款报表): plans, payments, what is owed and late.

For a period (``from``..``to``, inclusive) and a day ``as_of`` (today):

* per month of the period: the instalments planned in it and the money received in it;
* per customer and per owner (负责人): contract amounts, received, outstanding
  (未回款 = amount - received, as on the contract page) and overdue, as of ``as_of``;
* the aging of overdue amounts: each instalment's part not yet covered, by days
  past its date on ``as_of`` (未到期, 1–30, 31–90, 91–180, 180 天以上);
* the detail: the period's newest instalments and payments (``DETAIL_ROWS`` of each)
  and how many there are in all.

Money received pays a contract's instalments in date order, as on the contract
page (``app.services.payments.allocate``); here as a window sum in SQL, so that
every figure is a GROUP BY and no loop runs over every row (200 000 payments in
well under 2 s). Every query is narrowed to the reader's data scope. Amounts are
Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Numeric, case, func, literal, select, type_coerce, union_all

from app.extensions import db
from app.models import Contract, CrmUser, Customer, Payment, PaymentPlan
from app.services import payments, scope
from app.services.payments import ZERO
from app.services.sqlfunctions import stored_date

DETAIL_ROWS = 500  # rows of each detail sheet: the period's newest

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
    plans: list[PlanRow] = field(default_factory=list)  # the period's newest instalments
    payments: list[tuple] = field(default_factory=list)  # the period's newest payments
    plan_count: int = 0  # instalments planned in the period, listed or not
    payment_count: int = 0  # payments received in the period, listed or not

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


MONEY = Numeric(14, 2)
# the ``bucket`` of the per-customer rows of contract amounts and of received in ``_by_customer``
AMOUNT, RECEIVED = -1, -2
# Below a cent: SQLite adds amounts up in floating point, so "nothing left" may be 1e-9.
HALF_CENT = Decimal("0.005")


def received_by_contract(as_of: date):
    """What each contract had received on ``as_of``, within the reader's scope (a CTE)."""
    return (
        select(
            Payment.contract_id.label("contract_id"),
            func.sum(Payment.amount).label("received"),
        )
        .where(stored_date(Payment.paid_on) <= as_of, *scope.conditions(Payment))
        .group_by(Payment.contract_id)
        .cte("paid")
    )


def open_plans(paid, as_of: date):
    """Every instalment in the reader's scope with what is not yet covered on ``as_of``
    (``open_amount``) and its aging bucket (an ``AGING_BUCKETS`` index), as a subquery.

    First due, first paid, as ``payments.allocate``: with ``running`` the sum of the
    contract's instalments up to and including this one (a window sum in date order),
    what stays open of it is ``running - received`` (``beyond``) held between 0 and
    its amount. Not rounded in SQL (rounding costs a text conversion per row): an
    instalment is open when more than half a cent is left, and the sums are rounded
    to the cent in Python.
    """
    running = func.sum(PaymentPlan.planned_amount).over(
        partition_by=PaymentPlan.contract_id,
        order_by=(PaymentPlan.planned_date, PaymentPlan.instalment),
        rows=(None, 0),
    )
    planned = stored_date(PaymentPlan.planned_date)
    bucket = case(
        (planned >= as_of, 0),
        *(
            (planned >= as_of - timedelta(days=high), index)
            for index, (_label, _low, high) in enumerate(AGING_BUCKETS[1:], 1)
            if high is not None
        ),
        else_=len(AGING_BUCKETS) - 1,
    )
    plans = (
        select(
            PaymentPlan.customer_id,
            PaymentPlan.planned_amount,
            bucket.label("bucket"),
            (running - func.coalesce(paid.c.received, 0)).label("beyond"),
        )
        .outerjoin(paid, paid.c.contract_id == PaymentPlan.contract_id)
        .where(*scope.conditions(PaymentPlan))
        .subquery("plans")
    )
    open_amount = case(
        (plans.c.beyond >= plans.c.planned_amount, plans.c.planned_amount),
        else_=plans.c.beyond,
    )
    return (
        select(
            plans.c.customer_id,
            plans.c.bucket,
            type_coerce(open_amount, MONEY).label("open_amount"),
        )
        .where(plans.c.beyond > HALF_CENT)
        .subquery("open_plans")
    )


def receivables(start: date, end: date, as_of: date, detail_rows: int | None = None) -> Receivables:
    """Everything the report shows: sums and counts from GROUP BYs (the balances and
    the aging in one statement, the months in two), never a loop over every row; the detail sheets get the period's newest
    ``detail_rows`` rows of each (``DETAIL_ROWS``) and the counts of all of them."""
    detail_rows = DETAIL_ROWS if detail_rows is None else detail_rows
    result = Receivables(start, end, as_of)
    customers, owners, result.aging = _by_customer(as_of)
    result.customers = sorted(
        (row for row, _owner in customers.values() if row.outstanding or row.overdue),
        key=lambda row: (-row.overdue, -row.outstanding, row.label),
    )
    result.owners = sorted(owners.values(), key=lambda row: (-row.overdue, row.label))
    months = {month: MonthRow(month) for month in month_starts(start, end)}
    result.plan_count = _month_sums(
        months, "planned", PaymentPlan, PaymentPlan.planned_date, PaymentPlan.planned_amount
    )
    result.payment_count = _month_sums(months, "received", Payment, Payment.paid_on, Payment.amount)
    result.months = list(months.values())
    result.plans = _plan_details(start, end, as_of, detail_rows)
    result.payments = _payment_details(start, end, detail_rows)
    return result


def _by_customer(as_of: date):
    """Per customer: contract amount and received, and the open amounts per aging bucket;
    one statement (the payments added up once per contract), summed up per owner here.

    The amounts and what was received are two GROUP BYs: each contract's received
    total found by its primary key costs less than a join from every contract to
    the per-contract totals (SQLite would build an index on those for it).

    Returns ({customer id: (row, owner label)}, {owner label: row}, aging rows).
    """
    paid = received_by_contract(as_of)
    amounts = (
        select(Contract.customer_id, literal(AMOUNT), func.sum(Contract.amount), literal(0))
        .where(*scope.conditions(Contract))
        .group_by(Contract.customer_id)
    )
    received = (
        select(Contract.customer_id, literal(RECEIVED), func.sum(paid.c.received), literal(0))
        .select_from(paid)
        .join(Contract, Contract.id == paid.c.contract_id)
        .where(*scope.conditions(Contract))
        .group_by(Contract.customer_id)
    )
    plans = open_plans(paid, as_of)
    opened = select(
        plans.c.customer_id, plans.c.bucket, func.sum(plans.c.open_amount), func.count()
    ).group_by(plans.c.customer_id, plans.c.bucket)
    rows = db.session.execute(union_all(amounts, received, opened)).all()

    labels = {
        customer_id: (f"{code} {name}", _owner_label(first_name, username))
        for customer_id, code, name, first_name, username in db.session.execute(
            scope.restrict(
                select(Customer.id, *_owner_columns()).outerjoin(
                    CrmUser, Customer.owner_id == CrmUser.id
                ),
                Customer,
            )
        )
    }
    customers: dict[int, tuple[BalanceRow, str]] = {}
    owners: dict[str, BalanceRow] = {}
    for customer_id, bucket, amount, _count in rows:
        if bucket == AMOUNT:
            label, owner = labels[customer_id]
            customers[customer_id] = (BalanceRow(label, _money(amount)), owner)
    aging = [AgingRow(str(label)) for label, _low, _high in AGING_BUCKETS]
    for customer_id, bucket, amount, count in rows:
        if bucket == AMOUNT or customer_id not in customers:
            continue  # (an instalment of a contract out of scope: none, as they share it)
        if bucket == RECEIVED:
            customers[customer_id][0].received = _money(amount)
            continue
        amount = _money(amount)
        aging[bucket].amount += amount
        aging[bucket].count += count
        if bucket > 0:
            customers[customer_id][0].overdue += amount
    for row, owner in customers.values():
        total = owners.setdefault(owner, BalanceRow(owner))
        total.amount += row.amount
        total.received += row.received
        total.overdue += row.overdue
    return customers, owners, aging


def _owner_columns():
    return (Customer.code, Customer.name, CrmUser.first_name, CrmUser.username)


def _month_sums(months: dict, attribute: str, model, day, amount) -> int:
    """``model``'s ``amount`` per month of the period into ``months``; how many rows.

    Grouped by day (a date column, no per-row date function: both databases walk the
    date index) and summed up per month here: at most 366 groups a year.
    """
    first, last = min(months), max(months)
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    grouped = (
        select(day, func.sum(amount), func.count())
        .where(day >= first, day < after, *scope.conditions(model))
        .group_by(day)
    )
    count = 0
    for when, total, rows in db.session.execute(grouped):
        row = months[date(when.year, when.month, 1)]
        setattr(row, attribute, getattr(row, attribute) + _money(total))
        count += rows
    return count


def _plan_details(start: date, end: date, as_of: date, limit: int) -> list[PlanRow]:
    """The period's newest ``limit`` instalments, oldest first, each with what the money
    received covers of it (``payments.allocate`` over its contract's plan)."""
    newest = scope.restrict(
        select(PaymentPlan.id, PaymentPlan.contract_id)
        .where(PaymentPlan.planned_date >= start, PaymentPlan.planned_date <= end)
        .order_by(
            PaymentPlan.planned_date.desc(),
            PaymentPlan.contract_id.desc(),
            PaymentPlan.instalment.desc(),
        )
        .limit(limit),
        PaymentPlan,
    )
    wanted = dict(db.session.execute(newest).all())
    contract_ids = sorted(set(wanted.values()))
    plans: dict[int, list[PaymentPlan]] = {}
    received: dict[int, Decimal] = {}
    info = {}
    for first in range(0, len(contract_ids), 500):
        chunk = contract_ids[first : first + 500]
        for plan in db.session.scalars(
            select(PaymentPlan).where(PaymentPlan.contract_id.in_(chunk))
        ):
            plans.setdefault(plan.contract_id, []).append(plan)
        received.update(
            db.session.execute(
                select(Payment.contract_id, func.sum(Payment.amount))
                .where(Payment.contract_id.in_(chunk), Payment.paid_on <= as_of)
                .group_by(Payment.contract_id)
            ).all()
        )
        for contract_id, number, *owner in db.session.execute(
            select(Contract.id, Contract.number, *_owner_columns())
            .join(Customer, Contract.customer_id == Customer.id)
            .outerjoin(CrmUser, Customer.owner_id == CrmUser.id)
            .where(Contract.id.in_(chunk))
        ):
            code, name, first_name, username = owner
            info[contract_id] = (number, f"{code} {name}", _owner_label(first_name, username))
    rows = []
    for contract_id, items in plans.items():
        money_in = _money(received.get(contract_id))
        for item in payments.allocate(items, money_in, as_of):
            plan = item.plan
            if plan.id not in wanted:
                continue
            days = (as_of - plan.planned_date).days if item.overdue else None
            rows.append(
                PlanRow(
                    *info[contract_id],
                    plan.instalment,
                    plan.planned_date,
                    Decimal(plan.planned_amount),
                    item.covered,
                    days,
                )
            )
    rows.sort(key=lambda row: (row.planned_date, row.contract, row.instalment))
    return rows


def _payment_details(start: date, end: date, limit: int) -> list[tuple]:
    """The period's newest ``limit`` payments, oldest first."""
    query = scope.restrict(
        select(
            Contract.number,
            *_owner_columns(),
            Payment.paid_on,
            Payment.amount,
            Payment.method,
            Payment.invoice_number,
        )
        .join(Contract, Payment.contract_id == Contract.id)
        .join(Customer, Payment.customer_id == Customer.id)
        .outerjoin(CrmUser, Customer.owner_id == CrmUser.id)
        .where(Payment.paid_on >= start, Payment.paid_on <= end)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .limit(limit),
        Payment,
    )
    rows = [
        (
            number,
            f"{code} {name}",
            _owner_label(first_name, username),
            paid_on,
            _money(amount),
            str(method),
            invoice,
        )
        for number, code, name, first_name, username, paid_on, amount, method, invoice in (
            db.session.execute(query)
        )
    ]
    rows.reverse()
    return rows


def _money(value) -> Decimal:
    """A sum as exact yuan: SQLite's sums are floating point, their cents are not."""
    return Decimal(value or 0).quantize(ZERO)


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
