"""Drop-downs for related records that search on the server as the user types.

Stock Flask-AppBuilder renders every row of the related table into each
``<select>``: all customers on every feedback form and again in the list's
search form, and it loads them all once more to validate a POST (FAB's own
``Select2AJAXWidget`` only moves that whole-table load into a second request).
Here a form carries only the chosen record; select2 asks
``<route_base>/related/<column>?q=…&page=N`` for ``LOOKUP_PAGE_SIZE`` matches
at a time, and a POSTed id is checked with one primary-key look-up.

``RelatedLookupMixin`` puts it on a ``ModelView`` that declares ``model``: the
many-to-one columns of its add, edit and search forms get a
``RelatedSelectField``, and the view gets the JSON endpoint, guarded by the
module's read permission (who may open the form or the list may see the names
it offers).
"""

from __future__ import annotations

import re

from flask import jsonify, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import MANYTOONE
from wtforms import Field
from wtforms.validators import DataRequired, Optional

from app.extensions import db
from app.permissions import READ
from app.services import scope
from app.services.querying import contains_pattern
from app.services.validation import NOT_READABLE

LOOKUP_PAGE_SIZE = 20
MAX_TERM_LENGTH = 100
MAX_PAGE = 500
SCRIPT = "crm/related_select.js"

# related model name -> (columns searched with "contains", order)
LOOKUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Customer": (("code", "name"), ("code",)),
    "Reporter": (("name", "store", "phone"), ("name", "id")),
    "Product": (("name", "version"), ("name", "id")),
    "Contact": (("name", "phone"), ("name", "id")),
    "Contract": (("number",), ("number",)),
    "PaymentPlan": ((), ("contract_id", "instalment")),
    "License": (("serial",), ("serial",)),
    "CrmUser": (("username", "first_name"), ("username",)),
    "Department": (("name",), ("name",)),
}
DEFAULT_LOOKUP = ((), ("id",))


def search_related(
    model, term: str = "", page: int = 1, customer_id: int | None = None, condition=None
):
    """One page of ``model`` rows matching ``term`` (and ``condition``, if any):
    ([(id, label)], more pages?).

    A query of ``LOOKUP_PAGE_SIZE + 1`` rows, whatever the table's size.
    """
    columns, order = LOOKUPS.get(model.__name__, DEFAULT_LOOKUP)
    query = select(model)
    term = (term or "").strip()[:MAX_TERM_LENGTH]
    if term and columns:
        pattern = contains_pattern(term)
        query = query.where(
            or_(*(getattr(model, column).ilike(pattern, escape="\\") for column in columns))
        )
    if customer_id is not None and hasattr(model, "customer_id"):
        query = query.where(model.customer_id == customer_id)
    if hasattr(model, "active"):  # staff accounts: only those who may still work
        query = query.where(model.active.is_(True))
    if condition is not None:
        query = query.where(condition)
    query = scope.restrict(query, model)
    query = query.order_by(*(getattr(model, column) for column in order))
    offset = (max(1, page) - 1) * LOOKUP_PAGE_SIZE
    rows = list(db.session.scalars(query.offset(offset).limit(LOOKUP_PAGE_SIZE + 1)))
    return [(row.id, str(row)) for row in rows[:LOOKUP_PAGE_SIZE]], len(rows) > LOOKUP_PAGE_SIZE


def _whole_number(value, upper: int) -> int | None:
    value = (value or "").strip()
    if not re.fullmatch(r"\d{1,9}", value):
        return None
    return min(int(value), upper)


class RelatedSelectWidget:
    """A ``<select>`` holding only the chosen record(s); the script fills the rest on demand."""

    def __call__(self, field, **kwargs):
        attributes = {
            "id": kwargs.pop("id", field.id),
            "name": field.name,
            "class": f"form-control crm-related-select {kwargs.pop('class', '')}".strip(),
            "data-url": field.lookup_url(),
            "data-placeholder": str(_l("Type to search")),
        }
        if field.depends_on:
            attributes["data-depends"] = field.depends_on
        html = "".join(f' {name}="{escape(value)}"' for name, value in attributes.items())
        options = ['<option value=""></option>']
        for pk, label in field.chosen_options():
            options.append(f'<option selected value="{escape(pk)}">{escape(label)}</option>')
        script = url_for("static", filename=SCRIPT)
        # The search form's fields travel as HTML strings that FAB's filter script
        # inserts later; each carries the (cached, idempotent) script along.
        return Markup(
            f"<select{html}>{''.join(options)}</select>"
            f'<script src="{escape(script)}" defer></script>'
        )


class RelatedSelectField(Field):
    """A many-to-one column as one record, checked by primary key.

    ``for_search``: a list's search field, which shows the records the current
    filters name (``_flt_<n>_<column>=<id>``) so the filter row can display them.
    """

    widget = RelatedSelectWidget()

    def __init__(
        self,
        label=None,
        validators=None,
        *,
        model,
        view_endpoint,
        column,
        depends_on=None,
        for_search=False,
        **kwargs,
    ):
        super().__init__(label, validators, **kwargs)
        self.model = model
        self.view_endpoint = view_endpoint
        self.column = column
        self.depends_on = depends_on
        self.for_search = for_search

    def lookup_url(self) -> str:
        return url_for(f"{self.view_endpoint}.related", column=self.column)

    def chosen_options(self):
        if self.data is not None:
            return [(self.data.id, str(self.data))]
        if not self.for_search:
            return []
        pattern = re.compile(rf"_flt_\d+_{re.escape(self.column)}")
        ids = {
            _whole_number(value, 10**9)
            for name, value in request.args.items(multi=True)
            if pattern.fullmatch(name)
        }
        ids = sorted(pk for pk in ids if pk is not None)[:5]  # a few filter rows at most
        if not ids:
            return []
        rows = db.session.scalars(
            scope.restrict(select(self.model).where(self.model.id.in_(ids)), self.model)
        )
        return [(row.id, str(row)) for row in rows]

    def process_data(self, value):
        self.data = value if isinstance(value, self.model) else None

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "") or ""
        self.data = None
        if raw.strip():
            pk = _whole_number(raw, 2**31 - 1)
            self.data = scope.get_visible(self.model, pk) if pk is not None else None
            if self.data is None:  # no such record (deleted meanwhile, or a made-up id)
                raise ValueError(str(NOT_READABLE["choice"]) % {"field": self.label.text})

    def _value(self):
        return "" if self.data is None else str(self.data.id)


def many_to_one_models(model) -> dict[str, type]:
    """``{column: related model}`` for ``model``'s many-to-one relationships."""
    return {
        rel.key: rel.mapper.class_
        for rel in inspect(model).relationships
        if rel.direction is MANYTOONE
    }


class RelatedLookupMixin:
    """Put server-side searching drop-downs on a model view (see the module's docstring).

    Runs while the subclass is created, before the view's own base sets its
    data model, so it reads the relationships from ``cls.model``.
    """

    model: type = None
    # column -> a function giving an SQL condition on the offered records (None: all)
    related_conditions: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model is None:
            return
        cls.method_permission_name = {**(cls.method_permission_name or {}), "related": READ}
        relations = many_to_one_models(cls.model)
        endpoint = cls.__name__
        form_columns = set(cls.add_columns or ()) | set(cls.edit_columns or ())
        for attribute, columns, for_search in (
            ("add_form_extra_fields", cls.add_columns, False),
            ("edit_form_extra_fields", cls.edit_columns, False),
            ("search_form_extra_fields", cls.search_columns, True),
        ):
            own = dict(getattr(cls, attribute, None) or {})
            for column in columns or ():
                if column not in relations or column in own:
                    continue
                related = relations[column]
                depends = (
                    "customer"
                    if not for_search
                    and column != "customer"
                    and "customer" in form_columns
                    and hasattr(related, "customer_id")
                    else None
                )
                own[column] = RelatedSelectField(
                    _label(cls, column),
                    validators=[_required_or_optional(cls.model, column, for_search)],
                    model=related,
                    view_endpoint=endpoint,
                    column=column,
                    depends_on=depends,
                    for_search=for_search,
                )
            setattr(cls, attribute, own)

    @expose("/related/<column>")
    @has_access_api
    def related(self, column):
        """Select2's JSON: ``{"results": [{"id", "text"}], "pagination": {"more"}}``."""
        relations = many_to_one_models(self.model)
        offered = (
            set(self.add_columns or ())
            | set(self.edit_columns or ())
            | set(self.search_columns or ())
        )
        if column not in relations or column not in offered:
            return jsonify(message="not found"), 404
        page = _whole_number(request.args.get("page"), MAX_PAGE) or 1
        customer_id = _whole_number(request.args.get("customer"), 2**31 - 1)
        condition = self.related_conditions.get(column, lambda: None)()
        rows, more = search_related(
            relations[column], request.args.get("q", ""), page, customer_id, condition
        )
        return jsonify(
            results=[{"id": pk, "text": label} for pk, label in rows],
            pagination={"more": more},
        )


def _label(cls, column):
    from app.models.labels import labels_for

    return (cls.label_columns or {}).get(column) or labels_for(cls.model).get(column, column)


def _required_or_optional(model, column, for_search):
    if for_search:
        return Optional()
    local = [c for c in inspect(model).relationships[column].local_columns]
    if local and not all(c.nullable for c in local):
        return DataRequired()
    return Optional()
