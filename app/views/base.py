"""What every business page shares: permissions, labels, formats and rules.

A module's view only declares its columns; this base wires in the shared
record rules (``app.services.validation``), the delete guard and the
Chinese-friendly display of dates, money, booleans and enumerations.
"""

from __future__ import annotations

from flask import flash
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, DateTime, Enum, Numeric

from app.models.labels import label_of, labels_for
from app.permissions import ACTIONS, ADD, DELETE, EDIT, EXPORT, READ, permission_name, resource_of
from app.services.display import format_bool, format_datetime, format_money
from app.services.integrity import check_deletable
from app.services.validation import validate

from .fields import EnumSelectField

# FAB's methods mapped onto one resource per module, shared with its REST API.
PAGE_PERMISSIONS = {
    "list": READ,
    "show": READ,
    "download": READ,
    "add": ADD,
    "edit": EDIT,
    "delete": DELETE,
    "export": EXPORT,
}


def rule_checked(form_class, model):
    """``form_class`` with the model's shared rules run after its own validators.

    A broken rule becomes the field's error, so the form is shown again with
    what was typed and the message beside the field.
    """

    class RuleCheckedForm(form_class):
        def validate(self, extra_validators=None):
            valid = super().validate(extra_validators=extra_validators)
            errors = validate(model, self.data, pk=getattr(self, "_id", None))
            for field, message in errors.items():
                if field in self:
                    self[field].errors = [message]
                else:
                    flash(message, "danger")
            return valid and not errors

    RuleCheckedForm.__name__ = form_class.__name__
    return RuleCheckedForm


class CrmModelView(ModelView):
    """Base for the seven business modules; subclasses set ``model`` and columns."""

    model: type = None
    noun = None  # the module's name, for page titles
    page_size = 25
    method_permission_name = PAGE_PERMISSIONS
    base_permissions = [permission_name(action) for action in ACTIONS]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model is not None:
            cls.datamodel = SQLAInterface(cls.model)
            cls.class_permission_name = resource_of(cls.model)
            cls.label_columns = {**labels_for(cls.model), **(cls.label_columns or {})}
            cls.formatters_columns = {
                **_column_formatters(cls.model),
                **(cls.formatters_columns or {}),
            }
            cls.add_form_extra_fields = {**_enum_fields(cls.model), **(cls.add_form_extra_fields or {})}
            cls.edit_form_extra_fields = {**_enum_fields(cls.model), **(cls.edit_form_extra_fields or {})}
            cls.search_form_extra_fields = {
                **_enum_fields(cls.model, for_search=True),
                **(cls.search_form_extra_fields or {}),
            }
            for key, title in _titles(cls.noun).items():
                setattr(cls, key, getattr(cls, key, None) or title)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_form = rule_checked(self.add_form, self.model)
        self.edit_form = rule_checked(self.edit_form, self.model)

    def pre_delete(self, item):
        check_deletable(item)


def _enum_fields(model, for_search: bool = False) -> dict:
    fields = {}
    for column in model.__table__.columns:
        if isinstance(column.type, Enum) and column.type.enum_class is not None:
            default = column.default.arg if column.default is not None else None
            fields[column.key] = EnumSelectField(
                column.type.enum_class,
                label_of(model, column.key),
                required=not column.nullable and not for_search,
                default=None if for_search else default,
            )
    return fields


def _column_formatters(model) -> dict:
    formatters = {}
    for column in model.__table__.columns:
        if isinstance(column.type, DateTime):
            formatters[column.key] = format_datetime
        elif isinstance(column.type, Boolean):
            formatters[column.key] = format_bool
        elif isinstance(column.type, Numeric):
            formatters[column.key] = format_money
    return formatters


def _titles(name) -> dict:
    """Titles read as "Customer list" in the catalog's language, not FAB's "List Customer"."""
    return {
        "list_title": _l("%(name)s list", name=name),
        "show_title": _l("View %(name)s", name=name),
        "add_title": _l("Add %(name)s", name=name),
        "edit_title": _l("Edit %(name)s", name=name),
    }


def audit_fieldset():
    return (
        _l("Record"),
        {"fields": ["created_on", "created_by", "changed_on", "changed_by"], "expanded": False},
    )
