"""/api/v1/licenses/: the derived state in what it returns, the trial default in what it takes."""

from flask_babel import lazy_gettext as _l
from marshmallow import fields

from app.models import License
from app.services import licenses
from app.services.licenses import LicenseState, end_or_trial_default, license_state

from .base import ApiFieldConverter, CrmModelApi

STATE = "state"
STATE_INPUTS = ("valid_from", "valid_to", "is_trial")


class LicenseFieldConverter(ApiFieldConverter):
    """``state`` is computed, never stored: a read-only stable code (``LicenseState``)."""

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        if column.name == STATE:
            return fields.Function(
                lambda item: license_state(item, licenses.today()).name,
                dump_only=True,
                metadata={
                    "enum": [state.name for state in LicenseState],
                    "description": "License state code, as of today.",
                },
            )
        return super()._column2field(datamodel, column, nested, parent_schema_name)


class LicenseApi(CrmModelApi):
    model = License
    resource_name = "licenses"
    model2schemaconverter = LicenseFieldConverter
    add_columns = edit_columns = [
        "customer",
        "product",
        "serial",
        "seats",
        "valid_from",
        "valid_to",
        "is_trial",
        "machine_info",
    ]
    list_columns = show_columns = [
        "id",
        "customer.code",
        "customer.name",
        "product.name",
        "serial",
        "seats",
        "valid_from",
        "valid_to",
        STATE,
        "is_trial",
        "machine_info",
        "created_on",
        "changed_on",
    ]
    label_columns = {STATE: _l("License state")}

    def _init_properties(self):
        """The rows are read, and sorted, without ``state``: it is computed from their dates."""
        super()._init_properties()
        for attr in ("list_select_columns", "show_select_columns", "order_columns"):
            setattr(self, attr, [column for column in getattr(self, attr) if column != STATE])

    def _handle_columns_args(self, args, default_select_columns, default_response_columns):
        """A request that selects ``state`` also reads the dates it is computed from."""
        select, response = super()._handle_columns_args(
            args, default_select_columns, default_response_columns
        )
        if STATE in response and select:
            select = [*select, *(column for column in STATE_INPUTS if column not in select)]
        return select, response

    def _init_model_schemas(self):
        """A trial may come without an end date (or with null): the rules then give it one."""
        super()._init_model_schemas()
        for schema in (self.add_model_schema, self.edit_model_schema):
            schema.fields["valid_to"].required = False
            schema.fields["valid_to"].allow_none = True

    def pre_add(self, item):
        item.valid_to = end_or_trial_default(item.valid_from, item.valid_to, item.is_trial)
        super().pre_add(item)

    def pre_update(self, item):
        item.valid_to = end_or_trial_default(item.valid_from, item.valid_to, item.is_trial)
        super().pre_update(item)
