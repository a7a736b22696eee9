"""A module list as a workbook: the list's columns, labels and enum labels, real types.

The view hands over the values of the rows its filters and sort select (a
streamed query); this module only decides how each column is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from sqlalchemy import Boolean, Date, DateTime, Enum, Float, Integer, Numeric, String, Text
from sqlalchemy.orm import RelationshipProperty

from . import xlsx


@dataclass
class ExportColumn:
    name: str
    label: str
    kind: str
    width_hint: int
    convert: Callable[[Any], Any] | None = None  # stored value -> value to write


def export_columns(
    model,
    names: Sequence[str],
    labels: dict,
    computed: dict[str, Callable[[Any], Any] | None] | None = None,
) -> list[ExportColumn]:
    """How to write each of ``names`` of ``model``, from its SQLAlchemy type.

    Relations arrive already as text (the related record's ``str``); ``computed``
    names (not model attributes) are text made by their converter.
    """
    mapper = model.__mapper__
    computed = computed or {}
    columns = []
    for name in names:
        label = str(labels.get(name, name))
        if name in computed:
            columns.append(ExportColumn(name, label, "text", 14, computed[name]))
            continue
        prop = mapper.attrs.get(name)
        if isinstance(prop, RelationshipProperty):
            columns.append(ExportColumn(name, label, "text", 20))
            continue
        column_type = (
            prop.columns[0].type if prop is not None and hasattr(prop, "columns") else None
        )
        kind, hint, convert = _by_type(column_type)
        columns.append(ExportColumn(name, label, kind, hint, convert))
    return columns


def _by_type(column_type):
    if isinstance(column_type, DateTime):
        return "datetime", 0, None
    if isinstance(column_type, Date):
        return "date", 0, None
    if isinstance(column_type, Numeric) and not isinstance(column_type, Float):
        return "money", 0, None
    if isinstance(column_type, (Integer, Float)):
        return "plain", 0, None
    if isinstance(column_type, Boolean):
        labels = {True: _("Yes"), False: _("No")}
        return "plain", 0, labels.get
    if isinstance(column_type, Enum) and column_type.enum_class is not None:
        # Translate each label once per export, not once per cell.
        labels = {member: str(member.value) for member in column_type.enum_class}
        return "plain", 12, labels.get
    if isinstance(column_type, Text):
        return "text", 40, None
    if isinstance(column_type, String):
        length = column_type.length or 50
        return "text", min(max(length // 5, 12), 40), None
    return "auto", 0, None


def list_workbook(
    sheet_title: str, columns: Sequence[ExportColumn], rows: Iterable[Sequence[Any]]
) -> Workbook:
    """One sheet: header, one row per value tuple (capped at Excel's limit with a note), filter."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(_safe_title(sheet_title))
    formatter = xlsx.start_table(
        ws,
        [column.label for column in columns],
        [column.kind for column in columns],
        [column.width_hint for column in columns],
    )
    converters = [(index, column.convert) for index, column in enumerate(columns) if column.convert]
    if converters:
        rows = (_converted(row, converters) for row in rows)
    written, _truncated = xlsx.append_capped(ws, rows, formatter, export_note())
    xlsx.finish_table(ws, len(columns), written + 1)
    return workbook


def _converted(row, converters):
    row = list(row)
    for index, convert in converters:
        if row[index] is not None:
            row[index] = convert(row[index])
    return row


def export_note() -> str:
    return _(
        "The export stops at Excel's limit of %(rows)s rows; narrow the filters to "
        "export the rest.",
        rows=f"{xlsx.EXCEL_MAX_ROWS:,}",
    )


def _safe_title(title: str) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'") or "Sheet"
    return cleaned[:31]
