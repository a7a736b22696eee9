"""Every sort and every exact filter a module list offers has an index behind it.

At a million feedback rows an unindexed sort or filter is a full table scan
per page. A column added to a view's ``order_columns`` or ``search_columns``
without an index in its model (and a migration) fails here. Long free text
is exempt: its filter is "contains", which a B-tree index does not serve.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, Numeric, String, Text

from app.views.base import CrmModelView

LONG_TEXT = 200  # characters: longer String columns are searched with "contains" only
EXACT_TYPES = (Enum, Date, DateTime, Integer, Numeric, Boolean)


def module_views(app):
    return {
        type(view).__name__: view
        for view in app.appbuilder.baseviews
        if isinstance(view, CrmModelView)
    }


def leading_columns(table) -> set[str]:
    """Columns that lead an index, a unique constraint or the primary key of ``table``."""
    leading = {column.name for column in list(table.primary_key.columns)[:1]}
    leading |= {next(iter(index.columns)).name for index in table.indexes}
    leading |= {
        next(iter(constraint.columns)).name
        for constraint in table.constraints
        if constraint.__class__.__name__ == "UniqueConstraint" and constraint.columns
    }
    return leading


def _column(model, name):
    return model.__table__.columns.get(name)


def _needs_index(column) -> bool:
    if isinstance(column.type, Text):
        return False
    if isinstance(column.type, String) and not isinstance(column.type, Enum):
        return (column.type.length or LONG_TEXT + 1) <= LONG_TEXT
    return isinstance(column.type, EXACT_TYPES) or column.primary_key


def _relation_columns(model, relation):
    """The foreign key columns of a many-to-one ``relation`` of ``model``, or None."""
    prop = model.__mapper__.relationships.get(relation)
    if prop is None or prop.uselist:
        return None
    return list(prop.local_columns)


def missing_indexes(view) -> list[str]:
    """``table.column`` for each sort or exact filter of ``view`` without an index."""
    model = view.datamodel.obj
    wanted = []  # (model, column)
    order = list(view.order_columns or ())
    if view.base_order:
        order.append(view.base_order[0])
    for name in order:
        root, _, leaf = name.partition(".")
        if leaf:  # a related record's field: the join's key and the sorted field
            related = model.__mapper__.relationships[root].mapper.class_
            wanted += [(model, column) for column in _relation_columns(model, root)]
            wanted.append((related, _column(related, leaf)))
        elif _column(model, name) is not None:
            wanted.append((model, _column(model, name)))
        # else: a computed column (a license's state), sorted by the view's own SQL
    for name in view.search_columns or ():
        keys = _relation_columns(model, name)
        if keys is not None:
            wanted += [(model, column) for column in keys]
        elif _column(model, name) is not None and _needs_index(_column(model, name)):
            wanted.append((model, _column(model, name)))
    return sorted(
        {
            f"{owner.__table__.name}.{column.name}"
            for owner, column in wanted
            if column.name not in leading_columns(owner.__table__)
        }
    )


def test_every_module_view_is_checked(app):
    assert set(module_views(app)) == {
        "CustomerView",
        "ContactView",
        "ContractView",
        "ProductView",
        "LicenseView",
        "FeedbackView",
        "ReporterView",
        "DepartmentView",
        "FollowUpView",
        "PaymentPlanView",
        "PaymentView",
    }


@pytest.mark.parametrize(
    "view_name",
    [
        "CustomerView",
        "ContactView",
        "ContractView",
        "ProductView",
        "LicenseView",
        "FeedbackView",
        "ReporterView",
        "FollowUpView",
        "PaymentPlanView",
        "PaymentView",
    ],
)
def test_each_sort_and_exact_filter_has_an_index(app, view_name):
    assert missing_indexes(module_views(app)[view_name]) == []


def test_an_unindexed_filter_is_reported(app, monkeypatch):
    """The check can fail: a birth-date filter on contacts would scan the table."""
    view = module_views(app)["ContactView"]
    monkeypatch.setattr(view, "search_columns", [*view.search_columns, "birth_date", "address"])
    monkeypatch.setattr(view, "order_columns", [*view.order_columns, "customer.address"])
    # The address is long text (exempt) as a filter, but not as a sort.
    assert missing_indexes(view) == ["contact.birth_date", "customer.address"]
