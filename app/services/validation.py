"""Record rules shared by the pages, the REST API and imports.

Each rule looks at a mapping of field values (a form's data, or a model
instance read through ``values_of``) and yields ``(field, message)`` pairs.
``validate`` runs a model's rules and returns ``{field: message}``, empty
when the record may be saved. The database constraints back these rules up;
the rules exist so that users get a message instead of an IntegrityError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, Numeric, String, Text, select

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
from app.models.labels import label_of
from app.services import scope
from app.services.feedback import status_errors
from app.services.payments import CONTRACT_RULES, PAYMENT_RULES, PLAN_RULES

Rule = Callable[[Mapping[str, Any], type, Any], Iterator[tuple[str, str]]]

# re.ASCII: ``\d`` would otherwise accept full-width and other Unicode digits.
MOBILE = re.compile(r"^(\+?86[- ]?)?1[3-9]\d{9}$", re.ASCII)
LANDLINE = re.compile(r"^(0\d{2,3}[- ]?)?[1-9]\d{6,7}([- ]\d{1,6})?$", re.ASCII)
SERVICE_LINE = re.compile(r"^[48]00[- ]?\d{3}[- ]?\d{4}$", re.ASCII)
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_DIGITS = "10X98765432"


def trimmed(value):
    """Blanks around typed text are never meant: " C777 " is stored, and checked for
    duplicates, as "C777" by the pages and the API alike."""
    return value.strip() if isinstance(value, str) else value


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_valid_phone(value: str) -> bool:
    value = value.strip()
    return bool(MOBILE.match(value) or LANDLINE.match(value) or SERVICE_LINE.match(value))


def is_valid_national_id(value: str) -> bool:
    """An 18-character GB 11643 number: a real birth date and the right check digit."""
    value = value.strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        return False
    try:
        datetime.strptime(value[6:14], "%Y%m%d")
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], ID_WEIGHTS, strict=False))
    return ID_CHECK_DIGITS[total % 11] == value[17]


def national_id_check_digit(first_17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first_17, ID_WEIGHTS, strict=False))
    return ID_CHECK_DIGITS[total % 11]


REQUIRED = _l("%(field)s is required.")
# What a value of the wrong kind is told, on the pages and in the API alike.
NOT_READABLE = {
    "boolean": _l("%(field)s must be true or false."),
    "date": _l("%(field)s must be a date such as 2026-01-31."),
    "datetime": _l("%(field)s must be a date and time such as 2026-01-31 09:30."),
    "integer": _l("%(field)s must be a whole number."),
    "number": _l("%(field)s must be a number."),
    "text": _l("%(field)s must be text."),
    "choice": _l("Choose %(field)s from the list."),
}


def field_message(template, model, field, **extra) -> str:
    """``template`` with ``%(field)s`` as the field's label: every rule names its field."""
    return str(template) % {"field": label_of(model, field), **extra}


def required(*fields: str) -> Rule:
    def rule(values, model, pk):
        for field in fields:
            if is_blank(values.get(field)):
                yield field, field_message(REQUIRED, model, field)

    return rule


def phone(*fields: str) -> Rule:
    def rule(values, model, pk):
        for field in fields:
            value = values.get(field)
            if not is_blank(value) and not is_valid_phone(str(value)):
                yield (
                    field,
                    field_message(
                        _l(
                            "%(field)s must be a mainland mobile (11 digits) or landline number, "
                            "e.g. 13812345678 or 021-12345678."
                        ),
                        model,
                        field,
                    ),
                )

    return rule


def email(*fields: str) -> Rule:
    def rule(values, model, pk):
        for field in fields:
            value = values.get(field)
            if not is_blank(value) and not EMAIL.match(str(value).strip()):
                yield (
                    field,
                    field_message(_l("%(field)s is not a valid e-mail address."), model, field),
                )

    return rule


def national_id(field: str) -> Rule:
    def rule(values, model, pk):
        value = values.get(field)
        if not is_blank(value) and not is_valid_national_id(str(value)):
            yield (
                field,
                field_message(
                    _l(
                        "%(field)s must be a valid 18-digit national ID number "
                        "(birth date and check digit)."
                    ),
                    model,
                    field,
                ),
            )

    return rule


def code(field: str) -> Rule:
    def rule(values, model, pk):
        value = values.get(field)
        if not is_blank(value) and not CODE.match(str(value).strip()):
            yield (
                field,
                field_message(
                    _l("%(field)s may contain only letters, digits, '-' and '_'."), model, field
                ),
            )

    return rule


def not_before(start: str, end: str) -> Rule:
    def rule(values, model, pk):
        first, last = values.get(start), values.get(end)
        if (
            isinstance(first, (date, datetime))
            and isinstance(last, (date, datetime))
            and _as_datetime(last) < _as_datetime(first)
        ):
            yield (
                end,
                field_message(
                    _l("%(field)s must not be before %(other)s."),
                    model,
                    end,
                    other=label_of(model, start),
                ),
            )

    return rule


def after(start: str, end: str) -> Rule:
    """``end`` strictly later than ``start`` (a next follow-up after the follow-up)."""

    def rule(values, model, pk):
        first, last = values.get(start), values.get(end)
        if (
            isinstance(first, (date, datetime))
            and isinstance(last, (date, datetime))
            and _as_datetime(last) <= _as_datetime(first)
        ):
            yield (
                end,
                field_message(
                    _l("%(field)s must be after %(other)s."),
                    model,
                    end,
                    other=label_of(model, start),
                ),
            )

    return rule


# A time typed "now" on a slightly fast clock is not in the future.
FUTURE_SLACK = timedelta(minutes=5)


def not_in_future(field: str) -> Rule:
    def rule(values, model, pk):
        value = values.get(field)
        if isinstance(value, (date, datetime)) and _as_datetime(value) > datetime.now() + (
            FUTURE_SLACK
        ):
            yield field, field_message(_l("%(field)s may not be in the future."), model, field)

    return rule


def at_least(field: str, minimum: int) -> Rule:
    def rule(values, model, pk):
        value = values.get(field)
        if value is None or value == "":
            return
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            yield field, field_message(_l("%(field)s must be a number."), model, field)
            return
        if not number.is_finite() or number < minimum:
            yield (
                field,
                field_message(
                    _l("%(field)s must be at least %(minimum)s."), model, field, minimum=minimum
                ),
            )

    return rule


def unique(field: str) -> Rule:
    """Say which value is taken before the database's unique index refuses it."""

    def rule(values, model, pk):
        value = values.get(field)
        if is_blank(value) or "\x00" in str(value):
            return  # nothing to look up; fits_columns refuses a NUL
        value = str(value)
        column = getattr(model, field)
        query = select(model.id).where(column == value.strip())
        if pk is not None:
            query = query.where(model.id != pk)
        with db.session.no_autoflush:
            taken = db.session.execute(query.limit(1)).first()
        if taken:
            yield (
                field,
                field_message(
                    _l("%(field)s %(value)s is already in use."), model, field, value=value.strip()
                ),
            )

    return rule


def same_customer(*relations: str) -> Rule:
    """Related records (a product, a reporter) must belong to the record's customer."""

    def rule(values, model, pk):
        customer = values.get("customer")
        if customer is None:
            return
        for relation in relations:
            related = values.get(relation)
            if related is not None and related.customer_id != customer.id:
                yield (
                    relation,
                    field_message(_l("%(field)s belongs to another customer."), model, relation),
                )

    return rule


def owner_in_scope(field: str) -> Rule:
    """A new customer's owner: an active user the adding user may give customers to."""

    def rule(values, model, pk):
        owner = values.get(field)
        if pk is None and owner is not None and not scope.may_own(owner):
            yield (
                field,
                field_message(
                    _l("%(field)s must be an active user within your data scope."), model, field
                ),
            )

    return rule


def not_own_ancestor(field: str) -> Rule:
    """A department's parent may not be the department itself or one below it."""

    def rule(values, model, pk):
        parent = values.get(field)
        if pk is not None and parent is not None and parent.id in scope.department_tree(int(pk)):
            yield (
                field,
                field_message(
                    _l("%(field)s may not be the department itself or one below it."),
                    model,
                    field,
                ),
            )

    return rule


def feedback_life_cycle() -> Rule:
    """Allowed status moves and the cause a resolution needs (app.services.feedback)."""

    def rule(values, model, pk):
        yield from status_errors(values, pk).items()

    return rule


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


RULES: dict[type, tuple[Rule, ...]] = {
    Customer: (
        required("code", "name"),
        code("code"),
        unique("code"),
        phone("phone"),
        email("email"),
        owner_in_scope("owner"),
    ),
    Department: (required("name"), not_own_ancestor("parent")),
    Contact: (
        required("customer", "name"),
        national_id("national_id"),
        phone("phone"),
        email("email"),
    ),
    Contract: (
        required("customer", "number", "amount"),
        unique("number"),
        not_before("sign_date", "end_date"),
        at_least("amount", 0),
        *CONTRACT_RULES,
    ),
    PaymentPlan: (
        required("contract", "instalment", "planned_date", "planned_amount"),
        at_least("instalment", 1),
        *PLAN_RULES,
    ),
    Payment: (
        required("contract", "paid_on", "amount", "method"),
        *PAYMENT_RULES,
    ),
    Product: (required("customer", "name"),),
    License: (
        required("customer", "product", "serial", "seats", "valid_from", "valid_to"),
        unique("serial"),
        at_least("seats", 1),
        not_before("valid_from", "valid_to"),
        same_customer("product"),
    ),
    Reporter: (required("customer", "name"), phone("phone"), email("email")),
    Feedback: (
        required("customer", "reporter", "problem"),
        not_before("created_at", "resolved_at"),
        same_customer("reporter", "product"),
        feedback_life_cycle(),
    ),
    FollowUp: (
        required("customer", "content"),
        not_in_future("followed_at"),
        after("followed_at", "next_at"),
        same_customer("contact"),
    ),
    CrmUser: (
        required("username", "first_name", "phone", "email"),
        unique("username"),
        unique("email"),
        phone("phone"),
        email("email"),
        at_least("age", 0),
        at_least("years_of_work", 0),
    ),
}


def validate(model: type, values: Mapping[str, Any], pk: Any = None) -> dict[str, str]:
    """Every broken rule of ``model`` for ``values``, one message per field."""
    errors: dict[str, str] = {}
    for rule in (*RULES.get(model, ()), fits_columns):
        for field, message in rule(values, model, pk):
            errors.setdefault(field, message)
    return errors


INTEGER_RANGE = (-(2**31), 2**31 - 1)  # PostgreSQL INTEGER; SQLite takes the same


def fits_columns(values, model, pk):
    """Numbers and texts the column can hold, instead of a database error (or, on
    SQLite, silently stored infinities, extra decimals and over-long texts)."""
    for column in model.__table__.columns:
        value = values.get(column.key)
        if value is None or value == "" or isinstance(value, bool):
            continue
        if isinstance(value, str) and isinstance(column.type, (String, Text)):
            yield from _text_fits(value, column, model)
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            continue  # not a number at all: at_least() or the form says so
        if not number.is_finite():
            continue
        if isinstance(column.type, Numeric) and column.type.precision is not None:
            scale = column.type.scale or 0
            if abs(number) >= Decimal(10) ** (column.type.precision - scale):
                yield column.key, field_message(_l("%(field)s is too large."), model, column.key)
            elif number.as_tuple().exponent < -scale:
                yield (
                    column.key,
                    field_message(
                        _l("%(field)s may have at most %(places)s decimal places."),
                        model,
                        column.key,
                        places=scale,
                    ),
                )
        elif isinstance(column.type, Integer) and not (
            INTEGER_RANGE[0] <= number <= INTEGER_RANGE[1]
        ):
            yield column.key, field_message(_l("%(field)s is too large."), model, column.key)


def _text_fits(value: str, column, model):
    """VARCHAR(n) holds n characters (PostgreSQL refuses more); no text column holds NUL."""
    length = getattr(column.type, "length", None)
    if "\x00" in value:
        yield (
            column.key,
            field_message(
                _l("%(field)s contains a NUL character, which cannot be stored."), model, column.key
            ),
        )
    elif length and len(value) > length:
        yield (
            column.key,
            field_message(
                _l("%(field)s may have at most %(length)s characters (you typed %(typed)s)."),
                model,
                column.key,
                length=length,
                typed=len(value),
            ),
        )


def values_of(item: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {field: getattr(item, field, None) for field in fields}


def rule_fields(model: type) -> set[str]:
    """The fields any rule of ``model`` reads, to gather from a model instance."""
    names = {"customer"}
    for column in model.__mapper__.columns:
        names.add(column.key)
    for relationship in model.__mapper__.relationships:
        if not relationship.uselist:  # no rule reads a collection: never load one
            names.add(relationship.key)
    return names
