"""What every module's REST API shares with its pages: permissions and rules."""

from flask_appbuilder import ModelRestApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_babel import gettext as _
from flask_appbuilder.models.sqla.interface import SQLAInterface

from marshmallow import fields

from app.extensions import db
from app.permissions import ACTIONS, ADD, DELETE, EDIT, READ, permission_name, resource_of
from app.services.integrity import DeleteRefused, check_deletable
from app.services.validation import rule_fields, validate, values_of

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


class CodeEnumConverter(Model2SchemaConverter):
    """Enumerations in the API are their stable codes, as stored, not translated labels.

    FAB reads and writes an enum by value, which here is the label in the
    request's language; optional enums also refuse null.
    """

    def _column2enum(self, datamodel, column):
        field = super()._column2enum(datamodel, column)
        if isinstance(field, fields.Enum):
            unique = getattr(field, "unique", False)
            field = fields.Enum(
                field.enum, by_value=False, required=field.required,
                allow_none=not field.required,
            )
            field.unique = unique
        return field


class CrmModelApi(ModelRestApi):
    """Base for the seven module APIs; subclasses set ``model`` and ``resource_name``."""

    model: type = None
    method_permission_name = API_PERMISSIONS
    model2schemaconverter = CodeEnumConverter
    # Same list as the pages: FAB prunes a resource's permissions to the last list seen.
    base_permissions = [permission_name(action) for action in ACTIONS]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model is not None:
            cls.datamodel = SQLAInterface(cls.model)
            cls.class_permission_name = resource_of(cls.model)

    def response_401(self):
        return self.response(401, message=_("Please sign in: send a valid access token."))

    def response_403(self):
        return self.response(403, message=_("You do not have permission to do this."))

    def pre_add(self, item):
        self._check_rules(item, pk=None)

    def pre_update(self, item):
        self._check_rules(item, pk=item.id)

    def pre_delete(self, item):
        check_deletable(item)

    def _check_rules(self, item, pk):
        errors = validate(self.model, values_of(item, rule_fields(self.model)), pk=pk)
        if errors:
            raise RecordInvalid(errors)

    def post_headless(self):
        return self._refusing_bad_records(super().post_headless)

    def put_headless(self, pk):
        return self._refusing_bad_records(super().put_headless, pk)

    def delete_headless(self, pk):
        return self._refusing_bad_records(super().delete_headless, pk)

    def _refusing_bad_records(self, handler, *args):
        try:
            return handler(*args)
        except RecordInvalid as error:
            db.session.rollback()
            return self.response_422(message={f: [m] for f, m in error.errors.items()})
        except DeleteRefused as error:
            db.session.rollback()
            return self.response_422(message=str(error))
