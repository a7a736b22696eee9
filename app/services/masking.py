"""Personal data shown masked (PIPL): 身份证号 as ``110105********002X``, phones as ``138****8000``.

One table says which fields of which model are personal and which permission
reveals them (``reveal`` on the model's resource, 查看敏感信息). Output goes
through the few functions here at the choke points: the pages' formatters and
edit forms (app/views/base.py), the list export (app/views/export.py), the
REST API's responses (app/api/base.py) and the change history's values
(app/services/history.py). Searches run on the stored values, so a full phone
or ID number still finds its record. Outside a request (the CLI) nothing is
masked.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import inspect

from app.permissions import CONTACT, REPORTER, REVEAL, permission_name

ID, PHONE = "id", "phone"
# model name -> {field: kind}
SENSITIVE: dict[str, dict[str, str]] = {
    "Contact": {"national_id": ID, "phone": PHONE},
    "Reporter": {"phone": PHONE},
}
# model name -> the resource whose ``reveal`` permission shows the clear values
RESOURCES = {"Contact": CONTACT, "Reporter": REPORTER}
STAR = "*"


def mask_id(value: str) -> str:
    """First 6 and last 4 characters kept: ``110105********002X``."""
    if len(value) <= 10:
        return STAR * len(value)
    return value[:6] + STAR * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """First 3 and last 4 characters kept: ``138****8000``."""
    if len(value) <= 7:
        return STAR * len(value)
    return value[:3] + STAR * (len(value) - 7) + value[-4:]


MASKS = {ID: mask_id, PHONE: mask_phone}


def mask(kind: str, value: Any) -> Any:
    if value is None or value == "":
        return value
    return MASKS[kind](str(value))


def fields_of(model_or_name) -> dict[str, str]:
    name = model_or_name if isinstance(model_or_name, str) else model_or_name.__name__
    return SENSITIVE.get(name, {})


def may_reveal(model_or_name) -> bool:
    """Does the current user see ``model``'s personal fields in clear?"""
    name = model_or_name if isinstance(model_or_name, str) else model_or_name.__name__
    resource = RESOURCES.get(name)
    if resource is None or not has_request_context():
        return True
    return bool(current_app.appbuilder.sm.has_access(permission_name(REVEAL), resource))


def shown(model_or_name, field: str, value: Any, always: bool = False) -> Any:
    """``value`` of ``field`` as the current user may see it (``always``: masked anyway)."""
    kind = fields_of(model_or_name).get(field)
    if kind is None or (not always and may_reveal(model_or_name)):
        return value
    return mask(kind, value)


def masked_fields(model_or_name) -> dict[str, str]:
    """The fields the current user sees masked: {field: kind}, empty when revealed."""
    fields = fields_of(model_or_name)
    if not fields or may_reveal(model_or_name):
        return {}
    return fields


def formatter(model, field: str):
    """A page formatter (list, show) for one personal field; nothing for no value."""
    return lambda value: "" if value is None else shown(model, field, value)


def show_page_formatters(model, endpoint: str, pk) -> dict:
    """The show page's formatters: personal fields masked for everyone, with a 显示
    button (reveal.js) for whoever may reveal them; each reveal is logged."""
    revealable = may_reveal(model)
    formatters = {}
    for field, kind in fields_of(model).items():
        formatters[field] = _revealing(kind, field, revealable, endpoint, pk)
    return formatters


def _revealing(kind: str, field: str, revealable: bool, endpoint: str, pk):
    def format(value):
        if value is None or value == "":
            return ""
        masked = mask(kind, value)
        if not revealable:
            return masked
        element = f"crm-reveal-{field}"
        url = url_for(f"{endpoint}.reveal", pk=pk, field=field)
        script = url_for("static", filename="crm/reveal.js")
        return Markup(
            f'<span id="{element}">{escape(masked)}</span> '
            f'<button type="button" class="btn btn-default btn-xs" aria-controls="{element}" '
            f'data-reveal-url="{escape(url)}" data-csrf="{escape(generate_csrf())}">'
            f"{escape(_('Reveal'))}</button>"
            f'<script src="{escape(script)}" defer></script>'
        )

    return format


def mask_record(model, data: dict) -> dict:
    """A JSON record (the API's ``result``) with its personal fields masked in place."""
    for field, kind in masked_fields(model).items():
        if field in data:
            data[field] = mask(kind, data[field])
    return data


# --- edits: a masked value sent back keeps the stored one --------------------


def is_mask_of(kind: str, sent: Any, stored: Any) -> bool:
    return bool(stored) and isinstance(sent, str) and STAR in sent and sent == mask(kind, stored)


def mask_form(form, model) -> None:
    """An edit form's personal fields shown masked (to a user who may not reveal)."""
    for field, kind in masked_fields(model).items():
        if field in form and form[field].data:
            form[field].data = mask(kind, form[field].data)


def unmask_form(form, model, stored_item) -> dict[str, str]:
    """Masked values sent back (unchanged) become the stored ones; returns what was replaced."""
    replaced = {}
    if stored_item is None:
        return replaced
    for field, kind in fields_of(model).items():
        if field not in form:
            continue
        stored = getattr(stored_item, field, None)
        if is_mask_of(kind, form[field].data, stored):
            replaced[field] = form[field].data
            form[field].data = stored
    return replaced


def remask_form(form, replaced: dict[str, str]) -> None:
    """A form shown again (it had errors) shows the masks, not the stored values."""
    for field, sent in replaced.items():
        form[field].data = sent


def keep_stored(item) -> None:
    """An API update that sent a field's mask back keeps the stored value."""
    model = type(item)
    state = inspect(item)
    for field, kind in fields_of(model).items():
        history = state.attrs[field].history
        if not history.deleted:
            continue
        stored = history.deleted[0]
        if is_mask_of(kind, getattr(item, field), stored):
            setattr(item, field, stored)
