"""The API's words in the request's language where its libraries speak English.

marshmallow (refused input), Flask-AppBuilder (refused query arguments) and
flask_jwt_extended (refused tokens) answer in English; here each of their
messages has a catalog entry that names the field by its page label.
"""

from __future__ import annotations

import re

from flask import jsonify
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from marshmallow import fields

from app.models.labels import labels_for
from app.services.validation import NOT_READABLE, REQUIRED, field_message

# marshmallow's "invalid" per field class, the most specific class first
# (Date is a DateTime, Integer and Decimal are Numbers).
INVALID = (
    (fields.Boolean, NOT_READABLE["boolean"]),
    (fields.Date, NOT_READABLE["date"]),
    (fields.DateTime, NOT_READABLE["datetime"]),
    (fields.Integer, NOT_READABLE["integer"]),
    (fields.Number, NOT_READABLE["number"]),
    (fields.String, NOT_READABLE["text"]),
)

SCHEMA_ERRORS = {
    "unknown": _l("This record has no such field, or it cannot be set: leave it out."),
    "type": _l("Send the record as a JSON object of field values."),
}


def label(model, column: str):
    """A column's label as the pages show it; ``relation.field`` names both."""
    relation, _, field = column.partition(".")
    labels = labels_for(model)
    if not field:
        return labels.get(column, column)
    related = model.__mapper__.relationships[relation].mapper.class_
    return _l(
        "%(relation)s: %(field)s",
        relation=labels.get(relation, relation),
        field=labels_for(related).get(field, field),
    )


def field_errors(field: fields.Field, model, name: str) -> dict:
    """marshmallow's error messages for ``field``: the pages' where they have one.

    Translated when shown (in the request's language). marshmallow formats only
    ``str`` messages, with English placeholders, and keeps any other value as the
    field's list of errors: hence one-item lists of lazy strings.
    """
    invalid = next((text for kind, text in INVALID if isinstance(field, kind)), None)
    templates = {
        "required": REQUIRED,
        "null": REQUIRED,  # null is how a client leaves a field empty
        "invalid": invalid,
        "invalid_utf8": invalid,
        "special": invalid,  # NaN and infinity
        "too_large": _l("%(field)s is too large."),
        "validator_failed": _l("%(field)s is not valid."),
    }
    errors = {
        key: [LazyString(field_message, text, model, name)]
        for key, text in templates.items()
        if text is not None
    }
    if isinstance(field, fields.Enum):
        errors["unknown"] = [
            LazyString(
                field_message,
                _l("%(field)s must be one of: %(choices)s."),
                model,
                name,
                choices=field.choices_text,
            )
        ]
    return errors


# Flask-AppBuilder's 400 messages (api/__init__.py, models/filters.py).
FAB_BAD_REQUESTS = (
    (r"Not a valid rison(/json)? argument", _l("The q argument is not valid rison or JSON.")),
    (
        r"Not a valid rison schema",
        _l(
            "The q argument does not match the API description (/api/v1/_openapi): "
            "check its keys and values."
        ),
    ),
    (
        r"Filter column: (?P<column>.*) not allowed to filter",
        _l("The list cannot be filtered by %(column)s."),
    ),
    (
        r"Filter operation: (?P<operation>.*) not allowed on column: (?P<column>.*)",
        _l("The filter %(operation)s cannot be used on %(column)s."),
    ),
    (r"Invalid order by column: (?P<column>.*)", _l("The list cannot be sorted by %(column)s.")),
    (
        r"Cannot use both select and sel columns",
        _l("Give either columns or select_columns in q, not both."),
    ),
    (r"Request is not JSON", _l("Send the record as JSON (Content-Type: application/json).")),
    # a body that is not JSON (werkzeug's BadRequest, as caught by FAB's @safe)
    (
        r"400 Bad Request: (The browser|Failed to decode JSON)",
        _l("The request could not be read: check that its body is valid JSON."),
    ),
)


def bad_request(message: str | None, model) -> str:
    """FAB's English 400 message in the request's language; a column by its label.

    One FAB does not have (a newer version's) gets a general message rather than
    going out in English.
    """
    text = str(message or "")
    for pattern, template in FAB_BAD_REQUESTS:
        match = re.match(pattern, text)
        if match:
            names = match.groupdict()
            if names.get("column"):
                names["column"] = _column_label(model, names["column"])
            return str(template) % names
    if text.startswith("400 Bad Request: "):  # a description the app gave abort(400)
        return text.removeprefix("400 Bad Request: ")
    return str(
        _l("The request's arguments are not correct; see the API description at /api/v1/_openapi.")
    )


def _column_label(model, column: str) -> str:
    try:
        return str(label(model, column))
    except KeyError:  # not a relation: the client's own word
        return column


def init_jwt_messages(jwt_manager) -> None:
    """flask_jwt_extended's refusals as the API's others: 401 ``{"message": ...}``."""

    def refuse(text):
        return jsonify(message=str(text)), 401

    jwt_manager.unauthorized_loader(
        lambda reason: refuse(
            _l(
                "Sign in first: send the access token from /api/v1/security/login "
                "in the Authorization header (Bearer …)."
            )
        )
    )
    invalid = _l("The access token is not valid. Sign in again to get a new one.")
    jwt_manager.invalid_token_loader(lambda reason: refuse(invalid))
    jwt_manager.token_verification_failed_loader(lambda header, data: refuse(invalid))
    jwt_manager.expired_token_loader(
        lambda header, data: refuse(
            _l("The access token has expired. Sign in again, or refresh it, to get a new one.")
        )
    )
    jwt_manager.revoked_token_loader(
        lambda header, data: refuse(_l("The access token has been revoked. Sign in again."))
    )
    jwt_manager.needs_fresh_token_loader(
        lambda header, data: refuse(
            _l("This operation needs a fresh sign-in: sign in again with your password.")
        )
    )
    jwt_manager.user_lookup_error_loader(
        lambda header, data: refuse(
            _l("The account of this access token no longer exists or has been deactivated.")
        )
    )
