"""The service report (服务报表): feedback KPIs of a period as an Excel workbook.

Sheets: a summary (title, period, who and when, the KPIs, the targets), one
sheet per breakdown, the open backlog by age, the monthly trend, and the
period's feedback rows. The
numbers come from ``app.services.statistics``; this module only lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, PieChart, Reference

from app.extensions import db
from app.models import Customer, FeedbackLevel
from app.services import statistics
from app.services.statistics import DETAIL_COLUMNS, ReportQuery, ServiceStatistics

from . import xlsx

# (Kpis attribute, header, kind)
KPI_COLUMNS = (
    ("total", _l("Feedback count"), "int"),
    ("resolved", _l("Resolved"), "int"),
    ("resolution_rate", _l("Resolution rate"), "percent"),
    ("avg_hours", _l("Average resolution time (hours)"), "hours"),
    ("median_hours", _l("Median resolution time (hours)"), "hours"),
    ("within_target", _l("Resolved within target"), "int"),
    ("within_target_rate", _l("Within-target rate (of resolved)"), "percent"),
    ("open", _l("Open"), "int"),
    ("open_avg_age_hours", _l("Average open age (hours)"), "hours"),
    ("open_max_age_hours", _l("Oldest open age (hours)"), "hours"),
)

# (breakdown, sheet title, first column's header, chart, rows charted)
BREAKDOWN_SHEETS = (
    ("engineer", _l("By engineer"), _l("Tracking engineer"), "bar", 30),
    ("customer", _l("By customer"), _l("Customer"), "bar", 15),
    ("city", _l("By city"), _l("City"), "bar", 15),
    ("store", _l("By store"), _l("Store"), "bar", 15),
    ("cause", _l("By cause"), _l("Cause analysis"), "bar", 15),
    ("status", _l("By status"), _l("Problem status"), "pie", None),
    ("level", _l("By level"), _l("Level"), "bar", None),
)

DETAIL_KINDS = (
    "plain",
    "datetime",
    "datetime",
    "hours",
    "plain",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "plain",
    "plain",
    "text",
    "text",
    "text",
)
DETAIL_WIDTH_HINTS = (8, 0, 0, 0, 0, 12, 24, 14, 14, 0, 18, 0, 0, 0, 40, 40)

# (width, height) in cm of the charts beside the tables.
CHART_SIZES = {"bar": (20, 10), "pie": (14, 9), "backlog": (18, 9), "trend": (22, 10)}


@dataclass
class ReportMeta:
    generated_by: str
    generated_at: datetime
    customer_label: str


def service_report_workbook(
    query: ReportQuery, generated_by: str, as_of: datetime | None = None
) -> Workbook:
    """Compute the statistics of ``query`` and lay them out in a write-only workbook."""
    as_of = as_of or datetime.now()
    stats = statistics.service_statistics(query, as_of)
    customer = db.session.get(Customer, query.customer_id) if query.customer_id else None
    meta = ReportMeta(
        generated_by=generated_by,
        generated_at=as_of,
        customer_label=str(customer) if customer else _("All customers"),
    )
    cap = xlsx.row_cap()
    rows = statistics.detail_rows(query, limit=cap + 1)
    return build_workbook(stats, meta, rows)


def report_filename(query: ReportQuery) -> tuple[str, str]:
    """The Chinese, dated file name and its ASCII fallback."""
    period = f"{query.start.isoformat()}_{query.end.isoformat()}"
    return f"{_('Service report')}_{period}.xlsx", f"service-report_{period}.xlsx"


def build_workbook(stats: ServiceStatistics, meta: ReportMeta, rows) -> Workbook:
    workbook = Workbook(write_only=True)
    truncated = stats.kpis.total > xlsx.row_cap()
    heading = page_heading(stats)
    _summary_sheet(workbook, stats, meta, truncated, heading)
    for name, title, first_header, chart, chart_rows in BREAKDOWN_SHEETS:
        _breakdown_sheet(
            workbook, str(title), first_header, stats.breakdowns[name], chart, chart_rows, heading
        )
    _backlog_sheet(workbook, stats, heading)
    _trend_sheet(workbook, stats, heading)
    _detail_sheet(workbook, rows, heading)
    return workbook


def page_heading(stats: ServiceStatistics) -> str:
    """The printed pages' header: which report, which period."""
    return _(
        "Service report %(start)s to %(end)s",
        start=stats.query.start.isoformat(),
        end=stats.query.end.isoformat(),
    )


def _summary_sheet(
    workbook, stats: ServiceStatistics, meta: ReportMeta, truncated: bool, heading: str
):
    ws = workbook.create_sheet(_("Summary"))
    xlsx.set_widths(ws, (30, 22, 14))
    xlsx.print_layout(ws, heading)

    def cell(value, fmt=None, font=None):
        return xlsx.styled(ws, value, fmt, font)

    ws.append([cell(_("Service report"), font=xlsx.TITLE_FONT)])
    ws.append(
        [
            cell(_("Period"), font=xlsx.BOLD),
            cell(stats.query.start, xlsx.DATE_FORMAT),
            cell(stats.query.end, xlsx.DATE_FORMAT),
        ]
    )
    ws.append([cell(_("Customer"), font=xlsx.BOLD), xlsx.safe_cell(ws, meta.customer_label)])
    ws.append([cell(_("Generated by"), font=xlsx.BOLD), xlsx.safe_cell(ws, meta.generated_by)])
    ws.append(
        [
            cell(_("Generated at"), font=xlsx.BOLD),
            cell(meta.generated_at.replace(microsecond=0), xlsx.DATETIME_FORMAT),
        ]
    )
    ws.append([])
    ws.append(xlsx.header_row(ws, [_("KPI"), _("Value")]))
    for attribute, label, kind in KPI_COLUMNS:
        value = getattr(stats.kpis, attribute)
        ws.append([str(label), cell(value, xlsx.RowFormatter.FORMATS[kind])])
    ws.append([])
    ws.append(xlsx.header_row(ws, [_("Level"), _("Target (hours)")]))
    for member in FeedbackLevel:
        hours = stats.target_hours.get(member.name)
        ws.append([str(member.value), cell(hours, xlsx.INTEGER_FORMAT)])
    ws.append([])
    ws.append(
        [
            cell(
                _(
                    "Feedback belongs to the period by its creation date. Resolution time "
                    "runs from creation to resolution; the within-target rate is a share "
                    "of the resolved feedback; open means new or in progress."
                )
            )
        ]
    )
    if truncated:
        ws.append([cell(detail_note(), font=xlsx.NOTE_FONT)])


def detail_note() -> str:
    return _(
        "The detail sheet stops at Excel's limit of %(rows)s rows; the statistics "
        "count every feedback.",
        rows=f"{xlsx.EXCEL_MAX_ROWS:,}",
    )


def _breakdown_sheet(
    workbook,
    title: str,
    first_header,
    groups,
    chart: str | None,
    chart_rows: int | None,
    heading: str,
):
    ws = workbook.create_sheet(title)
    labels = [first_header, *(label for _attr, label, _kind in KPI_COLUMNS)]
    kinds = ["text", *(kind for _attr, _label, kind in KPI_COLUMNS)]
    formatter = xlsx.start_table(
        ws,
        [str(label) for label in labels],
        kinds,
        hints=[24] + [0] * len(KPI_COLUMNS),
        heading=heading,
    )
    for group in groups:
        ws.append(
            formatter([group.label, *(getattr(group.kpis, attr) for attr, _l_, _k in KPI_COLUMNS)])
        )
    xlsx.finish_table(ws, len(labels), len(groups) + 1)
    if chart and groups:
        shown = min(len(groups), chart_rows or len(groups))
        drawn = (_pie if chart == "pie" else _bar)(ws, title, shown)
        xlsx.chart_beside(ws, drawn, len(labels), len(groups) + 1)


def _show_axes(chart) -> None:
    # openpyxl 3.1 hides axes unless told otherwise.
    chart.x_axis.delete = False
    chart.y_axis.delete = False


def _bar(ws, title: str, rows: int) -> BarChart:
    chart = BarChart()
    chart.type = "col"
    chart.title = title
    chart.y_axis.title = _("Feedback count")
    chart.add_data(
        Reference(ws, min_col=2, max_col=3, min_row=1, max_row=rows + 1), titles_from_data=True
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=rows + 1))
    chart.width, chart.height = CHART_SIZES["bar"]
    _show_axes(chart)
    return chart


def _pie(ws, title: str, rows: int) -> PieChart:
    chart = PieChart()
    chart.title = title
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=rows + 1))
    chart.width, chart.height = CHART_SIZES["pie"]
    return chart


def _backlog_sheet(workbook, stats: ServiceStatistics, heading: str) -> None:
    """Open feedback by age group, split by level, with a stacked bar chart."""
    ws = workbook.create_sheet(_("Backlog age"))
    levels = list(FeedbackLevel)
    labels = [_("Age of open feedback"), _("Open"), *(str(member.value) for member in levels)]
    formatter = xlsx.start_table(
        ws,
        labels,
        ["text", *["int"] * (len(levels) + 1)],
        hints=[18] + [0] * (len(levels) + 1),
        heading=heading,
    )
    for group in stats.backlog:
        ws.append(
            formatter(
                [
                    group.label,
                    group.total,
                    *(group.by_level.get(member.name, 0) for member in levels),
                ]
            )
        )
    count = len(stats.backlog)
    xlsx.finish_table(ws, len(labels), count + 1)
    if count:
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "stacked"
        chart.overlap = 100
        chart.title = _("Backlog age")
        chart.y_axis.title = _("Open")
        chart.add_data(
            Reference(ws, min_col=3, max_col=len(labels), min_row=1, max_row=count + 1),
            titles_from_data=True,
        )
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=count + 1))
        chart.width, chart.height = CHART_SIZES["backlog"]
        _show_axes(chart)
        xlsx.chart_beside(ws, chart, len(labels), count + 1)


def _trend_sheet(workbook, stats: ServiceStatistics, heading: str) -> None:
    ws = workbook.create_sheet(_("Monthly trend"))
    labels = [_("Month"), *(str(label) for _attr, label, _kind in KPI_COLUMNS)]
    kinds = ["month", *(kind for _attr, _label, kind in KPI_COLUMNS)]
    formatter = xlsx.start_table(ws, labels, kinds, heading=heading)
    for month in stats.monthly:
        ws.append(
            formatter([month.month, *(getattr(month.kpis, attr) for attr, _l_, _k in KPI_COLUMNS)])
        )
    count = len(stats.monthly)
    xlsx.finish_table(ws, len(labels), count + 1)
    if count:
        chart = LineChart()
        chart.title = _("Monthly trend")
        chart.y_axis.title = _("Feedback count")
        chart.add_data(
            Reference(ws, min_col=2, max_col=3, min_row=1, max_row=count + 1), titles_from_data=True
        )
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=count + 1))
        chart.x_axis.number_format = xlsx.MONTH_FORMAT
        chart.width, chart.height = CHART_SIZES["trend"]
        _show_axes(chart)
        xlsx.chart_beside(ws, chart, len(labels), count + 1)


def _detail_sheet(workbook, rows, heading: str) -> None:
    ws = workbook.create_sheet(_("Feedback rows"))
    labels = [str(label) for _key, label in DETAIL_COLUMNS]
    formatter = xlsx.start_table(ws, labels, DETAIL_KINDS, DETAIL_WIDTH_HINTS, heading=heading)
    written, _truncated = xlsx.append_capped(ws, rows, formatter, detail_note())
    xlsx.finish_table(ws, len(labels), written + 1)
