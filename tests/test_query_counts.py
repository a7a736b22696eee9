"""Query discipline: a list page costs the same number of SQL statements at any page size.

Stock Flask-AppBuilder loads each row's customer, product, reporter or engineer
with a SELECT of its own (N+1). The rows come from the demo generator, so every
row points at different related records.
"""

from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import event

from app.extensions import db
from app.services import demo
from app.services.querying import MAX_PAGE_SIZE

# (view class name, list URL, show URL prefix)
MODULES = [
    ("CustomerView", "/customers/list/", "/customers/show/"),
    ("ContactView", "/contacts/list/", "/contacts/show/"),
    ("ContractView", "/contracts/list/", "/contracts/show/"),
    ("ProductView", "/products/list/", "/products/show/"),
    ("LicenseView", "/licenses/list/", "/licenses/show/"),
    ("ReporterView", "/reporters/list/", "/reporters/show/"),
    ("FeedbackView", "/feedback/list/", "/feedback/show/"),
]


@pytest.fixture
def many_rows(app):
    """More than 100 rows in every module, spread over many customers."""
    with app.app_context():
        plan = demo.prepare(customers=130, feedback=400, seed=11,
                            now=datetime(2026, 6, 1))
        counts = demo.write(plan)
        db.session.remove()
    assert min(counts.values()) > 100, counts
    return counts


@contextmanager
def counting_statements(app):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements_for(app, visitor, url):
    visitor.get(url)  # warm caches (translations, templates) out of the count
    with counting_statements(app) as statements:
        response = visitor.get(url)
    assert response.status_code == 200, url
    return len(statements), response.get_data(as_text=True)


@pytest.mark.parametrize("view, list_url, show_prefix", MODULES)
def test_list_page_query_count_does_not_grow_with_page_size(
    app, admin, many_rows, view, list_url, show_prefix
):
    small, small_page = statements_for(app, admin, f"{list_url}?psize_{view}=10")
    large, large_page = statements_for(app, admin, f"{list_url}?psize_{view}=100")
    assert small_page.count(show_prefix) == 10
    assert large_page.count(show_prefix) == 100
    assert small == large, f"{view}: {small} statements for 10 rows, {large} for 100"


def lazy_loads_after_listing(app, view_name):
    """Statements issued while reading a page's related columns, from an empty session.

    On the pages themselves the search form's drop-downs happen to load whole
    related tables into the session first, which hides an N+1; here nothing does.
    """
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == view_name)
    with app.test_request_context():
        db.session.remove()
        _count, rows = view.datamodel.query(page=0, page_size=100)
        relations = [c for c in view.list_columns if view.datamodel.is_relation(c)]
        with counting_statements(app) as statements:
            for row in rows:
                for relation in relations:
                    str(getattr(row, relation))
        db.session.remove()
    assert relations and len(rows) == 100
    return len(statements)


@pytest.mark.parametrize("view", [name for name, _l, _s in MODULES if name != "CustomerView"])
def test_list_rows_arrive_with_their_related_records(app, many_rows, view):
    assert lazy_loads_after_listing(app, view) == 0


def test_the_counter_sees_lazy_loading(app, many_rows, monkeypatch):
    """Without the eager loading, reading the rows' customers costs SELECTs: the test can fail."""
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "FeedbackView")
    monkeypatch.setattr(view.datamodel, "eager_relations", ())
    assert lazy_loads_after_listing(app, "FeedbackView") > 20


def test_customer_show_page_does_not_grow_with_related_rows(app, admin, many_rows):
    with app.app_context():
        from sqlalchemy import func, select

        from app.models import Feedback

        per_customer = db.session.execute(
            select(Feedback.customer_id, func.count())
            .group_by(Feedback.customer_id).order_by(func.count())
        ).all()
        db.session.remove()
    few, many = per_customer[0][0], per_customer[-1][0]
    assert per_customer[-1][1] > 25 > per_customer[0][1]  # one related list spans pages
    small, _page = statements_for(app, admin, f"/customers/show/{few}")
    large, _page = statements_for(app, admin, f"/customers/show/{many}")
    assert small == large


def test_page_size_is_capped(app, admin, many_rows):
    page = admin.get("/feedback/list/?psize_FeedbackView=1000000").get_data(as_text=True)
    assert page.count("/feedback/show/") == MAX_PAGE_SIZE


@pytest.mark.parametrize("query", [
    "psize_FeedbackView=abc", "page_FeedbackView=x1", "psize_FeedbackView=1e9",
])
def test_non_numeric_paging_is_refused_not_a_500(app, admin, query):
    response = admin.get(f"/feedback/list/?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("query", ["page_FeedbackView=-3", "psize_FeedbackView=-10",
                                   "psize_FeedbackView=0"])
def test_out_of_range_paging_shows_a_page(app, admin, many_rows, query):
    page = admin.get(f"/feedback/list/?{query}").get_data(as_text=True)
    assert 0 < page.count("/feedback/show/") <= MAX_PAGE_SIZE
