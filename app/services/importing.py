"""Import customers, contacts, reporters, follow-ups, payment plans and payments from .xlsx.

Every row passes the same rules as the forms (``app.services.validation``)
plus the column lengths; any bad row means nothing is written, and the
report names each bad row and field. A record already in the database is
updated instead of duplicated: customers are matched by customer code,
contacts and reporters by customer code and name; follow-ups are always
added (a follow-up's contact is named, among its customer's). Payment plans and
payments name their contract by its number (a payment may name its instalment);
an instalment is matched by contract and instalment number, a payment always
added; the money rules (``app.services.payments``) hold for the file as a whole,
each row counted with the rows above it. The file's size, its unpacked size and
its row count are capped before any row is read.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from flask import current_app, g
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import Enum, Integer, Numeric, String, select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import Contact, Contract, Customer, FollowUp, Payment, PaymentPlan, Reporter
from app.models.labels import labels_for
from app.reports.xlsx import BOLD, header_row, set_widths, styled, table_widths
from app.services import audit, payments, pool, scope
from app.services.validation import validate

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UNPACKED_BYTES = 60 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 40
MAX_REPORTED_ERRORS = 300
CUSTOMER_CODE = "customer_code"  # the column naming a contact's or reporter's customer
CONTACT_NAME = "contact"  # a follow-up's contact, by name among its customer's contacts
CONTRACT_NUMBER = "contract_number"  # the column naming a plan's or payment's contract
PLAN_NUMBER = "plan"  # a payment's instalment, by its number among its contract's
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    *DATE_FORMATS,
)


class ImportRefused(Exception):
    """The file as a whole cannot be imported (not a workbook, too big, no header …)."""


@dataclass(frozen=True)
class ColumnSpec:
    field: str
    required: bool = False


@dataclass(frozen=True)
class ImportSpec:
    key: str
    model: type
    sheet: Any  # lazy sheet name
    columns: tuple[ColumnSpec, ...]
    keep_when_blank: tuple[str, ...] = ("status",)

    def label(self, column: str) -> str:
        return str(_label_source(self, column))


SPECS = {
    "customer": ImportSpec(
        "customer",
        Customer,
        _l("Customers"),
        (
            ColumnSpec("code", True),
            ColumnSpec("name", True),
            ColumnSpec("category"),
            ColumnSpec("status"),
            ColumnSpec("importance"),
            ColumnSpec("address"),
            ColumnSpec("phone"),
            ColumnSpec("email"),
        ),
    ),
    "contact": ImportSpec(
        "contact",
        Contact,
        _l("Contacts"),
        (
            ColumnSpec(CUSTOMER_CODE, True),
            ColumnSpec("name", True),
            ColumnSpec("position"),
            ColumnSpec("birth_date"),
            ColumnSpec("national_id"),
            ColumnSpec("phone"),
            ColumnSpec("email"),
            ColumnSpec("address"),
            ColumnSpec("status"),
        ),
    ),
    "reporter": ImportSpec(
        "reporter",
        Reporter,
        _l("Reporters"),
        (
            ColumnSpec(CUSTOMER_CODE, True),
            ColumnSpec("name", True),
            ColumnSpec("store"),
            ColumnSpec("phone"),
            ColumnSpec("email"),
            ColumnSpec("address"),
        ),
    ),
    "followup": ImportSpec(
        "followup",
        FollowUp,
        _l("Follow-ups"),
        (
            ColumnSpec(CUSTOMER_CODE, True),
            ColumnSpec(CONTACT_NAME),
            ColumnSpec("method"),
            ColumnSpec("content", True),
            ColumnSpec("followed_at", True),
            ColumnSpec("next_at"),
            ColumnSpec("next_step"),
        ),
        keep_when_blank=("method",),
    ),
    "payment_plan": ImportSpec(
        "payment_plan",
        PaymentPlan,
        _l("Payment plans"),
        (
            ColumnSpec(CONTRACT_NUMBER, True),
            ColumnSpec("instalment", True),
            ColumnSpec("planned_date", True),
            ColumnSpec("planned_amount", True),
        ),
        keep_when_blank=(),
    ),
    "payment": ImportSpec(
        "payment",
        Payment,
        _l("Payments received"),
        (
            ColumnSpec(CONTRACT_NUMBER, True),
            ColumnSpec(PLAN_NUMBER),
            ColumnSpec("paid_on", True),
            ColumnSpec("amount", True),
            ColumnSpec("method"),
            ColumnSpec("invoice_number"),
        ),
        keep_when_blank=("method",),
    ),
}


@dataclass
class RowError:
    row: int  # the Excel row number, 1 = header
    field: str  # the column's label ("" for the whole row)
    message: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0  # errors found beyond those listed

    @property
    def ok(self) -> bool:
        return not self.errors


# --- the template ----------------------------------------------------------


def template_workbook(spec: ImportSpec) -> Workbook:
    """An empty sheet with the headers (required ones starred), drop-downs and a help sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(spec.sheet)
    labels = [_header_text(spec, column) for column in spec.columns]
    set_widths(sheet, table_widths(labels, ["text"] * len(labels), _length_hints(spec)))
    sheet.append(header_row(sheet, labels))
    sheet.freeze_panes = "A2"
    for index, column in enumerate(spec.columns, 1):
        letter = sheet.cell(row=1, column=index).column_letter
        kind = _kind(spec, column.field)
        if kind == "enum":
            choices = [str(member) for member in _enum_class(spec, column.field)]
            validation = DataValidation(
                type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True
            )
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            sheet.add_data_validation(validation)
        elif kind == "date":
            sheet.column_dimensions[letter].number_format = "yyyy-mm-dd"
        elif kind == "datetime":
            sheet.column_dimensions[letter].number_format = "yyyy-mm-dd hh:mm"
        elif kind == "decimal":
            sheet.column_dimensions[letter].number_format = "0.00"
        elif kind == "integer":
            sheet.column_dimensions[letter].number_format = "0"
        else:  # keep phone numbers, ID numbers and codes as typed
            sheet.column_dimensions[letter].number_format = "@"
    _help_sheet(workbook.create_sheet(str(_l("Instructions"))), spec)
    return workbook


def _header_text(spec: ImportSpec, column: ColumnSpec) -> str:
    label = spec.label(column.field)
    return f"{label} *" if column.required else label


def _length_hints(spec: ImportSpec) -> list[int]:
    hints = []
    for column in spec.columns:
        length = _max_length(spec, column.field) or 10
        hints.append(min(length, 40))
    return hints


def _help_sheet(sheet, spec: ImportSpec) -> None:
    set_widths(sheet, [24, 90])
    sheet.append([styled(sheet, str(_l("How to fill in this workbook")), font=BOLD)])
    lines = [
        _("One record per row under the header; do not change the header row."),
        _("Columns marked * are required."),
        _(
            "Every row is checked by the same rules as the form; if any row is wrong, "
            "nothing is imported and each error is listed."
        ),
        _(
            "At most %(rows)d rows and %(size)d MB per file.",
            rows=MAX_ROWS,
            size=MAX_UPLOAD_BYTES // (1024 * 1024),
        ),
    ]
    if spec.key == "customer":
        lines.append(_("A row whose customer code already exists updates that customer."))
    elif spec.model in (PaymentPlan, Payment):
        lines.append(
            _(
                "The contract number must be an existing contract's number. Instalments "
                "and payments of one contract add up to at most its amount, counting the "
                "rows above; amounts are in yuan with at most two decimal places."
            )
        )
        if spec.model is PaymentPlan:
            lines.append(
                _(
                    "A row whose contract number and instalment match an existing "
                    "instalment updates it."
                )
            )
        else:
            lines.append(
                _(
                    "Every row adds a payment; the instalment, when given, is the number "
                    "of one of that contract's instalments."
                )
            )
    elif spec.model is FollowUp:
        lines.append(
            _(
                "The customer code must be an existing customer's code; the contact, when "
                "given, the name of one of that customer's contacts. Every row adds a follow-up."
            )
        )
    else:
        lines.append(
            _(
                "The customer code must be an existing customer's code. A row whose "
                "customer code and name match an existing record updates it."
            )
        )
    lines.append(
        _(
            "An empty cell empties the field on update; an empty status keeps "
            "the current status (new records get the default)."
        )
    )
    for line in lines:
        sheet.append(["", line])
    sheet.append([])
    sheet.append(
        [
            styled(sheet, str(_l("Column")), font=BOLD),
            styled(sheet, str(_l("What to enter")), font=BOLD),
        ]
    )
    for column in spec.columns:
        sheet.append([_header_text(spec, column), _column_hint(spec, column.field)])


def _column_hint(spec: ImportSpec, name: str) -> str:
    kind = _kind(spec, name)
    if kind == "enum":
        return _(
            "One of: %(choices)s",
            choices=", ".join(str(member) for member in _enum_class(spec, name)),
        )
    if kind == "date":
        return _("A date, e.g. 1990-05-01")
    if kind == "datetime":
        return _("A date and time, e.g. 2026-03-05 14:30")
    if kind == "decimal":
        return _("An amount in yuan, e.g. 12500.00")
    if kind == "integer":
        return _("A whole number, e.g. 1")
    if name == CUSTOMER_CODE:
        return _("An existing customer's code, e.g. C000123")
    if name == CONTRACT_NUMBER:
        return _("An existing contract's number, e.g. HT-2026-001")
    length = _max_length(spec, name)
    return _("Text, at most %(length)d characters", length=length) if length else ""


# --- reading ---------------------------------------------------------------


def read_rows(stream: BinaryIO, spec: ImportSpec) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header's fields and ``(row number, {field: cell value})`` of each non-blank row."""
    data = stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportRefused(
            _("The file is larger than %(size)d MB.", size=MAX_UPLOAD_BYTES // (1024 * 1024))
        )
    if not data:
        raise ImportRefused(_("The file is empty."))
    _check_package(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        raise ImportRefused(_not_a_workbook()) from error
    try:
        sheet = _pick_sheet(workbook, spec)
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        header = next(rows, None)
        fields = _header_fields(header or (), spec)
        found = []
        for number, values in enumerate(rows, start=2):
            if all(_blank(value) for value in values):
                continue
            if len(found) >= MAX_ROWS:
                raise ImportRefused(
                    _(
                        "The file has more than %(rows)d rows; split it into several files.",
                        rows=MAX_ROWS,
                    )
                )
            found.append(
                (
                    number,
                    {
                        name: value
                        for name, value in zip(fields, values, strict=False)
                        if name is not None
                    },
                )
            )
    except ImportRefused:
        raise
    except Exception as error:
        raise ImportRefused(_not_a_workbook()) from error
    finally:
        workbook.close()
    if not found:
        raise ImportRefused(_("The sheet has no rows under its header."))
    return [name for name in fields if name is not None], found


def _not_a_workbook() -> str:
    return _(
        "The file is not an Excel workbook (.xlsx). Download the template, "
        "fill it in and upload it."
    )


def _check_package(data: bytes) -> None:
    """A real .xlsx package whose unpacked size is reasonable (no zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            members = package.infolist()
            names = {member.filename for member in members}
            unpacked = sum(member.file_size for member in members)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportRefused(_not_a_workbook()) from None
    if "xl/workbook.xml" not in names:
        raise ImportRefused(_not_a_workbook())
    if unpacked > MAX_UNPACKED_BYTES or len(members) > 1000:
        raise ImportRefused(_("The workbook is too large once unpacked."))


def _pick_sheet(workbook, spec: ImportSpec):
    titles = {_normal(name) for name in _in_every_language(spec.sheet)}
    for sheet in workbook.worksheets:
        if _normal(sheet.title) in titles:
            return sheet
    return workbook.worksheets[0]


def _header_fields(header: Iterable[Any], spec: ImportSpec) -> list[str | None]:
    names = {}
    for column in spec.columns:
        names[_normal(column.field)] = column.field
        for text in _in_every_language(_label_source(spec, column.field)):
            names[_normal(text)] = column.field
    fields: list[str | None] = []
    unknown = []
    for cell in header:
        if _blank(cell):
            fields.append(None)
            continue
        name = names.get(_normal(str(cell)))
        if name is None:
            unknown.append(str(cell).strip())
        elif name in fields:
            raise ImportRefused(
                _("The column %(column)s appears twice in the header.", column=str(cell).strip())
            )
        fields.append(name)
    if unknown:
        raise ImportRefused(
            _(
                "Unknown columns in the header: %(columns)s. Use the template's header row.",
                columns=", ".join(unknown),
            )
        )
    missing = [spec.label(c.field) for c in spec.columns if c.required and c.field not in fields]
    if missing:
        raise ImportRefused(
            _(
                "Required columns are missing from the header: %(columns)s.",
                columns=", ".join(missing),
            )
        )
    return fields


def _label_source(spec: ImportSpec, name: str):
    if name == CUSTOMER_CODE:
        return labels_for(Customer)["code"]
    if name == CONTRACT_NUMBER:
        return labels_for(Contract)["number"]
    return labels_for(spec.model).get(name, name)


def _in_every_language(lazy_text) -> set[str]:
    texts = set()
    for language in current_app.config.get("LANGUAGES", {"zh": {}}):
        with force_locale(language):
            texts.add(str(lazy_text))
    return texts


def _normal(text: str) -> str:
    return "".join(str(text).replace("*", "").split()).casefold()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- checking and writing --------------------------------------------------


def import_workbook(stream: BinaryIO, spec: ImportSpec, may_update: bool = True) -> ImportResult:
    """Check every row; write them all in one transaction, or nothing at all."""
    fields, rows = read_rows(stream, spec)
    result = ImportResult()
    planned = _plan(spec, fields, rows, may_update, result)
    if result.errors:
        db.session.rollback()
        result.errors.sort(key=lambda error: error.row)
        if len(result.errors) > MAX_REPORTED_ERRORS:
            result.more_errors = len(result.errors) - MAX_REPORTED_ERRORS
            result.errors = result.errors[:MAX_REPORTED_ERRORS]
        return result
    try:
        for existing, values in planned:
            if existing is None:
                item = spec.model(**values)
                if spec.model is Customer:  # theirs who imports it, as on the add page
                    pool.default_owner(item, getattr(g, "user", None))
                db.session.add(item)
                result.created += 1
            else:
                for name, value in values.items():
                    setattr(existing, name, value)
                result.updated += 1
        audit.record(
            audit.IMPORT,
            spec.model.__name__,
            commit=False,
            created=result.created,
            updated=result.updated,
        )
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        current_app.logger.exception("import refused by the database")
        raise ImportRefused(
            _(
                "The database refused the import, so nothing was saved. "
                "Check the file and try again."
            )
        ) from error
    return result


def _plan(spec, fields, rows, may_update, result) -> list[tuple[Any, dict]]:
    customers = _customers_by_code(spec, rows)
    contracts = _contracts_by_number(spec, rows)
    plans = _plans_of(spec, contracts)
    existing = _existing(spec, rows, customers, plans)
    choices = {name: _enum_lookup(spec, name) for name in fields if _kind(spec, name) == "enum"}
    seen: dict[Any, int] = {}
    added: dict[int, Decimal] = {}  # per contract, what the rows above add to its sum
    planned = []
    for number, cells in rows:
        errors: dict[str, str] = {}
        values = {}
        for name in fields:
            if name in (CUSTOMER_CODE, CONTRACT_NUMBER):
                continue
            value, message = _convert(spec, name, cells.get(name), choices.get(name))
            if message:
                errors[name] = message
            else:
                values[name] = value
        if CUSTOMER_CODE in fields:
            code = _text(cells.get(CUSTOMER_CODE))
            customer = customers.get(code) if code else None
            if code and customer is None:
                errors[CUSTOMER_CODE] = _("Customer code %(code)s does not exist.", code=code)
            values["customer"] = customer
        if CONTRACT_NUMBER in fields:
            _find_contract(_text(cells.get(CONTRACT_NUMBER)), contracts, plans, values, errors)
        if CONTACT_NAME in values and spec.model is FollowUp:
            contact_name = values.pop(CONTACT_NAME)
            if contact_name is not None and customer is not None:
                values["contact"] = _contact_named(customer, contact_name)
                if values["contact"] is None:
                    errors[CONTACT_NAME] = _(
                        "%(customer)s has no contact named %(name)s.",
                        customer=str(customer),
                        name=contact_name,
                    )
        key = _match_key(spec, values)
        match = None
        if key is not None:
            if key in seen:
                errors.setdefault(
                    "",
                    _(
                        "The same record is already in row %(row)d; each record may appear once.",
                        row=seen[key],
                    ),
                )
            else:
                seen[key] = number
            candidates = existing.get(key, [])
            if len(candidates) > 1:
                errors.setdefault(
                    "",
                    _("Several existing records match this row; edit them on their pages instead."),
                )
            elif candidates:
                match = candidates[0]
                if not may_update:
                    errors.setdefault(
                        "", _("This record exists already and your role may not change it.")
                    )
        for name in spec.keep_when_blank:
            if name in values and values[name] is None:
                del values[name]
                default = _column(spec, name).default
                if match is None and default is not None and default.is_scalar:
                    values[name] = default.arg  # as the add form offers it
        checked = _values_for_rules(spec, match, values)
        for name, message in validate(spec.model, checked, pk=match.id if match else None).items():
            if name == "customer" and CUSTOMER_CODE in errors:
                continue  # already said: the code names no customer
            if name == "contract" and CONTRACT_NUMBER in errors:
                continue  # already said: the number names no contract
            errors.setdefault(name, message)
        if not errors and spec.model in (PaymentPlan, Payment):
            _within_contract_with_rows_above(spec, match, checked, added, errors)
        for name, message in errors.items():
            if name in ("customer", CUSTOMER_CODE):
                name = CUSTOMER_CODE
            elif name in ("contract", CONTRACT_NUMBER):
                name = CONTRACT_NUMBER
            label = spec.label(name)
            result.errors.append(RowError(number, label if name else "", str(message)))
        if not errors:
            planned.append((match, values))
    return planned


def _values_for_rules(spec, match, values) -> dict:
    """What the form would hold: the record's current values under the row's."""
    if match is None:
        return dict(values)
    current = {column.key: getattr(match, column.key) for column in spec.model.__table__.columns}
    current["customer"] = getattr(match, "customer", None)
    return {**current, **values}


def _contact_named(customer: Customer, name: str) -> Contact | None:
    """The customer's (first) contact called ``name``, as the reader may see it."""
    query = (
        select(Contact)
        .where(Contact.customer_id == customer.id, Contact.name == name)
        .order_by(Contact.id)
        .limit(1)
    )
    return db.session.scalars(scope.restrict(query, Contact)).first()


def _find_contract(contract_number, contracts, plans, values, errors) -> None:
    """The row's contract (and a payment's instalment) into ``values``, or why not."""
    contract = contracts.get(contract_number) if contract_number else None
    if contract_number and contract is None:
        errors[CONTRACT_NUMBER] = _(
            "Contract number %(number)s does not exist.", number=contract_number
        )
    values["contract"] = contract
    if PLAN_NUMBER not in values:
        return
    instalment = values.pop(PLAN_NUMBER)
    values["plan"] = None
    if instalment is not None and contract is not None:
        values["plan"] = plans.get((contract.id, instalment))
        if values["plan"] is None:
            errors[PLAN_NUMBER] = _(
                "Contract %(number)s has no instalment %(instalment)s.",
                number=contract.number,
                instalment=instalment,
            )


def _within_contract_with_rows_above(spec, match, values, added, errors) -> None:
    """The contract's sum with the rows above this one (the rule counts stored rows only)."""
    contract = values["contract"]
    field = "planned_amount" if spec.model is PaymentPlan else "amount"
    amount = Decimal(values[field])
    change = amount - (Decimal(getattr(match, field)) if match is not None else Decimal(0))
    above = added.get(contract.id, Decimal(0))
    if above:
        if spec.model is PaymentPlan:
            stored = payments.planned_total(contract.id, excluding=match.id if match else None)
        else:
            stored = payments.received_total(contract.id)
        total = stored + above + amount
        if total > Decimal(contract.amount or 0):
            errors[field] = payments.over_contract_message(spec.model, contract, total)
            return
    added[contract.id] = above + change


def _match_key(spec: ImportSpec, values: dict):
    if spec.model in (FollowUp, Payment):
        return None  # every row is a new follow-up or payment
    if spec.model is PaymentPlan:
        contract, instalment = values.get("contract"), values.get("instalment")
        if contract is None or instalment is None:
            return None
        return (contract.id, instalment)
    if spec.model is Customer:
        return values.get("code") or None
    customer, name = values.get("customer"), values.get("name")
    if customer is None or not name:
        return None
    return (customer.id, name)


def _customers_by_code(spec, rows) -> dict[str, Customer]:
    if spec.model is Customer:
        return {}
    codes = {_text(cells.get(CUSTOMER_CODE)) for _number, cells in rows} - {None}
    return {customer.code: customer for customer in _load_in_chunks(Customer, Customer.code, codes)}


def _contracts_by_number(spec, rows) -> dict[str, Contract]:
    if spec.model not in (PaymentPlan, Payment):
        return {}
    numbers = {_text(cells.get(CONTRACT_NUMBER)) for _number, cells in rows} - {None}
    return {
        contract.number: contract
        for contract in _load_in_chunks(Contract, Contract.number, numbers)
    }


def _plans_of(spec, contracts) -> dict[tuple[int, int], PaymentPlan]:
    """The instalments of the file's contracts, by (contract id, instalment)."""
    if spec.model not in (PaymentPlan, Payment):
        return {}
    ids = {contract.id for contract in contracts.values()}
    return {
        (plan.contract_id, plan.instalment): plan
        for plan in _load_in_chunks(PaymentPlan, PaymentPlan.contract_id, ids)
    }


def _existing(spec, rows, customers, plans=None) -> dict[Any, list]:
    """Records already stored, by the key a row matches them on."""
    found: dict[Any, list] = {}
    if spec.model is PaymentPlan:
        return {key: [plan] for key, plan in (plans or {}).items()}
    if spec.model is Payment:
        return found
    if spec.model is Customer:
        codes = {_text(cells.get("code")) for _number, cells in rows} - {None}
        for customer in _load_in_chunks(Customer, Customer.code, codes):
            found[customer.code] = [customer]
        return found
    if spec.model is FollowUp:
        return found
    ids = {customer.id for customer in customers.values()}
    for item in _load_in_chunks(spec.model, spec.model.customer_id, ids):
        found.setdefault((item.customer_id, item.name), []).append(item)
    return found


def _load_in_chunks(model, column, values, size: int = 500):
    values = sorted(values)
    for start in range(0, len(values), size):
        chunk = select(model).where(column.in_(values[start : start + size]))
        yield from db.session.scalars(scope.restrict(chunk, model))


def _enum_lookup(spec: ImportSpec, name: str) -> dict[str, Any]:
    """Normalised code or label (in any language) -> enumeration member."""
    lookup = {}
    for member in _enum_class(spec, name):
        lookup[_normal(member.name)] = member
        for text in _in_every_language(member.value):
            lookup[_normal(text)] = member
    return lookup


def _convert(spec: ImportSpec, name: str, raw: Any, choices=None) -> tuple[Any, str | None]:
    """A cell as the form's field would hold it, or an error message."""
    kind = _kind(spec, name)
    label = spec.label(name)
    if _blank(raw):
        return None, None
    if kind == "enum":
        member = (choices or _enum_lookup(spec, name)).get(_normal(_text(raw)))
        if member is not None:
            return member, None
        return None, _(
            "%(field)s must be one of: %(choices)s.",
            field=label,
            choices=", ".join(str(m) for m in _enum_class(spec, name)),
        )
    if kind == "date":
        if isinstance(raw, datetime):
            return raw.date(), None
        if isinstance(raw, date):
            return raw, None
        text = _text(raw)
        for pattern in DATE_FORMATS:
            try:
                return datetime.strptime(text, pattern).date(), None
            except ValueError:
                continue
        return None, _("%(field)s must be a date such as 1990-05-01.", field=label)
    if kind == "decimal":
        number = payments.as_decimal(_text(raw))
        if number is None:
            return None, _("%(field)s must be an amount such as 12500.00.", field=label)
        return number, None
    if kind == "integer":
        number = payments.as_decimal(_text(raw))
        if number is None or number != number.to_integral_value():
            return None, _("%(field)s must be a whole number.", field=label)
        return int(number), None
    if kind == "datetime":
        if isinstance(raw, datetime):
            return raw.replace(microsecond=0), None
        if isinstance(raw, date):
            return datetime(raw.year, raw.month, raw.day), None
        text = _text(raw)
        for pattern in DATETIME_FORMATS:
            try:
                return datetime.strptime(text, pattern), None
            except ValueError:
                continue
        return None, _("%(field)s must be a date and time such as 2026-03-05 14:30.", field=label)
    text = _text(raw)
    if any(ord(char) < 32 and char not in "\t\n\r" for char in text):
        return None, _("%(field)s contains a control character that cannot be stored.", field=label)
    length = _max_length(spec, name)
    if length and len(text) > length:
        return None, _(
            "%(field)s may be at most %(length)d characters.", field=label, length=length
        )
    return text, None


def _text(value: Any) -> str | None:
    """A cell as text: numbers without a trailing .0, dates in ISO form."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time()
            else value.isoformat(" ")
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _column(spec: ImportSpec, name: str):
    return spec.model.__table__.columns.get(name)


def _kind(spec: ImportSpec, name: str) -> str:
    if name == PLAN_NUMBER and spec.model is Payment:
        return "integer"  # the instalment's number
    column = _column(spec, name)
    if column is None:
        return "text"
    if isinstance(column.type, Numeric):
        return "decimal"
    if isinstance(column.type, Integer):
        return "integer"
    if isinstance(column.type, Enum) and column.type.enum_class is not None:
        return "enum"
    if column.type.__class__.__name__ == "DateTime":
        return "datetime"
    if column.type.__class__.__name__ == "Date":
        return "date"
    return "text"


def _enum_class(spec: ImportSpec, name: str):
    return _column(spec, name).type.enum_class


def _max_length(spec: ImportSpec, name: str) -> int | None:
    if name == CUSTOMER_CODE:
        return Customer.__table__.columns["code"].type.length
    if name == CONTRACT_NUMBER:
        return Contract.__table__.columns["number"].type.length
    column = _column(spec, name)
    if column is not None and isinstance(column.type, String):
        return column.type.length
    return None
