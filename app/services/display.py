"""How values read on pages and in exports: dates, money, yes/no."""

from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from markupsafe import Markup, escape


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


def state_badge(state, styles: dict, kind: str) -> Markup:
    """A coloured label for an enumeration member (``styles``: member -> CSS classes),
    marked ``<kind>-state`` with the stable code for scripts and tests; anything else blank."""
    if state not in styles:
        return Markup("")
    return Markup('<span class="{} {}-state" data-state="{}">{}</span>').format(
        styles[state], kind, state.name, escape(str(state))
    )
