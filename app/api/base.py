"""What every module's REST API shares with its pages: permissions and rules."""

import contextlib
import sys

from flask import request
from flask_appbuilder import ModelRestApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields
from marshmallow.validate import Length
from marshmallow_sqlalchemy import field_for
from marshmallow_sqlalchemy.fields import Related
from sqlalchemy import String, Text

from app.errors import NOT_FOUND
from app.extensions import db
from app.models.labels import label_of, labels_for, page_titles
from app.permissions import (
    ADD,
    DELETE,
    EDIT,
    READ,
    base_permissions_of,
    resource_of,
)
from app.services import masking, scope
from app.services.integrity import DeleteRefused, check_deletable
from app.services.querying import CrmInterface, is_key
from app.services.saving import SaveFailed, database_unavailable
from app.services.validation import rule_fields, trimmed, validate, values_of
from app.services.versioning import (
    VERSION_FIELD,
    VersionConflict,
    VersionInvalid,
    check_version,
    etag,
    is_versioned,
    parse_version,
)

from .messages import SCHEMA_ERRORS, bad_request, field_errors, label

API_PERMISSIONS = {
    "get_list": READ,
    "get": READ,
    "info": READ,
    "post": ADD,
    "put": EDIT,
    "delete": DELETE,
}


class RecordInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class ExistingRecord(Related):
    """A relation in a request body: the integer key of a record that exists.

    marshmallow-sqlalchemy passes any value to the database as a key (an
    object, a text or a number beyond INTEGER is a server error there) and
    makes up a new related record when no row has the key.
    """

    def _deserialize(self, value, *args, **kwargs):
        field = label_of(self.model, self.name)
        if not is_key(value):
            raise ValidationError(
                _("%(field)s must be the id (a whole number) of an existing record.", field=field)
            )
        record = scope.get_visible(self.related_model, int(value))
        if record is None:
            raise ValidationError(
                _("%(field)s: no record has the id %(id)s.", field=field, id=int(value))
            )
        return record


class EnumCode(fields.Enum):
    """An enumeration member by its code: marshmallow's ``getattr`` also finds
    ``__class__`` or ``__doc__``, and a non-text value gets its inner field's message."""

    def _deserialize(self, value, attr, data, **kwargs):
        member = self.enum.__members__.get(value) if isinstance(value, str) else None
        if member is None:
            raise self.make_error("unknown", choices=self.choices_text)
        return member


class ApiFieldConverter(Model2SchemaConverter):
    """The API's fields read what the pages read, and leave the rules to validation.py.

    Enumerations are their stable codes, as stored (FAB reads and writes them
    by value, which here is the label in the request's language, and refuses
    null for optional ones). A many-to-one relation is an ``ExistingRecord``.
    Text lengths are checked by the shared rules, whose message names the
    field in Chinese, instead of marshmallow's English one; marshmallow's own
    messages (missing, wrong type, unknown code) name it too (messages.py).
    """

    def _column2enum(self, datamodel, column):
        field = super()._column2enum(datamodel, column)
        if isinstance(field, fields.Enum):
            unique = getattr(field, "unique", False)
            field = EnumCode(
                field.enum,
                by_value=False,
                required=field.required,
                allow_none=not field.required,
            )
            field.unique = unique
        return field

    def _column2relation(self, datamodel, column, nested=False, parent_schema_name=None):
        if nested or not datamodel.is_relation_many_to_one(column.name):
            return super()._column2relation(datamodel, column, nested, parent_schema_name)
        field = field_for(datamodel.obj, column.name, field_class=ExistingRecord)
        field.required = not datamodel.is_nullable(column.name)
        field.unique = datamodel.is_unique(column.name)
        return field

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        field = super()._column2field(datamodel, column, nested, parent_schema_name)
        if field is not None:
            field.validators = [rule for rule in field.validators if not isinstance(rule, Length)]
            if isinstance(field, fields.Decimal):  # never round: fits_columns counts places
                field.places = None
            field.error_messages.update(field_errors(field, datamodel.obj, column.name))
        return field

    def convert(self, columns, model=None, nested=True, parent_schema_name=None):
        schema = super().convert(columns, model, nested, parent_schema_name)
        schema.error_messages.update(SCHEMA_ERRORS)
        return schema


class CrmModelApi(ModelRestApi):
    """Base for the seven module APIs; subclasses set ``model`` and ``resource_name``."""

    model: type = None
    method_permission_name = API_PERMISSIONS
    model2schemaconverter = ApiFieldConverter

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model is not None:
            cls.datamodel = CrmInterface(cls.model)
            cls.class_permission_name = resource_of(cls.model)
            cls.base_permissions = base_permissions_of(cls.class_permission_name)
            if is_versioned(cls.model):  # clients read the version they will send back
                for attr in ("list_columns", "show_columns"):
                    columns = getattr(cls, attr, None)
                    if columns and VERSION_FIELD not in columns:
                        setattr(cls, attr, [*columns, VERSION_FIELD])
            cls._label_like_the_pages()

    @classmethod
    def _label_like_the_pages(cls):
        """The pages' labels and titles, not FAB's English ones made from names."""
        dotted = {
            column
            for attr in ("list_columns", "show_columns")
            for column in getattr(cls, attr, None) or ()
            if "." in column
        }
        cls.label_columns = {
            **labels_for(cls.model),
            VERSION_FIELD: _l("Record version"),
            **{column: label(cls.model, column) for column in dotted},
            **(cls.label_columns or {}),
        }
        noun = _l(cls.model.__name__)  # the module's page noun: the same msgid
        for key, title in page_titles(noun).items():
            setattr(cls, key, getattr(cls, key, None) or title)

    def _get_field_info(self, field, *args, **kwargs):
        """FAB translates a missing description as gettext(""): the catalog's header."""
        info = super()._get_field_info(field, *args, **kwargs)
        info["description"] = str(self.description_columns.get(field.name, ""))
        return info

    def response_400(self, message=None):
        """Only FAB calls this (the app's own refusals are 422s): its English, translated."""
        return self.response(400, message=bad_request(message, self.model))

    def response_404(self):
        return self.response(404, message=str(NOT_FOUND))

    def response_401(self):
        return self.response(401, message=_("Please sign in: send a valid access token."))

    def response_403(self):
        return self.response(403, message=_("You do not have permission to do this."))

    def response_500(self, message=None):
        """FAB answers every unexpected error with 500: no trace, and 503 when the database is down."""
        error = sys.exc_info()[1]
        if isinstance(error, RecursionError):  # prison's parser on a q of nested "(((…"
            return self.response_400("Not a valid rison argument")
        with contextlib.suppress(Exception):  # the connection may be gone; the pool drops it
            db.session.rollback()
        if error is not None and database_unavailable(error):
            return self.response(
                503,
                message=_(
                    "The database cannot be reached right now. Please try again in a moment."
                ),
            )
        return self.response(
            500,
            message=_(
                "Something went wrong on the server; nothing was saved. "
                "Try again, or tell the administrator what you were doing."
            ),
        )

    def pre_add(self, item):
        self._check_rules(item, pk=None)

    def pre_update(self, item):
        masking.keep_stored(item)  # a personal field's mask sent back keeps the stored value
        self._check_rules(item, pk=item.id)

    def pre_get(self, data):
        """Personal fields masked for whoever may not reveal them (app/services/masking.py)."""
        masking.mask_record(self.model, data.get("result") or {})

    def pre_get_list(self, data):
        for record in data.get("result") or ():
            masking.mask_record(self.model, record)

    def pre_delete(self, item):
        check_deletable(item)

    def _check_rules(self, item, pk):
        """The page's rules on the record the request built, before anything is flushed.

        FAB has already copied the request onto ``item``; a query that flushed
        it (the unique check, loading a relation) would meet the database's
        constraint before the rule could name the field.
        """
        strip_text(item)
        with db.session.no_autoflush:
            errors = validate(self.model, values_of(item, rule_fields(self.model)), pk=pk)
        if errors:
            raise RecordInvalid(errors)

    def get_headless(self, pk, **kwargs):
        """The record's version also as an ``ETag``, for ``If-Match`` on PUT and DELETE."""
        response = super().get_headless(pk, **kwargs)
        if response.status_code == 200:
            version = (response.get_json(silent=True) or {}).get("result", {}).get(VERSION_FIELD)
            if isinstance(version, int):
                response.headers["ETag"] = etag(version)
        return response

    def post_headless(self):
        return self._refusing_bad_records(super().post_headless)

    def put_headless(self, pk):
        if not request.is_json:  # FAB answers this one without response_400
            return self.response_400("Request is not JSON")
        return self._refusing_bad_records(self._put_at_version, pk)

    def delete_headless(self, pk):
        return self._refusing_bad_records(self._delete_at_version, pk)

    def _put_at_version(self, pk):
        self._check_expected_version(pk, self._expected_version(from_body=True))
        return super().put_headless(pk)

    def _delete_at_version(self, pk):
        self._check_expected_version(pk, self._expected_version(from_body=False))
        return super().delete_headless(pk)

    def _expected_version(self, from_body: bool):
        """The version the client edited: ``row_version`` in the body, or ``If-Match``.

        The body field is taken out before FAB reads the body (it is not a field
        the client may set).
        """
        if not is_versioned(self.model):
            return None
        body = request.get_json(silent=True) if from_body and request.is_json else None
        in_body = body.pop(VERSION_FIELD, None) if isinstance(body, dict) else None
        sent = in_body if in_body is not None else request.headers.get("If-Match")
        if sent is not None and str(sent).strip() == "*":
            return None
        return parse_version(sent)

    def _check_expected_version(self, pk, expected):
        if expected is None:
            return
        item = self.datamodel.get(pk, self._base_filters)
        if item is not None:
            check_version(
                item,
                expected,
                _("Read the record again and send your changes with its current row_version."),
            )

    def _refusing_bad_records(self, handler, *args):
        try:
            return handler(*args)
        except RecordInvalid as error:
            db.session.rollback()
            return self.response_422(message={f: [m] for f, m in error.errors.items()})
        except DeleteRefused as error:
            db.session.rollback()
            return self.response_422(message=str(error))
        except VersionInvalid:
            return self.response_422(
                message={
                    VERSION_FIELD: [
                        _("The record version must be a whole number, as read from the record.")
                    ]
                }
            )
        except VersionConflict as error:
            db.session.rollback()
            body = {"message": str(error), "changes": error.changes}
            if error.current is not None:
                body["current_version"] = error.current
            return self.response(409, **body)
        except SaveFailed as error:
            return self.response(error.status, message=str(error))


def strip_text(item) -> None:
    """The record's text as the pages store it (``trimmed``)."""
    for column in type(item).__table__.columns:
        if isinstance(column.type, (String, Text)):
            value = getattr(item, column.key, None)
            if trimmed(value) != value:
                setattr(item, column.key, trimmed(value))
