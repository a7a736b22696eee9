"""Query discipline for the module pages: a constant number of queries per page.

Stock Flask-AppBuilder loads each row's related record (the customer, the
engineer…) with one lazy SELECT per row, and accepts any page size in the URL.
``EagerInterface`` joins the many-to-one relations a list shows into the page
query; ``clamp_paging`` and ``refuse_bad_paging`` keep the page size and page
number to what the pages offer.

``QueryGuards`` (part of every ``EagerInterface``) makes hostile URLs harmless
for every caller of the data interface, pages, exports and the REST API alike:
a key outside the integer range finds nothing instead of overflowing the
driver, an unknown sort column is ignored, filter values the database cannot
take (NUL characters, numbers beyond the column) are made harmless, and no
page or offset goes beyond what the database can count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from flask import abort, request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from sqlalchemy import Integer, Numeric, String, Text
from sqlalchemy.orm import joinedload

from app.services import search

MAX_PAGE_SIZE = 100
PAGING_ARG = re.compile(r"(page|psize)_")  # as loose as FAB's own urltools
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1  # PostgreSQL INTEGER, every key here
MAX_PAGE = INTEGER_MAX // MAX_PAGE_SIZE  # no table here has more rows than keys


def is_key(value) -> bool:
    """Could ``value`` (from a URL or a request body) be an integer primary key?"""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", value, re.ASCII):
            return False
        value = int(value)
    return isinstance(value, int) and INTEGER_MIN <= value <= INTEGER_MAX


def _without_nul(value):
    """PostgreSQL text cannot hold NUL; no stored value has one, so drop it from searches."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def _decimal_or_none(value):
    """A numeric filter value as a number, or None (FAB then leaves the filter out)."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _clamped_integer(value):
    """An integer filter value within the column's range, which keeps > and < meaning the same."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return value  # not a number: FAB's own conversion makes it match nothing
    return str(min(max(number, INTEGER_MIN), INTEGER_MAX))


class QueryGuards:
    """Mixin for FAB's ``SQLAInterface``: no request value reaches the database unchecked."""

    def get(self, id, *args, **kwargs):
        if self._integer_key(self.obj) and not is_key(id):
            return None
        return super().get(id, *args, **kwargs)

    def get_related_obj(self, col_name, value):
        """A relation filter's value: a key of the related table, else nothing matches."""
        if self._integer_key(self.get_related_model(col_name)) and not is_key(value):
            return None
        return super().get_related_obj(col_name, value)

    def apply_order_by(self, query, order_column, order_direction, *args, **kwargs):
        if order_column and not self._sortable(order_column):
            return query  # an unknown or forged sort column is ignored, not compiled into SQL
        return super().apply_order_by(query, order_column, order_direction, *args, **kwargs)

    def apply_filters(self, query, filters):
        if filters:
            filters = filters.copy()
            filters.filters = search.indexed_filters(filters.filters)  # full-text index (search.py)
            filters.values = [
                self._safe_filter_value(flt, value)
                for flt, value in zip(filters.filters, filters.values, strict=True)
            ]
        return super().apply_filters(query, filters)

    def apply_pagination(self, query, page, page_size):
        if page_size is not None:
            page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        if page is not None:
            page = max(0, min(int(page), MAX_PAGE))
        return super().apply_pagination(query, page, page_size)

    def _sortable(self, name: str) -> bool:
        """A column of the model, or ``relation.column`` through a many-to-one relation."""
        if not isinstance(name, str):
            return False
        root, _, leaf = name.partition(".")
        mapper = self.obj.__mapper__
        if not leaf:
            return root in mapper.columns
        relation = mapper.relationships.get(root)
        return relation is not None and not relation.uselist and leaf in relation.mapper.columns

    def _safe_filter_value(self, flt, value):
        if isinstance(value, list):
            return [self._safe_filter_value(flt, item) for item in value]
        column = self.obj.__table__.columns.get(getattr(flt, "column_name", ""))
        if column is None:
            return _without_nul(value)
        if isinstance(column.type, (String, Text)) and isinstance(value, (int, float, dict)):
            value = str(value)  # FAB adds "%" to it: a number or object would raise
        if isinstance(column.type, Integer) and not isinstance(value, bool):
            value = _clamped_integer(value)
        elif isinstance(column.type, Numeric):  # PostgreSQL refuses 'abc' > NUMERIC
            value = _decimal_or_none(value)
        return _without_nul(value)

    @staticmethod
    def _integer_key(model) -> bool:
        keys = model.__mapper__.primary_key
        return len(keys) == 1 and isinstance(keys[0].type, Integer)


class EagerLoading(QueryGuards):
    """Mixin for FAB's data model: load ``eager_relations`` with the rows.

    ``apply_all`` builds the page query for lists, related lists and ``get``
    (show, edit); the count query does not go through it, so it stays free
    of joins.
    """

    eager_relations: tuple[str, ...] = ()

    def apply_all(self, query, *args, **kwargs):
        query = super().apply_all(query, *args, **kwargs)
        if self.eager_relations:
            query = query.options(
                *(joinedload(getattr(self.obj, name)) for name in self.eager_relations)
            )
        return query


class EagerInterface(EagerLoading, SQLAInterface):
    def __init__(self, obj, session=None, eager: Iterable[str] = ()):
        super().__init__(obj, session)
        self.eager_relations = many_to_one(self, eager)


def many_to_one(datamodel, columns: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(name for name in columns or () if datamodel.is_relation_many_to_one(name))


_EAGER_CLASSES: dict[type, type] = {}


def eager_loading(datamodel, columns: Iterable[str] | None):
    """Make ``datamodel`` load the many-to-one relations among ``columns`` eagerly.

    A view may bring its own interface subclass (the license view does); it
    gets the mixin too, so no page falls back to one SELECT per row.
    """
    cls = type(datamodel)
    if not isinstance(datamodel, EagerLoading):
        if cls not in _EAGER_CLASSES:
            _EAGER_CLASSES[cls] = type(f"Eager{cls.__name__}", (EagerLoading, cls), {})
        datamodel.__class__ = _EAGER_CLASSES[cls]
    datamodel.eager_relations = many_to_one(datamodel, columns)
    return datamodel


def clamp_paging(page, page_size, default_size: int) -> tuple[int | None, int]:
    """A page number of at least 0 and a page size between 1 and ``MAX_PAGE_SIZE``."""
    page_size = page_size or default_size
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    if page is not None:
        page = max(0, min(int(page), MAX_PAGE))
    return page, page_size


def refuse_bad_paging():
    """Before a module page: a non-numeric page or page size is a 400, not FAB's 500."""
    for name, value in request.args.items():
        if PAGING_ARG.search(name) and not re.fullmatch(r"[+-]?\d{1,30}", value.strip(), re.ASCII):
            abort(400, description=_("Page and page size must be whole numbers."))
    return None
