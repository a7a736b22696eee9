"""Payments (回款): the money rules shared by the pages, the API and imports.

A contract's instalments (``PaymentPlan``) add up to at most its amount, and
so do the payments received on it; the contract's amount cannot go below what
was received. Every amount is exact decimal yuan (two places, > 0; the
column check in validation.py counts the places).

Two people recording payments on one contract at the same moment must not
together exceed it: the payment rule locks the contract's row before it adds
up what was received, and the lock lasts until the save commits, so the second
save waits and then sees the first (``lock_contract``).

Plans and payments carry their contract's ``customer_id`` so that the data
scope (app.services.scope) narrows them on every channel like any customer
record; ``keep_customer_in_step`` sets it on every save and follows a
contract moved to another customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import selectinload, with_expression

from app.extensions import db
from app.models import Contract, Payment, PaymentPlan
from app.models.labels import label_of

ZERO = Decimal("0.00")


def _message(template, model, field, **extra) -> str:
    return str(template) % {"field": label_of(model, field), **extra}


def money(value) -> str:
    """An amount as the messages show it: ¥1,234.50."""
    return f"¥{Decimal(value or 0):,.2f}"


def as_decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# --- sums --------------------------------------------------------------------------


def received_total(contract_id, excluding=None) -> Decimal:
    """What was received on contract ``contract_id``, without payment ``excluding``."""
    query = select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.contract_id == contract_id
    )
    if excluding is not None:
        query = query.where(Payment.id != excluding)
    with db.session.no_autoflush:
        return Decimal(db.session.scalar(query) or 0)


def planned_total(contract_id, excluding=None) -> Decimal:
    """The instalments of contract ``contract_id``, without plan ``excluding``."""
    query = select(func.coalesce(func.sum(PaymentPlan.planned_amount), 0)).where(
        PaymentPlan.contract_id == contract_id
    )
    if excluding is not None:
        query = query.where(PaymentPlan.id != excluding)
    with db.session.no_autoflush:
        return Decimal(db.session.scalar(query) or 0)


def lock_contract(contract_id) -> None:
    """Hold contract ``contract_id``'s row until this transaction ends.

    PostgreSQL: ``SELECT … FOR UPDATE``. SQLite has no row locks but one writer
    at a time: a no-op UPDATE starts the write transaction now (the driver
    begins one at the first write), so a second writer waits (busy_timeout)
    until the first commits, and only then adds up what was received.
    """
    table = Contract.__table__
    with db.session.no_autoflush:
        if db.session.get_bind().dialect.name == "sqlite":
            db.session.execute(update(table).where(table.c.id == contract_id).values(id=table.c.id))
        else:
            db.session.execute(
                select(table.c.id).where(table.c.id == contract_id).with_for_update()
            )


# --- rules (validation.RULES) ---------------------------------------------------


def positive(field: str):
    def rule(values, model, pk):
        number = as_decimal(values.get(field))
        if number is not None and number <= 0:
            yield field, _message(_l("%(field)s must be greater than 0."), model, field)

    return rule


def over_contract_message(model, contract, total: Decimal) -> str:
    """Why ``model``'s rows (instalments or payments) of ``contract`` cannot add up to
    ``total`` (the rules below and the import, which also counts the file's rows)."""
    if model is PaymentPlan:
        template = _l(
            "%(field)s: the instalments of contract %(number)s would add up to "
            "%(total)s, more than its amount %(amount)s."
        )
        field_name = "planned_amount"
    else:
        template = _l(
            "%(field)s: the payments of contract %(number)s would add up to "
            "%(total)s, more than its amount %(amount)s."
        )
        field_name = "amount"
    return _message(
        template,
        model,
        field_name,
        number=contract.number,
        total=money(total),
        amount=money(contract.amount),
    )


def plan_within_contract():
    """The instalments of a contract add up to at most its amount."""

    def rule(values, model, pk):
        contract, amount = values.get("contract"), as_decimal(values.get("planned_amount"))
        if contract is None or contract.id is None or amount is None or amount <= 0:
            return
        total = planned_total(contract.id, excluding=pk) + amount
        if total > Decimal(contract.amount or 0):
            yield "planned_amount", over_contract_message(model, contract, total)

    return rule


def instalment_unique():
    def rule(values, model, pk):
        contract, number = values.get("contract"), values.get("instalment")
        if contract is None or contract.id is None or not isinstance(number, int):
            return
        query = select(PaymentPlan.id).where(
            PaymentPlan.contract_id == contract.id, PaymentPlan.instalment == number
        )
        if pk is not None:
            query = query.where(PaymentPlan.id != pk)
        with db.session.no_autoflush:
            taken = db.session.execute(query.limit(1)).first()
        if taken:
            yield (
                "instalment",
                _message(
                    _l("%(field)s %(value)s of this contract exists already."),
                    model,
                    "instalment",
                    value=number,
                ),
            )

    return rule


def plan_of_contract():
    """A payment's instalment belongs to the payment's contract."""

    def rule(values, model, pk):
        contract, plan = values.get("contract"), values.get("plan")
        if contract is not None and plan is not None and plan.contract_id != contract.id:
            yield (
                "plan",
                _message(_l("%(field)s belongs to another contract."), model, "plan"),
            )

    return rule


def payments_within_contract():
    """Payments received add up to at most the contract's amount (under the row lock)."""

    def rule(values, model, pk):
        contract, amount = values.get("contract"), as_decimal(values.get("amount"))
        if contract is None or contract.id is None or amount is None or amount <= 0:
            return
        lock_contract(contract.id)
        total = received_total(contract.id, excluding=pk) + amount
        if total > Decimal(contract.amount or 0):
            yield "amount", over_contract_message(model, contract, total)

    return rule


def contract_covers_received():
    """A contract's amount cannot be lowered below what was received on it."""

    def rule(values, model, pk):
        amount = as_decimal(values.get("amount"))
        if pk is None or amount is None:
            return
        received = received_total(pk)
        if amount < received:
            yield (
                "amount",
                _message(
                    _l("%(field)s cannot be less than the %(received)s already received."),
                    model,
                    "amount",
                    received=money(received),
                ),
            )

    return rule


PLAN_RULES = (positive("planned_amount"), instalment_unique(), plan_within_contract())
PAYMENT_RULES = (positive("amount"), plan_of_contract(), payments_within_contract())
CONTRACT_RULES = (contract_covers_received(),)


# --- what a contract has received, and what is overdue ----------------------------------
#
# Money received pays the instalments in date order (first due, first paid),
# whichever instalment a payment names: an instalment is overdue when its date
# has passed and what was received does not yet cover it and those before it.
# The SQL (list column, quick filter, reports) and the Python (show page) agree.


def today() -> date:
    """The day overdue is judged on (a function, so tests can fix it)."""
    return date.today()


def received_sql():
    """已回款 of each ``Contract`` row, as a correlated subquery."""
    return (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.contract_id == Contract.id)
        .correlate(Contract)
        .scalar_subquery()
    )


def due_sql(today: date):
    """What the instalments of each ``Contract`` row due before ``today`` add up to."""
    return (
        select(func.coalesce(func.sum(PaymentPlan.planned_amount), 0))
        .where(PaymentPlan.contract_id == Contract.id, PaymentPlan.planned_date < today)
        .correlate(Contract)
        .scalar_subquery()
    )


def overdue_condition(today: date):
    """Contracts with an overdue instalment (有逾期回款)."""
    return due_sql(today) > received_sql()


def with_money(query):
    """``query`` of contracts loading 已回款 and 未回款 in the same statement."""
    received = received_sql()
    return query.options(
        with_expression(Contract.received, received),
        with_expression(Contract.outstanding, Contract.amount - received),
    )


@dataclass
class Instalment:
    plan: PaymentPlan
    covered: Decimal  # what the money received pays of it, first due first paid
    overdue: bool

    @property
    def open_amount(self) -> Decimal:
        return Decimal(self.plan.planned_amount) - self.covered


def allocate(plans, received: Decimal, today: date) -> list[Instalment]:
    """``received`` spread over ``plans`` in date order; which are overdue on ``today``."""
    left = Decimal(received)
    result = []
    for plan in sorted(plans, key=lambda p: (p.planned_date, p.instalment, p.id or 0)):
        amount = Decimal(plan.planned_amount)
        covered = min(amount, max(left, ZERO))
        left -= covered
        result.append(Instalment(plan, covered, plan.planned_date < today and covered < amount))
    return result


@dataclass
class ContractMoney:
    """A contract's money on its page: received, outstanding, progress, plan, payments."""

    amount: Decimal
    received: Decimal
    instalments: list[Instalment] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.received

    @property
    def progress(self) -> int:
        """回款进度 in whole percent."""
        if self.amount <= 0:
            return 0
        return int(self.received * 100 / self.amount)

    @property
    def overdue(self) -> list[Instalment]:
        return [item for item in self.instalments if item.overdue]

    @property
    def overdue_amount(self) -> Decimal:
        return sum((item.open_amount for item in self.overdue), ZERO)


def contract_money(contract: Contract, today: date) -> ContractMoney:
    """Two queries: the contract's instalments and its payments."""
    plans = list(
        db.session.scalars(
            select(PaymentPlan)
            .where(PaymentPlan.contract_id == contract.id)
            .order_by(PaymentPlan.planned_date, PaymentPlan.instalment)
        )
    )
    payments = list(
        db.session.scalars(
            select(Payment)
            .where(Payment.contract_id == contract.id)
            .options(selectinload(Payment.plan))
            .order_by(Payment.paid_on, Payment.id)
        )
    )
    received = sum((Decimal(payment.amount) for payment in payments), ZERO)
    return ContractMoney(
        Decimal(contract.amount or 0), received, allocate(plans, received, today), payments
    )


# --- keeping customer_id in step ----------------------------------------------------


def _before_flush(session, _context, _instances) -> None:
    for item in (*session.new, *session.dirty):
        if isinstance(item, (PaymentPlan, Payment)):
            contract = item.contract
            if contract is None and item.contract_id is not None:
                contract = session.get(Contract, item.contract_id)
            if contract is not None and item.customer_id != contract.customer_id:
                item.customer_id = contract.customer_id
    for item in list(session.deleted):
        if isinstance(item, Contract):  # its plan goes with it (payments refuse the delete)
            plans = select(PaymentPlan).where(PaymentPlan.contract_id == item.id)
            for plan in session.scalars(plans):
                if plan not in session.deleted:
                    session.delete(plan)


def _after_flush(session, _context) -> None:
    moved = [
        item
        for item in session.dirty
        if isinstance(item, Contract) and db.inspect(item).attrs.customer_id.history.has_changes()
    ]
    for contract in moved:
        for model in (PaymentPlan, Payment):
            session.connection().execute(
                update(model.__table__)
                .where(model.__table__.c.contract_id == contract.id)
                .values(customer_id=contract.customer_id)
            )


_registered = False


def init_app(app) -> None:
    """Listen on the shared session class once, however many apps are created."""
    global _registered
    if _registered:
        return
    event.listen(db.session, "before_flush", _before_flush)
    event.listen(db.session, "after_flush", _after_flush)
    _registered = True
