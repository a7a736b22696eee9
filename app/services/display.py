"""How values read on pages and in exports: dates, money, yes/no."""

from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _


def format_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def format_date(value: date | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def format_money(value: Decimal | None) -> str:
    return f"¥{value:,.2f}" if value is not None else ""


def format_bool(value: bool | None) -> str:
    if value is None:
        return ""
    return _("Yes") if value else _("No")
