"""Links between records: a reference to another record (a contract's customer,
a feedback's reporter) is a link to that record's page when the reader may open
it, plain text otherwise. Applied to every list and show cell (``crm_cell``)."""

from flask import current_app, request, url_for
from flask_appbuilder import Model
from markupsafe import Markup, escape

from app.permissions import READ, permission_name
from app.services.memo import per_request

VIEWS_KEY = "crm_record_views"
PK_PLACEHOLDER = "__crm_pk__"


def _views_by_model() -> dict:
    """model class -> the model view showing it, found once per app."""
    views = current_app.extensions.get(VIEWS_KEY)
    if views is None:
        views = {}
        for view in current_app.appbuilder.baseviews:
            model = getattr(view, "model", None)
            if model is not None and getattr(view, "class_permission_name", None):
                views.setdefault(model, view)
        current_app.extensions[VIEWS_KEY] = views
    return views


def show_url(item) -> str | None:
    """The page of ``item`` if the signed-in user may read its module, else None.

    Data scope needs no check here: a linked record belongs to the customer of
    the record shown, which the reader sees, or is outside the scope rule.
    """
    view = _views_by_model().get(type(item))
    if view is None or getattr(item, "id", None) is None:
        return None
    address = _show_address(view)
    return None if address is None else address.replace(PK_PLACEHOLDER, str(item.id))


def _show_address(view) -> str | None:
    """``view``'s show address with a placeholder key, or None if the reader may not
    read it; answered once per request (a list links every row's customer)."""
    return per_request("crm_show_addresses", view.endpoint, lambda: _address_if_readable(view))


def _address_if_readable(view) -> str | None:
    may_read = current_app.appbuilder.sm.has_access(
        permission_name(READ), view.class_permission_name
    )
    return url_for(f"{view.endpoint}.show", pk=PK_PLACEHOLDER) if may_read else None


def record_link(item):
    """``item`` as a link to its page, or as text."""
    url = show_url(item)
    if url is None:
        return str(item)
    return Markup('<a href="{}" class="record-link">{}</a>').format(url, escape(str(item)))


def is_record(value) -> bool:
    return isinstance(value, Model)


def rendering_view():
    """The view whose page this request renders (FAB names a view's blueprint after it)."""
    if not request.blueprint:
        return None
    return next(
        (view for view in current_app.appbuilder.baseviews if view.endpoint == request.blueprint),
        None,
    )


def related_list_url(related_view, pk) -> str | None:
    """The related module's own list, filtered to the record shown (``pk``): from a
    customer's page to all of its contracts, with the list's sorting and export."""
    parent = rendering_view()
    if getattr(parent, "datamodel", None) is None:
        return None
    column = related_view.datamodel.get_related_fk(parent.datamodel.obj)
    if column is None:
        return None
    return url_for(f"{related_view.endpoint}.list", **{f"_flt_0_{column}": pk})
