"""What every business page shares: permissions, labels, formats and rules.

A module's view only declares its columns; this base wires in the shared
record rules (``app.services.validation``), the delete guard and the
Chinese-friendly display of dates, money, booleans and enumerations.
"""

from __future__ import annotations

import sys

from flask import abort, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import ModelView, expose
from flask_appbuilder.actions import action as list_action  # `action` is also a view method
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, DateTime, Enum, Numeric
from wtforms import (
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
)
from wtforms.fields.choices import SelectFieldBase

from app.errors import NOT_FOUND
from app.extensions import db
from app.models.labels import labels_for, page_titles
from app.permissions import (
    ADD,
    DELETE,
    EDIT,
    EXPORT,
    READ,
    REVEAL,
    base_permissions_of,
    resource_of,
)
from app.services import audit, masking
from app.services.display import format_bool, format_datetime, format_money
from app.services.integrity import BulkDeleteRefused, check_deletable, delete_all_or_nothing
from app.services.querying import MAX_PAGE_SIZE, CrmInterface, clamp_paging, refuse_bad_paging
from app.services.saving import SaveFailed
from app.services.validation import NOT_READABLE, field_message, trimmed, validate
from app.services.versioning import (
    VERSION_FIELD,
    VersionConflict,
    VersionInvalid,
    check_version,
    is_versioned,
    parse_version,
)

from .ajax_select import RelatedLookupMixin, RelatedSelectField
from .export import ExportMixin
from .fields import EnumSelectField, LenientDateTimeField

# FAB's methods mapped onto one resource per module, shared with its REST API.
PAGE_PERMISSIONS = {
    "list": READ,
    "show": READ,
    "download": READ,
    "add": ADD,
    "edit": EDIT,
    "delete": DELETE,
    "delete_selected": DELETE,
    "export": EXPORT,
    "reveal": REVEAL,
}
BULK_DELETE = "muldelete"  # FAB's own name for it
# A list showing one of these relations sorts by this field of the related record
# (a dotted order column, joined next to the eager load: still one query).
RELATION_SORT_FIELDS = {"customer": "code"}
SHOWN_REFUSALS = 5  # a refused bulk delete explains this many of its rows


def rule_checked(form_class, model, versioned: bool = False):
    """``form_class`` with the model's shared rules run after its own validators.

    Typed text is stripped first, so " C777 " is stored, and checked for
    duplicates, as "C777". A broken rule becomes the field's error, so the form
    is shown again with what was typed and the message beside the field.
    With ``versioned`` (edit forms) the form carries the record's version in a
    hidden field and refuses to save over a newer one (app.services.versioning).
    """

    class RuleCheckedForm(form_class):
        def validate(self, extra_validators=None):
            strip_text(self)
            pk = getattr(self, "_id", None)
            # A personal field's mask sent back unchanged keeps the stored value.
            stored = db.session.get(model, pk) if pk and masking.fields_of(model) else None
            unmasked = masking.unmask_form(self, model, stored)
            valid = self._checked(extra_validators)
            if not valid:
                masking.remask_form(self, unmasked)
            return valid

        def _checked(self, extra_validators=None):
            valid = super().validate(extra_validators=extra_validators)
            data = {name: value for name, value in self.data.items() if name != VERSION_FIELD}
            errors = validate(model, data, pk=getattr(self, "_id", None))
            # A value typed that could not be read ("十" seats) is told so, not "required".
            for name, field in self._fields.items():
                if field.process_errors and any(str(v).strip() for v in field.raw_data or ()):
                    errors[name] = field_message(NOT_READABLE[_kind_of(field)], model, name)
            for field, message in errors.items():
                if field in self:
                    self[field].errors = [message]
                else:
                    flash(message, "danger")
            if versioned and valid and not errors:
                refusal = self.version_refusal()
                if refusal:
                    flash(refusal, "danger")
                    return False
            return valid and not errors

        def version_refusal(self) -> str | None:
            """Why this save would overwrite someone else's, or None."""
            pk = getattr(self, "_id", None)
            if pk is None or VERSION_FIELD not in self:
                return None
            try:
                check_version(
                    db.session.get(model, pk),  # already loaded by the view: no query
                    parse_version(self[VERSION_FIELD].data),
                    _(
                        "What you entered is kept below: open the record again to see the "
                        "latest values, then reapply your changes."
                    ),
                )
            except VersionInvalid:
                return _(
                    "The form is damaged (its record version is not a number): "
                    "open the record again."
                )
            except VersionConflict as refusal:
                return str(refusal)
            return None

        def populate_obj(self, obj):
            """The version is SQLAlchemy's to set, never the form's."""
            for name, field in self._fields.items():
                if name != VERSION_FIELD:
                    field.populate_obj(obj, name)

    if versioned:
        RuleCheckedForm.row_version = HiddenField()
    RuleCheckedForm.__name__ = form_class.__name__
    return RuleCheckedForm


def _kind_of(field) -> str:
    """Which ``NOT_READABLE`` message a form field's unreadable value gets."""
    if isinstance(field, (SelectFieldBase, RelatedSelectField)):
        return "choice"
    if isinstance(field, DateTimeField):  # WTForms' DateField is one too
        return "date" if isinstance(field, DateField) else "datetime"
    if isinstance(field, IntegerField):
        return "integer"
    if isinstance(field, (DecimalField, FloatField)):
        return "number"
    return "text"


def strip_text(form) -> None:
    """Typed text is stored trimmed (``trimmed``), passwords as typed."""
    for field in form:
        if not isinstance(field, PasswordField):
            field.data = trimmed(field.data)


class CrmModelView(RelatedLookupMixin, ExportMixin, ModelView):
    """Base for the seven business modules; subclasses set ``model`` and columns."""

    model: type = None
    interface: type = CrmInterface  # a module with computed columns declares its subclass
    noun = None  # the module's name, for page titles
    page_size = 25
    method_permission_name = PAGE_PERMISSIONS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model is not None:
            cls.datamodel = cls.interface(cls.model, eager=cls.list_columns)
            cls.class_permission_name = resource_of(cls.model)
            cls.base_permissions = base_permissions_of(cls.class_permission_name)
            cls.label_columns = {**labels_for(cls.model), **(cls.label_columns or {})}
            cls.formatters_columns = {
                **_column_formatters(cls.model),
                **(cls.formatters_columns or {}),
                **{
                    field: masking.formatter(cls.model, field)
                    for field in masking.fields_of(cls.model)
                },
            }
            cls.add_form_extra_fields = {
                **_typed_fields(cls.model),
                **(cls.add_form_extra_fields or {}),
            }
            cls.edit_form_extra_fields = {
                **_typed_fields(cls.model),
                **(cls.edit_form_extra_fields or {}),
            }
            cls.search_form_extra_fields = {
                **_typed_fields(cls.model, for_search=True),
                **(cls.search_form_extra_fields or {}),
            }
            for key, title in page_titles(cls.noun).items():
                setattr(cls, key, getattr(cls, key, None) or title)
            if cls.order_columns is not None:
                cls.order_columns = [*cls.order_columns, *_relation_sorts(cls)]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_form = rule_checked(self.add_form, self.model)
        self.edit_form = rule_checked(
            self.edit_form, self.model, versioned=is_versioned(self.model)
        )

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        """FAB's show widget, with personal fields masked and a 显示 button (masking.py)."""
        widgets = widgets or {}
        widgets["show"] = self.show_widget(
            pk=pk,
            label_columns=self.label_columns,
            include_columns=self.show_columns,
            value_columns=self.datamodel.get_values_item(item, self.show_columns),
            formatters_columns={
                **self.formatters_columns,
                **masking.show_page_formatters(self.model, self.endpoint, pk),
            },
            actions=actions or self.actions,
            fieldsets=show_fieldsets or self.show_fieldsets,
            modelview_name=self.__class__.__name__,
        )
        return widgets

    @expose("/reveal/<int:pk>/<field>", methods=["POST"])
    @has_access_api
    def reveal(self, pk, field):
        """The clear value of one personal field of one record, written to the security log."""
        if field not in masking.fields_of(self.model):
            return jsonify(message=str(NOT_FOUND)), 404
        item = self.datamodel.get(pk, self._base_filters)  # the reader's data scope
        if item is None:
            return jsonify(message=str(NOT_FOUND)), 404
        audit.record(audit.REVEAL, f"{self.model.__name__} #{pk}", field=field, record=str(item))
        return jsonify(value=getattr(item, field))

    def prefill_form(self, form, pk):
        """The edit page shows personal fields masked to whoever may not reveal them."""
        super().prefill_form(form, pk)
        masking.mask_form(form, self.model)

    @property
    def database_error_message(self):
        """FAB's edit page reads this inside its ``except`` when the save fails: the
        ``SaveFailed`` (or ``VersionConflict``) being handled says why."""
        error = sys.exc_info()[1]
        if isinstance(error, (SaveFailed, VersionConflict)):
            return str(error)
        return _(
            "Saving failed and nothing was saved. Try again, or tell the administrator "
            "what you were doing."
        )

    def pre_delete(self, item):
        check_deletable(item)

    def _delete(self, pk):
        """Remember whether the record went, for ``post_delete_redirect``."""
        g.crm_deleted_pk = None
        super()._delete(pk)
        if self.datamodel.get(pk) is None:
            g.crm_deleted_pk = str(pk)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        """A show page's action; unknown or list-only ones (bulk delete) are a 404."""
        if name not in self.actions or not self.actions[name].single:
            abort(404)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        """A list's action on the selected rows: a known name, at most a page of rows."""
        if request.form.get("action") not in self.actions:
            abort(404)
        if len(request.form.getlist("rowid")) > MAX_PAGE_SIZE:
            flash(_("Select at most %(count)d records at a time.", count=MAX_PAGE_SIZE), "danger")
            return self._back()
        return super().action_post()

    @list_action(
        BULK_DELETE,
        _l("Delete selected"),
        _l("Delete the selected records? This cannot be undone."),
        "fa-trash",
        single=False,
    )
    def delete_selected(self, items):
        """All or nothing: when any selected record has dependents, none is deleted."""
        items = [item for item in items if item is not None]
        if not items:
            flash(_("Select the records to delete first."), "danger")
            return self._back()
        try:
            delete_all_or_nothing(self.datamodel, items)
        except BulkDeleteRefused as refused:
            flash(str(refused), "danger")
            for refusal in refused.refusals[:SHOWN_REFUSALS]:
                flash(refusal, "danger")
        except SaveFailed as failure:
            flash(str(failure), "danger")
        else:
            for item in items:
                self.post_delete(item)
            audit.record(
                audit.BULK_DELETE,
                self.class_permission_name,
                rows=len(items),
                ids=[getattr(item, "id", None) for item in items],
            )
            flash(_("%(count)d records deleted.", count=len(items)), "success")
        return self._back()

    def _back(self):
        """Back to the page the action came from, as FAB's own delete does."""
        self.update_redirect()  # FAB's history pops the current request first
        return redirect(self.get_redirect())

    def post_delete_redirect(self):
        """Back where the user came from, unless that was the deleted record's own page."""
        target = self.get_redirect()
        deleted = getattr(g, "crm_deleted_pk", None)
        if deleted is not None:
            own_pages = {
                url_for(f"{type(self).__name__}.{endpoint}", pk=deleted)
                for endpoint in ("show", "edit")
            }
            path = target.split("?")[0].split("#")[0]  # FAB keeps absolute URLs
            if any(path.endswith(page) for page in own_pages):
                target = url_for(f"{type(self).__name__}.list")
        return redirect(target)

    def create_blueprint(self, appbuilder, *args, **kwargs):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.before_request(refuse_bad_paging)
        return blueprint

    def _get_list_widget(self, filters, *args, page=None, page_size=None, **kwargs):
        """Lists and related lists: no page size above ``MAX_PAGE_SIZE``."""
        page, page_size = clamp_paging(page, page_size, self.page_size)
        return super()._get_list_widget(
            filters, *args, page=page, page_size=page_size, sort_columns=self.sort_columns, **kwargs
        )

    @property
    def sort_columns(self) -> dict[str, str]:
        """List column -> the order column its header sorts by ("customer" -> "customer.code")."""
        return {column.partition(".")[0]: column for column in reversed(self.order_columns)}


def _relation_sorts(cls) -> list[str]:
    """The dotted order columns of the ``RELATION_SORT_FIELDS`` relations ``cls`` lists."""
    relations = cls.model.__mapper__.relationships
    return [
        f"{relation}.{field}"
        for relation, field in RELATION_SORT_FIELDS.items()
        if relation in (cls.list_columns or ())
        and relation in relations
        and not relations[relation].uselist
        and f"{relation}.{field}" not in cls.order_columns
    ]


def _typed_fields(model, for_search: bool = False) -> dict:
    """Form fields FAB gets wrong for enumerations and date-times, per column type."""
    fields = {}
    for column in model.__table__.columns:
        label = labels_for(model).get(column.key, column.key)  # lazy: rendered per request
        default = column.default.arg if column.default is not None else None
        required = not column.nullable and not for_search
        if isinstance(column.type, Enum) and column.type.enum_class is not None:
            fields[column.key] = EnumSelectField(
                column.type.enum_class,
                label,
                required=required,
                default=None if for_search else default,
            )
        elif isinstance(column.type, DateTime) and not for_search:
            fields[column.key] = LenientDateTimeField(
                label, required=required, default=default if callable(default) else None
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


def audit_fieldset():
    return (
        _l("Record"),
        {"fields": ["created_on", "created_by", "changed_on", "changed_by"], "expanded": False},
    )
