"""Query discipline: a list page costs the same number of SQL statements at any page size.

Stock Flask-AppBuilder loads each row's customer, product, reporter or engineer
with a SELECT of its own (N+1). The rows come from the demo generator, so every
row points at different related records.
"""

from datetime import datetime

import pytest
from flask import g
from sqlalchemy import select

from app.extensions import db
from app.models import CrmUser
from app.services import demo
from app.services.querying import MAX_PAGE_SIZE
from helpers import counting_statements

# (view class name, list URL, show URL prefix)
MODULES = [
    ("CustomerView", "/customers/list/", "/customers/show/"),
    ("ContactView", "/contacts/list/", "/contacts/show/"),
    ("ContractView", "/contracts/list/", "/contracts/show/"),
    ("ProductView", "/products/list/", "/products/show/"),
    ("LicenseView", "/licenses/list/", "/licenses/show/"),
    ("ReporterView", "/reporters/list/", "/reporters/show/"),
    ("FeedbackView", "/feedback/list/", "/feedback/show/"),
    ("PaymentPlanView", "/payment-plans/list/", "/payment-plans/show/"),
    ("PaymentView", "/payments/list/", "/payments/show/"),
    ("FollowUpView", "/followups/list/", "/followups/show/"),
]


@pytest.fixture
def many_rows(app):
    """More than 100 rows in every module, spread over many customers."""
    with app.app_context():
        plan = demo.prepare(customers=130, feedback=500, seed=11, now=datetime(2026, 6, 1))
        counts = demo.write(plan)
        db.session.remove()
    assert min(counts.values()) > 100, counts
    return counts


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
        g.user = db.session.scalar(select(CrmUser).where(CrmUser.username == "admin"))
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
            .group_by(Feedback.customer_id)
            .order_by(func.count())
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


@pytest.mark.parametrize(
    "query",
    [
        "psize_FeedbackView=abc",
        "page_FeedbackView=x1",
        "psize_FeedbackView=1e9",
    ],
)
def test_non_numeric_paging_is_refused_not_a_500(app, admin, query):
    response = admin.get(f"/feedback/list/?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query", ["page_FeedbackView=-3", "psize_FeedbackView=-10", "psize_FeedbackView=0"]
)
def test_out_of_range_paging_shows_a_page(app, admin, many_rows, query):
    page = admin.get(f"/feedback/list/?{query}").get_data(as_text=True)
    assert 0 < page.count("/feedback/show/") <= MAX_PAGE_SIZE


# --- related drop-downs: searched on the server, never a whole table --------------------

MANY_CUSTOMERS = 5000

# (view, add URL, related columns of its add form)
FORMS = [
    ("ContactView", "/contacts/add", ["customer"]),
    ("ContractView", "/contracts/add", ["customer"]),
    ("ProductView", "/products/add", ["customer"]),
    ("LicenseView", "/licenses/add", ["customer", "product"]),
    ("ReporterView", "/reporters/add", ["customer"]),
    ("FeedbackView", "/feedback/add", ["customer", "reporter", "product", "engineer"]),
]


def add_customers(app, number: int, prefix: str = "Q") -> None:
    """``number`` customers in one Core insert (codes Q00001…, names 批量客户…)."""
    from sqlalchemy import insert

    from app.models import Customer

    with app.app_context():
        db.session.execute(
            insert(Customer.__table__),
            [
                {"code": f"{prefix}{n:05d}", "name": f"批量客户{n}", "status": "signed"}
                for n in range(1, number + 1)
            ],
        )
        db.session.commit()
        db.session.remove()


@pytest.fixture
def many_customers(app):
    add_customers(app, MANY_CUSTOMERS)
    return MANY_CUSTOMERS


def related_json(visitor, url):
    response = visitor.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_json()


@pytest.mark.parametrize("view, add_url, columns", FORMS)
def test_add_form_does_not_load_the_related_tables(app, admin, view, add_url, columns):
    """The same statements and about the same bytes with 1 customer or 5 000."""
    add_customers(app, 1)
    few, few_page = statements_for(app, admin, add_url)
    add_customers(app, MANY_CUSTOMERS, prefix="R")
    many, many_page = statements_for(app, admin, add_url)
    assert few == many, f"{add_url}: {few} statements with 1 customer, {many} with 5 000"
    assert "R00001" not in many_page and "批量客户4999" not in many_page
    assert len(many_page) < len(few_page) + 2000
    for column in columns:
        assert f'data-url="/{add_url.split("/")[1]}/related/{column}"' in many_page


def test_edit_form_offers_only_the_chosen_customer(app, admin, many_customers, db_session):
    from factories import make_contact

    contact = make_contact(name="张三")
    customer = contact.customer
    page = admin.get(f"/contacts/edit/{contact.id}").get_data(as_text=True)
    assert f'<option selected value="{customer.id}">{customer}</option>' in page
    assert "Q00001" not in page and page.count("<option") < 20


def test_feedback_list_search_form_does_not_load_the_related_tables(
    app, admin, many_customers, db_session
):
    from factories import make_feedback

    feedback = make_feedback()
    customer = feedback.customer
    count, page = statements_for(app, admin, "/feedback/list/")
    assert "Q00001" not in page and "批量客户" not in page
    assert len(page) < 200_000
    # A customer filter in the URL shows that customer (only) in the filter row.
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "FeedbackView")
    index = [
        type(f).__name__
        for f in view.datamodel.get_filters(view.search_columns)._search_filters["customer"]
    ].index("FilterRelationOneToManyEqual")
    filtered_count, filtered = statements_for(
        app, admin, f"/feedback/list/?_flt_{index}_customer={customer.id}"
    )
    assert f'selected value=\\"{customer.id}\\"' in filtered  # inside FAB's JSON
    assert "批量客户" not in filtered
    assert filtered.count("/feedback/show/") == 1
    assert filtered_count <= count + 3  # the filter's record and the option shown


@pytest.mark.parametrize("view, list_url, _show", [m for m in MODULES if m[0] != "CustomerView"])
def test_no_list_search_form_loads_the_related_tables(
    app, admin, db_session, view, list_url, _show
):
    """The same statements with 1 customer or 5 000: each search form's relation filters
    are server-searched drop-downs, holding no row."""
    add_customers(app, 1)
    few, few_page = statements_for(app, admin, list_url)
    add_customers(app, MANY_CUSTOMERS, prefix="S")
    many, many_page = statements_for(app, admin, list_url)
    assert few == many, f"{list_url}: {few} statements with 1 customer, {many} with 5 000"
    assert "S00001" not in many_page and "批量客户4999" not in many_page
    assert len(many_page) < len(few_page) + 2000


def test_lookup_returns_one_page_of_matches(app, admin, many_customers):
    first = related_json(admin, "/feedback/related/customer")
    assert len(first["results"]) == 20 and first["pagination"]["more"] is True
    assert first["results"][0]["text"].startswith("Q00001 ")
    second = related_json(admin, "/feedback/related/customer?page=2")
    assert second["results"][0]["text"].startswith("Q00021 ")
    found = related_json(admin, "/feedback/related/customer?q=批量客户4321")
    assert [r["text"] for r in found["results"]] == ["Q04321 批量客户4321"]
    assert found["pagination"]["more"] is False
    by_code = related_json(admin, "/feedback/related/customer?q=q0432")
    assert len(by_code["results"]) == 10  # Q04320…Q04329, case-insensitive
    last = related_json(admin, f"/feedback/related/customer?page={MANY_CUSTOMERS // 20}")
    assert last["pagination"]["more"] is False


def test_lookup_statement_count_does_not_grow_with_the_table(app, admin):
    add_customers(app, 30)
    few, _page = statements_for(app, admin, "/feedback/related/customer?q=批量")
    add_customers(app, MANY_CUSTOMERS, prefix="R")
    many, _page = statements_for(app, admin, "/feedback/related/customer?q=批量")
    assert few == many


@pytest.mark.parametrize("term", ["%", "_", "\\", "' OR 1=1 --", "x" * 500])
def test_lookup_takes_any_text_literally(app, admin, many_customers, term):
    from urllib.parse import quote

    found = related_json(admin, f"/feedback/related/customer?q={quote(term)}")
    assert found["results"] == []


@pytest.mark.parametrize("query", ["page=abc", "page=-1", "page=99999999999", "customer=x"])
def test_lookup_odd_paging_is_not_a_500(app, admin, many_customers, query):
    found = related_json(admin, f"/feedback/related/reporter?{query}")
    assert isinstance(found["results"], list)


def test_lookup_narrows_to_the_chosen_customer(app, admin, db_session):
    from factories import make_customer, make_reporter

    ours, theirs = make_customer(), make_customer()
    make_reporter(customer=ours, name="甲门店人员")
    make_reporter(customer=theirs, name="乙门店人员")
    found = related_json(admin, f"/feedback/related/reporter?customer={ours.id}")
    assert [r["text"].split(" ")[0] for r in found["results"]] == ["甲门店人员"]
    assert len(related_json(admin, "/feedback/related/reporter")["results"]) == 2
    page = admin.get("/feedback/add").get_data(as_text=True)
    assert 'data-depends="customer"' in page


@pytest.mark.parametrize(
    "url",
    ["/feedback/related/problem", "/feedback/related/nothing", "/feedback/related/changed_by"],
)
def test_lookup_only_for_the_forms_relations(app, admin, url):
    assert admin.get(url).status_code == 404


def test_lookup_needs_the_modules_read_permission(app, login_as, visitor, many_customers):
    # sales has no feedback permission at all; engineer reads feedback; nobody signed in: 401
    assert login_as("sales").get("/feedback/related/customer").status_code == 403
    assert login_as("engineer").get("/feedback/related/customer").status_code == 200
    assert login_as("sales").get("/contacts/related/customer").status_code == 200
    assert visitor.get("/feedback/related/customer").status_code == 401


def test_staff_lookup_offers_active_users_only(app, admin, db_session):
    from sqlalchemy import select

    from app.models import CrmUser

    engineer = db_session.scalar(select(CrmUser).where(CrmUser.username == "engineer2"))
    engineer.active = False
    db_session.commit()
    try:
        names = {
            r["text"]
            for r in related_json(admin, "/feedback/related/engineer?q=engineer")["results"]
        }
        assert "engineer user" in names and "engineer2 user" not in names
    finally:
        engineer.active = True
        db_session.commit()


def test_posting_an_id_saves_the_related_record(app, admin, many_customers, db_session):
    from sqlalchemy import func, select

    from app.models import Contact, Customer

    customer = db_session.scalar(select(Customer).where(Customer.code == "Q04321"))
    response = admin.post(
        "/contacts/add",
        data={
            "customer": str(customer.id),
            "name": "李四",
            "phone": "13812345678",
            "status": "active",
        },
    )
    assert response.status_code == 302
    db_session.expire_all()
    contact = db_session.scalar(select(Contact).where(Contact.name == "李四"))
    assert contact.customer_id == customer.id
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1


@pytest.mark.parametrize("value", ["999999999", "abc", "1 OR 1=1", "-5"])
def test_posting_an_unknown_id_is_refused_and_stores_nothing(app, admin, db_session, value):
    from sqlalchemy import func, select

    from app.models import Contact

    response = admin.post(
        "/contacts/add",
        data={"customer": value, "name": "李四", "phone": "13812345678", "status": "active"},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "李四" in page  # the form keeps what was typed
    assert "请从列表中选择客户。" in page  # the field named, and what to do
    assert "请填写客户" not in page
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 0


def test_browser_searches_customers_as_the_user_types(app, live_server, page, many_customers):
    page.goto(f"{live_server}/login/")
    page.fill("#username", "admin")
    from helpers import PASSWORD

    page.fill("#password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.goto(f"{live_server}/contacts/add")
    assert page.locator("#customer option").count() == 1  # only the empty choice
    with page.expect_response(lambda r: "/contacts/related/customer" in r.url):
        page.click("#customer + span.select2")
    with page.expect_response(lambda r: "/contacts/related/customer?q=Q04321" in r.url):
        page.fill(".select2-container--open .select2-search__field", "Q04321")
    page.click(".select2-results__option:has-text('批量客户4321')")
    assert page.eval_on_selector("#customer", "el => el.selectedOptions[0].text") == (
        "Q04321 批量客户4321"
    )
    assert page.locator("#customer option").count() <= 3


# --- sorting by the related customer: one query, in the customer's code order ------------

CUSTOMER_SORTED = [
    ("ContactView", "contacts", "contact"),
    ("ContractView", "contracts", "contract"),
    ("ProductView", "products", "product"),
    ("LicenseView", "licenses", "license"),
    ("ReporterView", "reporters", "reporter"),
    ("FeedbackView", "feedback", "feedback"),
]


def _shown_ids(page: str, base: str) -> list[int]:
    import re

    ids = [int(pk) for pk in re.findall(rf'href="/{base}/show/(\d+)', page)]
    return list(dict.fromkeys(ids))


@pytest.mark.parametrize("view, base, table", CUSTOMER_SORTED)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_lists_sort_by_customer_in_one_query(app, admin, many_rows, view, base, table, direction):
    from sqlalchemy import text

    default_count, page = statements_for(app, admin, f"/{base}/list/?psize_{view}=50")
    assert f"_oc_{view}=customer.code" in page  # the customer header is a sort link
    url = f"/{base}/list/?psize_{view}=50&_oc_{view}=customer.code&_od_{view}={direction}"
    with counting_statements(app) as statements:
        page = admin.get(url).get_data(as_text=True)
    assert len(statements) == default_count
    listing = [s for s in statements if "ORDER BY customer.code" in s]
    assert len(listing) == 1 and "LEFT OUTER JOIN customer AS customer " not in listing[0]
    with app.app_context():
        expected = db.session.scalars(
            text(
                f"SELECT {table}.id FROM {table} JOIN customer ON customer.id = {table}.customer_id "
                f"ORDER BY customer.code {direction}, {table}.id {direction} LIMIT 50"
            )
        ).all()
        db.session.remove()
    assert _shown_ids(page, base) == expected


def test_the_export_follows_the_customer_sort(app, admin, many_rows):
    from io import BytesIO

    from openpyxl import load_workbook

    response = admin.get("/contacts/export.xlsx?_oc_ContactView=customer.code&_od_ContactView=desc")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    column = [str(label) for label in rows[0]].index("客户")
    codes = [row[column].split(" ")[0] for row in rows[1:] if row[column]]
    assert len(codes) > 100 and codes == sorted(codes, reverse=True)


def _related_feedback(page: str) -> tuple[int, int]:
    """(record count shown, rows) of the feedback tab of a customer's page."""
    import re

    tab = page.split('id="FeedbackView"', 1)[1].split('class="tab-pane', 2)[1]
    count = re.search(r"记录数目:</strong>\s*(\d+)", tab)
    return int(count.group(1)), tab.count('href="/feedback/show/')


def test_a_related_list_reads_its_count_with_its_rows(app, db_session, admin):
    """One statement per related list, the count right on every page, even past the last."""
    from factories import make_customer, make_feedback, make_reporter

    customer = make_customer()
    reporter = make_reporter(customer)
    for _n in range(30):
        make_feedback(reporter)
    make_feedback(make_reporter())  # another customer's: not counted
    url = f"/customers/show/{customer.id}"
    with counting_statements(app) as statements:
        first = admin.get(url).get_data(as_text=True)
    related_list = [s for s in statements if "feedback.id AS feedback_id" in s]
    assert len(related_list) == 1  # its count and its rows together
    assert "count(*)" in related_list[0] and "LIMIT" in related_list[0]
    assert _related_feedback(first) == (30, 25)
    assert _related_feedback(admin.get(f"{url}?page_FeedbackView=1").get_data(as_text=True)) == (
        30,
        5,
    )
    beyond = admin.get(f"{url}?page_FeedbackView=7").get_data(as_text=True)
    assert _related_feedback(beyond) == (30, 0)
