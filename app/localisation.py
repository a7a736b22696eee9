"""What templates need to speak the page's language: <html lang>, date picker texts."""

from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _


def _ui_locale() -> dict:
    locale = get_locale()
    months = locale.months["stand-alone"]
    days = locale.days["stand-alone"]
    order = [6, 0, 1, 2, 3, 4, 5]  # Babel counts from Monday; the picker from Sunday
    return {
        "html_lang": "zh-CN" if locale.language == "zh" else locale.language,
        "datepicker": {
            "days": [days["wide"][i] for i in order],
            "daysShort": [days["abbreviated"][i] for i in order],
            "daysMin": [days["narrow"][i] for i in order],
            "months": [months["wide"][i] for i in range(1, 13)],
            "monthsShort": [months["abbreviated"][i] for i in range(1, 13)],
            "today": _("Today"),
            "clear": _("Clear"),
            "format": "yyyy-mm-dd",
            "titleFormat": _("MM yyyy"),
            "weekStart": 1,
        },
    }


def init_app(app: Flask) -> None:
    app.jinja_env.globals["crm_locale"] = _ui_locale
