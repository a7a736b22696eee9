"""List and show pages at scale: the CRM beside raw SQL and beside stock Flask-AppBuilder.

    .venv/bin/python bench/list_bench.py                      # 200 000 feedback rows
    .venv/bin/python bench/list_bench.py --feedback 1000000   # the issue's figure

Each case is one page through the real app's test client, signed in as admin:
the median of ``--repeat`` requests and its SQL statement count. Beside it,
in the same run and on the same database:

* raw SQL: the statements that fetch the same page (count + rows + the names
  shown), through the same engine, no ORM: the practical limit;
* stock FAB: a ``ModelView`` of the same model with default settings
  (``datamodel`` only), asked for the same sort and filter;

The CRM's related-record drop-downs (forms and search filters) search on the
server (app/views/ajax_select.py), so its pages carry no whole related table.

The first run builds the database (``crm demo``); later runs reuse it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TEXT = "打印"  # a word of many demo problems ("…无法打印小票", "…打印错位")


# --- the bench-only pages -------------------------------------------------------


def register_bench_views(appbuilder) -> None:
    """Stock FAB views of the seven models."""
    from flask_appbuilder import ModelView
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    from app.models import Contact, Contract, Customer, Feedback, License, Product, Reporter

    def stock(model, route, **extra):
        attrs = {"datamodel": SQLAInterface(model), "route_base": route, **extra}
        return type(f"Stock{model.__name__}View", (ModelView,), attrs)

    children = [
        stock(Contact, "/stock/contacts"),
        # Its money columns are query expressions, which stock FAB can neither
        # filter nor put in a form.
        stock(
            Contract,
            "/stock/contracts",
            **{
                f"{form}_exclude_columns": ["received", "outstanding"]
                for form in ("search", "add", "edit")
            },
        ),
        stock(Product, "/stock/products"),
        stock(License, "/stock/licenses"),
        stock(Feedback, "/stock/feedback"),
        stock(Reporter, "/stock/reporters"),
    ]
    for view in children:
        appbuilder.add_view_no_menu(view)
    appbuilder.add_view_no_menu(stock(Customer, "/stock/customers", related_views=children))


# --- the cases ------------------------------------------------------------------------


def filter_arg(app, view_name: str, column: str, filter_class: str, value) -> str:
    """FAB's ``_flt_<index>_<column>=value`` for a view's filter, by the filter's class."""
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == view_name)
    filters = view.datamodel.get_filters(view.search_columns)._search_filters[column]
    index = next(i for i, f in enumerate(filters) if type(f).__name__ == filter_class)
    return f"_flt_{index}_{column}={value}"


def raw_feedback_page(where: str = "") -> list[str]:
    """Count and the 25 newest rows, with the customer's and engineer's names shown."""
    return [
        f"SELECT count(*) FROM feedback f {where}",
        "SELECT f.id, f.problem, f.level, f.status, f.created_at, f.city, f.store, "
        "c.code, c.name, u.first_name, u.last_name, u.username "
        "FROM feedback f JOIN customer c ON c.id = f.customer_id "
        f"LEFT JOIN ab_user u ON u.id = f.engineer_id {where} "
        "ORDER BY f.created_at DESC, f.id DESC LIMIT 25 OFFSET 0",
    ]


def raw_customer_show(customer_id: int) -> list[str]:
    """The customer and the first page of each of its six related lists."""
    c = int(customer_id)
    statements = [f"SELECT * FROM customer WHERE id = {c}"]
    related = {
        "contact": ("SELECT t.* FROM contact t", "t.id DESC"),
        "contract": ("SELECT t.* FROM contract t", "t.sign_date DESC, t.id DESC"),
        "product": ("SELECT t.* FROM product t", "t.created_date DESC, t.id DESC"),
        "license": (
            "SELECT t.*, p.name, p.version FROM license t JOIN product p ON p.id = t.product_id",
            "t.valid_to ASC, t.id ASC",
        ),
        "feedback": (
            "SELECT t.*, u.first_name, u.username FROM feedback t "
            "LEFT JOIN ab_user u ON u.id = t.engineer_id",
            "t.created_at DESC, t.id DESC",
        ),
        "reporter": ("SELECT t.* FROM reporter t", "t.id DESC"),
    }
    for table, (select, order) in related.items():
        statements.append(f"SELECT count(*) FROM {table} WHERE customer_id = {c}")
        statements.append(f"{select} WHERE t.customer_id = {c} ORDER BY {order} LIMIT 25")
    return statements


def cases(app, busiest_customer: int, like: str):
    """(label, CRM url, stock url, raw statements)."""
    sort = "_oc_{v}=created_at&_od_{v}=desc"
    status = {
        v: filter_arg(app, v, "status", "FilterEqual", "new")
        for v in ("FeedbackView", "StockFeedbackView")
    }
    customer = {
        v: filter_arg(app, v, "customer", "FilterRelationOneToManyEqual", busiest_customer)
        for v in ("FeedbackView", "StockFeedbackView")
    }
    text = {
        v: filter_arg(app, v, "problem", "FilterContains", TEXT)
        for v in ("FeedbackView", "StockFeedbackView")
    }
    stock_sort = sort.format(v="StockFeedbackView")
    return [
        (
            "feedback list, default sort",
            "/feedback/list/",
            f"/stock/feedback/list/?{stock_sort}",
            raw_feedback_page(),
        ),
        (
            "feedback list, status = new",
            f"/feedback/list/?{status['FeedbackView']}",
            f"/stock/feedback/list/?{status['StockFeedbackView']}&{stock_sort}",
            raw_feedback_page("WHERE f.status = 'new'"),
        ),
        (
            f"feedback list, customer #{busiest_customer}",
            f"/feedback/list/?{customer['FeedbackView']}",
            f"/stock/feedback/list/?{customer['StockFeedbackView']}&{stock_sort}",
            raw_feedback_page(f"WHERE f.customer_id = {int(busiest_customer)}"),
        ),
        (
            f"feedback list, problem contains '{TEXT}'",
            f"/feedback/list/?{text['FeedbackView']}",
            f"/stock/feedback/list/?{text['StockFeedbackView']}&{stock_sort}",
            raw_feedback_page(f"WHERE f.problem {like} '%{TEXT}%'"),
        ),
        (
            f"customer #{busiest_customer} show page",
            f"/customers/show/{busiest_customer}",
            f"/stock/customers/show/{busiest_customer}",
            raw_customer_show(busiest_customer),
        ),
    ]


# --- measuring ----------------------------------------------------------------------


def measure_page(app, client, engine, url: str, repeat: int) -> tuple[float, int, int, float]:
    """(median ms, SQL statements, bytes, median ms spent in SQL) of a GET."""
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    with common.counting_queries(engine) as statements:
        response = client.get(url)
    queries, size = len(statements), len(response.data)
    sql_times = []
    for _n in range(repeat):
        with common.timing_queries(engine) as durations:
            client.get(url)
        sql_times.append(sum(durations))
    return (
        common.median_ms(lambda: client.get(url), repeat),
        queries,
        size,
        statistics.median(sql_times),
    )


def measure_raw(engine, statements: list[str], repeat: int) -> float:
    if engine.dialect.paramstyle in ("format", "pyformat"):  # psycopg: % starts a parameter
        statements = [statement.replace("%", "%%") for statement in statements]

    def run():
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement).fetchall()

    return common.median_ms(run, repeat)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10, help="requests per median")
    parser.add_argument("--scope-only", action="store_true", help="only the data-scope comparison")
    args = parser.parse_args(argv)

    url = common.database_url(args.customers, args.feedback, args.seed)
    common.ensure_database(url, args.customers, args.feedback, args.seed)
    app = common.make_app(url, extra_views=register_bench_views)
    client = common.signed_in_client(app)
    if args.scope_only:
        from app.extensions import db

        with app.app_context():
            engine = db.engine
        scoped_pages(app, client, engine, args.repeat)
        return

    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Feedback

    with app.app_context():
        engine = db.engine
        busiest = db.session.execute(
            select(Feedback.customer_id, func.count())
            .group_by(Feedback.customer_id)
            .order_by(func.count().desc())
            .limit(1)
        ).first()
        total = db.session.scalar(select(func.count()).select_from(Feedback))
        db.session.remove()
    like = "ILIKE" if engine.dialect.name == "postgresql" else "LIKE"

    print(
        f"{engine.dialect.name}, {total} feedback rows; busiest customer #{busiest[0]} "
        f"has {busiest[1]}; median of {args.repeat} requests"
    )
    header = (
        f"{'case':44} {'CRM ms':>8} {'q':>3} {'in SQL':>7} {'raw ms':>7} {'CRM/raw':>8} "
        f"{'SQL/raw':>8} {'stock ms':>9} {'q':>4} {'stock/CRM':>9} {'CRM KB':>7} "
        f"{'stock KB':>8}"
    )
    print(header)
    rows = []
    for label, crm_url, stock_url, raw in cases(app, busiest[0], like):
        crm_ms, crm_q, crm_size, crm_sql = measure_page(app, client, engine, crm_url, args.repeat)
        raw_ms = measure_raw(engine, raw, args.repeat)
        stock_ms, stock_q, stock_size, _sql = measure_page(
            app, client, engine, stock_url, args.repeat
        )
        rows.append((label, crm_ms, crm_q, raw_ms, stock_ms, stock_q, crm_size, stock_size))
        print(
            f"{label:44} {crm_ms:8.1f} {crm_q:3d} {crm_sql:7.1f} {raw_ms:7.1f} "
            f"{crm_ms / raw_ms:7.1f}x {crm_sql / raw_ms:7.1f}x "
            f"{stock_ms:9.1f} {stock_q:4d} {stock_ms / crm_ms:8.1f}x "
            f"{crm_size // 1024:7d} {stock_size // 1024:8d}"
        )

    sizes = {}
    for size in (10, 100):
        with common.counting_queries(engine) as statements:
            client.get(f"/feedback/list/?psize_FeedbackView={size}")
        sizes[size] = len(statements)
    print(f"feedback list SQL statements at page size 10: {sizes[10]}, at 100: {sizes[100]}")
    future = filter_arg(app, "FeedbackView", "created_at", "FilterGreater", "2100-01-01")
    empty_ms = measure_page(app, client, engine, f"/feedback/list/?{future}", args.repeat)[0]
    print(f"fixed cost of a list page (feedback list matching no row): {empty_ms:.1f} ms")
    for form in ("/feedback/add", "/stock/feedback/add"):
        ms, queries, size, _sql = measure_page(app, client, engine, form, args.repeat)
        print(f"{form}: {ms:.1f} ms, {queries} SQL statements, {size // 1024} KB")
    scoped_pages(app, client, engine, args.repeat)
    print("machine:", ", ".join(f"{k} {v}" for k, v in common.machine().items()))


SCOPED_USER = "demo_sales11"  # a salesperson of 华东区 (app/services/demo.py)


def scoped_user(app) -> None:
    """Give the bench a salesperson who reads feedback too, in the narrowest scope (仅本人).

    A database built before data scopes has no owners: its customers are
    shared out among the demo salespeople first.
    """
    from sqlalchemy import func, select, update

    from app.extensions import db
    from app.models import CrmUser, Customer, DataScope
    from app.services import demo, scope

    with app.app_context():
        sm = app.appbuilder.sm
        owners = demo.sales_owner_ids(common.ADMIN_PASSWORD)
        if not db.session.scalar(select(func.count()).where(Customer.owner_id.is_not(None))):
            for index, owner in enumerate(owners):
                db.session.execute(
                    update(Customer)
                    .where(func.mod(Customer.id, len(owners)) == index)
                    .values(owner_id=owner)
                )
        support = sm.find_role(app.config["CRM_ROLE_NAMES"]["support"])
        role = sm.find_role("bench: support, own customers") or sm.add_role(
            "bench: support, own customers", list(support.permissions)
        )
        scope.set_scope(role, DataScope.own)
        user = db.session.scalar(select(CrmUser).where(CrmUser.username == SCOPED_USER))
        if role not in user.roles:
            user.roles.append(role)
        db.session.commit()
        db.session.remove()


def scoped_pages(app, admin_client, engine, repeat: int) -> None:
    """The same lists for the admin (全部) and a salesperson (仅本人): time and SQL count."""
    scoped_user(app)
    sales = common.signed_in_client(app, SCOPED_USER)
    print(f"data scope: admin (all) beside {SCOPED_USER} (own customers only)")
    for label, url in (
        ("feedback list", "/feedback/list/"),
        ("feedback page 20", "/feedback/list/?page_FeedbackView=20"),
        ("customer list", "/customers/list/"),
    ):
        admin_ms, admin_q, _size, admin_sql = measure_page(app, admin_client, engine, url, repeat)
        own_ms, own_q, _size, own_sql = measure_page(app, sales, engine, url, repeat)
        print(
            f"  {label:16} admin {admin_ms:6.1f} ms (SQL {admin_sql:5.1f}) {admin_q:2d} q   "
            f"own {own_ms:6.1f} ms (SQL {own_sql:5.1f}) {own_q:2d} q   "
            f"own/admin {own_ms / admin_ms:4.2f}x"
        )


if __name__ == "__main__":
    main()
