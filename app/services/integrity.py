"""Delete protection: a record others depend on is not deleted, and we say why."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Contact,
    Contract,
    CrmUser,
    Customer,
    Department,
    Feedback,
    FollowUp,
    License,
    Payment,
    PaymentPlan,
    Product,
    Reporter,
)

NOUNS = {
    Customer: _l("Customer"),
    Contact: _l("Contact"),
    Contract: _l("Contract"),
    Product: _l("Product"),
    License: _l("License"),
    Feedback: _l("Feedback"),
    FollowUp: _l("Follow-up"),
    Reporter: _l("Reporter"),
    PaymentPlan: _l("Payment plan"),
    Payment: _l("Payment"),
    Department: _l("Department"),
    CrmUser: _l("User"),
}

# parent model -> the (child model, foreign key column) pairs that point at it
DEPENDENTS = {
    Customer: (
        (Contact, Contact.customer_id),
        (Contract, Contract.customer_id),
        (Product, Product.customer_id),
        (License, License.customer_id),
        (Reporter, Reporter.customer_id),
        (Feedback, Feedback.customer_id),
        (FollowUp, FollowUp.customer_id),
        (PaymentPlan, PaymentPlan.customer_id),
        (Payment, Payment.customer_id),
    ),
    Contact: ((FollowUp, FollowUp.contact_id),),
    Product: ((License, License.product_id), (Feedback, Feedback.product_id)),
    Reporter: ((Feedback, Feedback.reporter_id),),
    Contract: ((Payment, Payment.contract_id),),
    PaymentPlan: ((Payment, Payment.plan_id),),
    Department: ((CrmUser, CrmUser.department_id), (Department, Department.parent_id)),
}


class DeleteRefused(Exception):
    """The record still has dependents; ``str()`` is the user's message."""


def count_dependents(item) -> list[tuple[type, int]]:
    counts = []
    for child, column in DEPENDENTS.get(type(item), ()):
        number = db.session.scalar(select(func.count()).where(column == item.id))
        if number:
            counts.append((child, number))
    return counts


def check_deletable(item) -> None:
    counts = count_dependents(item)
    if counts:
        parts = _("; ").join(
            _("%(count)d %(noun)s", count=number, noun=NOUNS[child]) for child, number in counts
        )
        raise DeleteRefused(
            _(
                "Cannot delete %(record)s: it still has %(parts)s. Delete or move them first.",
                record=str(item),
                parts=parts,
            )
        )


class BulkDeleteRefused(Exception):
    """Some of the records to delete still have dependents: nothing was deleted."""

    def __init__(self, refusals: list[str], count: int):
        super().__init__(
            _(
                "Nothing was deleted: %(refused)d of the %(count)d selected records still "
                "have dependent records.",
                refused=len(refusals),
                count=count,
            )
        )
        self.refusals = refusals


def delete_all_or_nothing(datamodel, items: list) -> None:
    """Delete ``items`` through ``datamodel`` in one transaction, or none of them.

    Raises ``BulkDeleteRefused`` when any has dependents (checked before anything
    is deleted) and ``SaveFailed`` when the database refuses.
    """
    refusals = []
    for item in items:
        try:
            check_deletable(item)
        except DeleteRefused as refusal:
            refusals.append(str(refusal))
    if refusals:
        raise BulkDeleteRefused(refusals, len(items))
    datamodel.delete_all(items)
