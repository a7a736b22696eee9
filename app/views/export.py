"""``<route_base>/export.xlsx`` on every module: the rows the list's filters select.

The filters and the sort are read from the same query string as the list
page, with Flask-AppBuilder's own parsing, joined with the view's base
filters, and applied by Flask-AppBuilder's data model to one streamed query:
every page, not just the one shown. The query selects only the columns
written; each related record shown (a feedback's customer, its engineer) is
loaded once per export, a batch of rows at a time, not once per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from itertools import islice
from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import Model, expose, has_access
from flask_appbuilder.exceptions import ApplyFilterException
from flask_appbuilder.urltools import get_filter_args, get_order_args
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.reports.list_export import export_columns, list_workbook
from app.reports.xlsx import send_workbook
from app.services import audit, masking


class ExportMixin:
    """Mixed into ``CrmModelView``; the ``export`` method maps to the EXPORT permission."""

    list_template = "crm/list.html"
    export_column_names: list[str] | None = None  # default: the list's columns
    # List columns that are not model attributes (a derived state): name -> a function
    # returning (SQL expression of the value, function from that value to the text
    # written, or None). Without one, such a column makes the export load whole records.
    export_expressions: dict[str, Callable[[], tuple[Any, Callable[[Any], Any] | None]]] = {}
    export_batch = 1000

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The list template shows the button only to those who may export.
        self.extra_args = {**(self.extra_args or {}), "export_resource": self.class_permission_name}

    @expose("/export.xlsx")
    @has_access
    def export(self):
        names = self.export_column_names or self.list_columns
        computed = {
            name: self.export_expressions[name]()
            for name in names
            if name in self.export_expressions
        }
        columns = export_columns(
            self.datamodel.obj,
            names,
            self.label_columns,
            {name: convert for name, (_expr, convert) in computed.items()},
        )
        masked = masking.masked_fields(self.datamodel.obj)
        for column in columns:
            if column.name in masked:  # personal data: masked unless the reader may reveal it
                column.convert = _masking(masked[column.name], column.convert)
        counted = _Counted(self.export_rows(names, computed))
        try:
            workbook = list_workbook(str(self.list_title), columns, counted)
        except (ApplyFilterException, SQLAlchemyError, LookupError, ValueError):
            self.datamodel.session.rollback()
            flash(
                _(
                    "The list's filters could not be applied, so nothing was exported. "
                    "Check the search values and try again."
                ),
                "danger",
            )
            return redirect(url_for(f"{self.endpoint}.list"))
        audit.record(
            audit.EXPORT,
            self.class_permission_name,
            list=str(self.list_title),
            filters=_filters_of(request.args),
            rows=counted.count,
        )
        today = date.today().isoformat()
        return send_workbook(
            workbook,
            f"{self.list_title}_{today}.xlsx",
            f"{self.route_base.strip('/').replace('/', '-')}_{today}.xlsx",
        )

    def _filters_and_order(self):
        """The list's filters (request and base) and sort, as the list page reads them."""
        filters = self.datamodel.get_filters(self.search_columns)
        get_filter_args(filters)
        order_column, direction = get_order_args().get(self.__class__.__name__, ("", ""))
        if order_column not in self.order_columns:
            order_column, direction = self.base_order or ("", "")
        return filters.get_joined_filters(self._base_filters), order_column, direction

    def export_rows(self, names: Sequence[str], computed: dict | None = None) -> Iterator[tuple]:
        """The value of each of ``names`` for every row the list selects, in its order.

        ``computed``: name -> (SQL expression, converter) for columns that are not
        model attributes (see ``export_expressions``).
        """
        computed = computed or {}
        datamodel = self.datamodel
        model = datamodel.obj
        filters, order_column, direction = self._filters_and_order()
        references = {
            name: getattr(model, name).property
            for name in names
            if name not in computed
            and (datamodel.is_relation_many_to_one(name) or datamodel.is_relation_one_to_one(name))
        }
        plain = [name for name in names if name not in references and name not in computed]
        if any(name not in model.__table__.columns for name in plain) or any(
            len(prop.local_columns) != 1 for prop in references.values()
        ):
            yield from self._rows_from_records(names, filters, order_column, direction)
            return
        keys = {name: next(iter(prop.local_columns)) for name, prop in references.items()}
        selected = [
            keys[name]
            if name in keys
            else computed[name][0].label(f"export_{index}")
            if name in computed
            else getattr(model, name)
            for index, name in enumerate(names)
        ]
        query = datamodel.session.query(*selected).select_from(model)
        # What FAB's apply_all does for a list page, less the paging and eager loads.
        query = datamodel.apply_filters(query, datamodel.get_inner_filters(filters))
        query = datamodel.apply_order_by(query, order_column, direction, add_pk=True)
        rows = iter(query.yield_per(self.export_batch))
        positions = [(names.index(name), prop.mapper.class_) for name, prop in references.items()]
        labels: dict[tuple[type, Any], str] = {}
        while batch := list(islice(rows, self.export_batch)):
            if not positions:
                yield from batch
                continue
            for index, related in positions:
                _load_labels(datamodel.session, related, {row[index] for row in batch}, labels)
            for row in batch:
                row = list(row)
                for index, related in positions:
                    if row[index] is not None:
                        row[index] = labels.get((related, row[index]))
                yield row

    def _rows_from_records(self, names, filters, order_column, direction) -> Iterator[tuple]:
        """For lists showing computed columns: whole records, streamed."""
        query = self.datamodel.apply_all(
            self.datamodel.session.query(self.datamodel.obj), filters, order_column, direction
        )
        for item in query.yield_per(self.export_batch):
            values = []
            for name in names:
                value = getattr(item, name, None)
                value = value() if callable(value) else value
                values.append(str(value) if isinstance(value, Model) else value)
            yield tuple(values)


def _masking(kind: str, convert):
    def masked(value):
        return masking.mask(kind, convert(value) if convert else value)

    return masked


class _Counted:
    """An iterator that counts what it hands out: the rows an export wrote."""

    def __init__(self, rows: Iterator):
        self.rows, self.count = iter(rows), 0

    def __iter__(self):
        return self

    def __next__(self):
        row = next(self.rows)
        self.count += 1
        return row


def _filters_of(args) -> dict[str, list[str] | str]:
    """The query string's filters and sort, as the security log keeps them."""
    found: dict[str, list[str] | str] = {}
    for name in args:
        values = args.getlist(name)
        found[name] = values[0] if len(values) == 1 else values
    return found


def _load_labels(session, related, ids, labels) -> None:
    """``str`` of each related record not seen yet, with one query per batch."""
    missing = [pk for pk in ids if pk is not None and (related, pk) not in labels]
    if not missing:
        return
    pk_column = related.__mapper__.primary_key[0]
    for record in session.scalars(select(related).where(pk_column.in_(missing))):
        labels[(related, getattr(record, pk_column.key))] = str(record)
