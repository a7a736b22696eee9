"""Enumerations: stable codes in the database, translated labels on screen."""

from flask_babel import lazy_gettext as _l

from .base import LabeledEnum


class CustomerCategory(LabeledEnum):
    retail_chain = _l("Retail chain")
    supermarket = _l("Supermarket")
    restaurant = _l("Restaurant")
    pharmacy = _l("Pharmacy")
    apparel = _l("Apparel")
    other = _l("Other")


class CustomerStatus(LabeledEnum):
    prospect = _l("Prospect")
    signed = _l("Signed")
    suspended = _l("Suspended")
    lost = _l("Lost")


class Importance(LabeledEnum):
    A = _l("Grade A")
    B = _l("Grade B")
    C = _l("Grade C")


class ContactStatus(LabeledEnum):
    active = _l("Employed")
    left = _l("Left")


class FeedbackLevel(LabeledEnum):
    urgent = _l("Urgent")
    high = _l("High")
    medium = _l("Medium")
    low = _l("Low")


class FeedbackStatus(LabeledEnum):
    new = _l("New")
    in_progress = _l("In progress")
    resolved = _l("Resolved")
    closed = _l("Closed")


class FollowUpMethod(LabeledEnum):
    phone = _l("Phone call")
    visit = _l("Visit")
    wechat = _l("WeChat")
    email = _l("By e-mail")
    meeting = _l("Meeting")
    other = _l("Other")


class PaymentMethod(LabeledEnum):
    bank_transfer = _l("Bank transfer")
    cheque = _l("Cheque")
    cash = _l("Cash")
    acceptance_bill = _l("Bank acceptance bill")
    other = _l("Other")


class DataScope(LabeledEnum):
    """Whose customers (and their records) a role's users see; the widest role wins."""

    all = _l("All data")
    department_tree = _l("Own department and below")
    department = _l("Own department")
    own = _l("Own customers only")


# widest first: a user with several roles gets the first one any of them has
DATA_SCOPE_ORDER = (
    DataScope.all,
    DataScope.department_tree,
    DataScope.department,
    DataScope.own,
)
