"""Shared openpyxl helpers: safe cells, formats, headers, widths, printing, capped rows, sending.

Every workbook here is write-only: rows go to a temporary file as they are
appended, so memory stays flat however many rows there are. Every text value
passes through ``safe_cell`` (the one sanitising function).
"""

from __future__ import annotations

import math
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import request, send_file
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MONTH_FORMAT = "yyyy-mm"
HOURS_FORMAT = "#,##0.0"
INTEGER_FORMAT = "#,##0"
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0%"

# Set on a download when the request carries a ticket (static/crm/download_progress.js).
DOWNLOAD_COOKIE = "crm_download"

# Text starting with one of these is a formula, or becomes one when edited.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
TITLE_FONT = Font(bold=True, size=16)
BOLD = Font(bold=True)
NOTE_FONT = Font(italic=True, color="C00000")

# A table's header wraps onto this many lines of this height (11 pt text).
HEADER_LINES = 2
HEADER_LINE_POINTS = 15

# Column-width units across an A4 portrait page inside the default margins;
# a wider table prints landscape.
PORTRAIT_WIDTH = 90
# The size of a cell of default width and height (64 px by 20 px), to find where a chart ends.
DEFAULT_COLUMN_CM = 1.69
DEFAULT_ROW_CM = 0.53
# Excel refuses a page header longer than 255 characters, codes included.
HEADING_MAX = 200


def safe_cell(ws, value: Any):
    """The value to append for ``value``, safe to open in Excel.

    Text loses characters XML cannot hold and is cut to Excel's cell limit.
    Text that Excel would run or read as a formula or an error code (starting
    with = + - @, tab or carriage return) is written as a string cell with
    Excel's "quote prefix", so Excel shows it as typed, never runs it, and
    keeps it text when the cell is edited. The text itself is unchanged.
    """
    if not isinstance(value, str):
        return value
    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    value = value[:EXCEL_MAX_TEXT]
    if value.startswith(FORMULA_TRIGGERS) or value in ERROR_CODES:
        cell = WriteOnlyCell(ws, value)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell
    return value


def styled(
    ws, value: Any, number_format: str | None = None, font: Font | None = None, wrap: bool = False
):
    """A one-off formatted cell (titles, headers, KPI values)."""
    cell = safe_cell(ws, value)
    if not isinstance(cell, Cell):
        cell = WriteOnlyCell(ws, cell)
    if number_format:
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def header_row(ws, labels: Iterable[Any], wrap: bool = False) -> list:
    """A table's header: white bold text on blue (wrapped in narrow columns with ``wrap``)."""
    cells = []
    for label in labels:
        cell = styled(ws, str(label), font=HEADER_FONT, wrap=wrap)
        cell.fill = HEADER_FILL
        cells.append(cell)
    return cells


class RowFormatter:
    """Turns tuples of Python values into rows to append, by column kind.

    Kinds: ``text`` (sanitised), ``int``, ``hours``, ``money``, ``percent``,
    ``date``, ``datetime``, ``month``, ``auto`` (by the value's type). Formatted
    columns reuse one cell each: the write-only sheet writes a row out as it is
    appended, so the cell is free again for the next row.
    """

    FORMATS = {
        "int": INTEGER_FORMAT,
        "hours": HOURS_FORMAT,
        "money": MONEY_FORMAT,
        "percent": PERCENT_FORMAT,
        "date": DATE_FORMAT,
        "datetime": DATETIME_FORMAT,
        "month": MONTH_FORMAT,
    }

    def __init__(self, ws, kinds: Sequence[str]):
        self.ws = ws
        self.converters: list[Callable[[Any], Any]] = [self._converter(kind) for kind in kinds]

    def _converter(self, kind: str) -> Callable[[Any], Any]:
        ws = self.ws
        if kind == "text":
            return lambda value: safe_cell(ws, value)
        if kind == "plain":
            return lambda value: value
        if kind == "auto":
            return self._auto
        cell = WriteOnlyCell(ws)
        cell.number_format = self.FORMATS[kind]

        def formatted(value):
            if value is None or value == "":
                return None
            cell.value = value
            return cell

        return formatted

    def _auto(self, value):
        if isinstance(value, str) or value is None:
            return safe_cell(self.ws, value)
        if isinstance(value, bool):
            return value
        if isinstance(value, datetime):
            return styled(self.ws, value.replace(tzinfo=None), DATETIME_FORMAT)
        if isinstance(value, date):
            return styled(self.ws, value, DATE_FORMAT)
        if isinstance(value, Decimal):
            return styled(self.ws, value, MONEY_FORMAT)
        if isinstance(value, (int, float)):
            return value
        return safe_cell(self.ws, str(value))

    def __call__(self, values: Sequence[Any]) -> list:
        return [convert(value) for convert, value in zip(self.converters, values, strict=False)]


def display_width(text: Any) -> int:
    """Columns a text needs: wide (CJK) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def set_widths(ws, widths: Sequence[float]) -> None:
    """Column widths; call before the first row is appended."""
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = max(6, min(width, 60))


def header_width(label: Any, lines: int = 1) -> int:
    """Width for a header over ``lines`` lines, with room for words that do not split evenly."""
    return math.ceil(display_width(label) / lines) + 4


def table_widths(
    labels: Sequence[Any],
    kinds: Sequence[str],
    hints: Sequence[int] | None = None,
    header_lines: int = 1,
):
    """Sensible widths for a table: its header (on ``header_lines`` lines), its kind, or a hint.

    A long header that may wrap does not widen a column of short numbers, so
    that a table prints at a readable size once fitted to the page's width.
    """
    base = {
        "int": 10,
        "hours": 12,
        "money": 14,
        "percent": 10,
        "date": 12,
        "datetime": 17,
        "month": 10,
        "text": 16,
        "auto": 16,
        "plain": 12,
    }
    hints = hints or [0] * len(labels)
    return [
        max(header_width(label, header_lines), base.get(kind, 14), hint or 0)
        for label, kind, hint in zip(labels, kinds, hints, strict=False)
    ]


def print_layout(ws, heading: str, *, title_rows: int = 1) -> None:
    """Print settings shared by every sheet, so a printed report is readable.

    One page wide however many rows (as many pages tall as needed), landscape
    when the columns are wider than a portrait page, the first ``title_rows``
    repeated on every page, ``heading`` (the report's title and period) in the
    page header and "page X of Y" in the footer. Call it after the widths are
    set and before the first row: the fit-to-page flag is written with the
    sheet's first row. A chart beside a table goes in with ``chart_beside``.
    """
    width = sum(dimension.width or 0 for dimension in ws.column_dimensions.values())
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if width > PORTRAIT_WIDTH else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if title_rows:
        ws.print_title_rows = f"1:{title_rows}"
    # "&" starts a header code (&P, &N...): a literal one is doubled.
    ws.oddHeader.center.text = heading[:HEADING_MAX].replace("&", "&&")
    ws.oddFooter.center.text = _("Page &P of &N")


def start_table(
    ws,
    labels: Sequence[Any],
    kinds: Sequence[str],
    hints=None,
    *,
    heading: str | None = None,
) -> RowFormatter:
    """Widths, print layout (with a ``heading``), a frozen header row and the header itself.

    Returns the row formatter.
    """
    widths = table_widths(labels, kinds, hints, HEADER_LINES)
    set_widths(ws, widths)
    if heading is not None:
        print_layout(ws, heading)
    ws.freeze_panes = "A2"
    if any(display_width(label) + 2 > width for label, width in zip(labels, widths, strict=False)):
        ws.row_dimensions[1].height = HEADER_LINE_POINTS * HEADER_LINES
    ws.append(header_row(ws, labels, wrap=True))
    return RowFormatter(ws, kinds)


def finish_table(ws, columns: int, last_row: int, first_row: int = 1) -> None:
    """The auto-filter over the header and the rows written."""
    ws.auto_filter.ref = f"A{first_row}:{get_column_letter(columns)}{max(last_row, first_row)}"


def chart_beside(ws, chart, columns: int, rows: int) -> None:
    """Put ``chart`` right of a table of ``columns`` by ``rows`` (header included).

    Printed, the table and the chart are two print areas, each starting its
    own pages: fitted to one page wide, the table then shrinks to its own
    width rather than to the table and the chart side by side.
    """
    first = columns + 2
    last = first + math.ceil(chart.width / DEFAULT_COLUMN_CM)
    bottom = 2 + math.ceil(chart.height / DEFAULT_ROW_CM)
    ws.add_chart(chart, f"{get_column_letter(first)}2")
    ws.print_area = [
        f"A1:{get_column_letter(columns)}{max(rows, 1)}",
        f"{get_column_letter(first)}1:{get_column_letter(last)}{bottom}",
    ]


def row_cap(header_rows: int = 1) -> int:
    """Data rows that fit under ``header_rows`` with one row left for the note."""
    return EXCEL_MAX_ROWS - header_rows - 1


def append_capped(
    ws, rows: Iterable[Sequence[Any]], formatter: RowFormatter, note: str, header_rows: int = 1
) -> tuple[int, bool]:
    """Append rows up to Excel's limit; past it, write ``note`` as the last row.

    ``rows`` may yield one more row than fits: that is how truncation is
    noticed without counting first. Returns (rows written, truncated).
    """
    cap = row_cap(header_rows)
    written = 0
    for values in rows:
        if written >= cap:
            ws.append([styled(ws, note, font=NOTE_FONT)])
            return written, True
        ws.append(formatter(values))
        written += 1
    return written, False


def save_to_tempfile(workbook: Workbook):
    """The finished workbook in an anonymous temporary file, rewound."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - returned open, the caller closes it
    try:
        workbook.save(handle)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def content_disposition(filename: str, fallback: str) -> str:
    """``attachment`` with an ASCII name for old clients and the real one per RFC 5987."""
    ascii_name = fallback.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def send_workbook(workbook: Workbook, filename: str, fallback: str):
    """Stream the saved workbook from its temporary file (closed, so deleted, when sent)."""
    handle = save_to_tempfile(workbook)
    response = send_file(handle, mimetype=XLSX_MIMETYPE, max_age=0, conditional=False)
    response.headers["Content-Disposition"] = content_disposition(filename, fallback)
    response.headers["Cache-Control"] = "no-store"
    ticket = request.args.get("ticket", "")
    if re.fullmatch(r"[a-z0-9]{1,20}", ticket):  # the page's progress note waits for it
        response.set_cookie(
            DOWNLOAD_COOKIE, ticket, max_age=60, samesite="Lax", secure=request.is_secure
        )
    return response
