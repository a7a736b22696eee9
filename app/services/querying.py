"""Query discipline for the module pages: a constant number of queries per page.

Stock Flask-AppBuilder loads each row's related record (the customer, the
engineer…) with one lazy SELECT per row, and accepts any page size in the URL.
``EagerInterface`` joins the many-to-one relations a list shows into the page
query; ``clamp_paging`` and ``refuse_bad_paging`` keep the page size and page
number to what the pages offer.
"""

from __future__ import annotations

import re
from typing import Iterable

from flask import abort, request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

MAX_PAGE_SIZE = 100
PAGING_ARG = re.compile(r"(page|psize)_")  # as loose as FAB's own urltools


class EagerLoading:
    """Mixin for FAB's data model: load ``eager_relations`` with the rows.

    ``apply_all`` builds the page query for lists, related lists and ``get``
    (show, edit); the count query does not go through it, so it stays free
    of joins.
    """

    eager_relations: tuple[str, ...] = ()

    def apply_all(self, query, *args, **kwargs):
        query = super().apply_all(query, *args, **kwargs)
        if self.eager_relations:
            query = query.options(
                *(joinedload(getattr(self.obj, name)) for name in self.eager_relations)
            )
        return query


class EagerInterface(EagerLoading, SQLAInterface):
    def __init__(self, obj, session=None, eager: Iterable[str] = ()):
        super().__init__(obj, session)
        self.eager_relations = many_to_one(self, eager)


def many_to_one(datamodel, columns: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(name for name in columns or () if datamodel.is_relation_many_to_one(name))


_EAGER_CLASSES: dict[type, type] = {}


def eager_loading(datamodel, columns: Iterable[str] | None):
    """Make ``datamodel`` load the many-to-one relations among ``columns`` eagerly.

    A view may bring its own interface subclass (the license view does); it
    gets the mixin too, so no page falls back to one SELECT per row.
    """
    cls = type(datamodel)
    if not isinstance(datamodel, EagerLoading):
        if cls not in _EAGER_CLASSES:
            _EAGER_CLASSES[cls] = type(f"Eager{cls.__name__}", (EagerLoading, cls), {})
        datamodel.__class__ = _EAGER_CLASSES[cls]
    datamodel.eager_relations = many_to_one(datamodel, columns)
    return datamodel


def clamp_paging(page, page_size, default_size: int) -> tuple[int | None, int]:
    """A page number of at least 0 and a page size between 1 and ``MAX_PAGE_SIZE``."""
    page_size = page_size or default_size
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    if page is not None:
        page = max(0, int(page))
    return page, page_size


def refuse_bad_paging():
    """Before a module page: a non-numeric page or page size is a 400, not FAB's 500."""
    for name, value in request.args.items():
        if PAGING_ARG.search(name) and not re.fullmatch(r"-?\d{1,9}", value.strip()):
            abort(400, description=_("Page and page size must be whole numbers."))
    return None
